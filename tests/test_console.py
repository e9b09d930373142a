"""What a user sees: plain lines, no library notices, --help that succeeds."""

import re
import subprocess
import sys

import pytest

from tests import programs

pytestmark = pytest.mark.slow  # each a fresh process: its console is what is tested


def run(*args, **options):
    """The program as a process: what its console shows is what is tested."""
    return programs.run(*args, process=True, **options)


NOTICES = (
    "oneDNN",
    "absl::InitializeLog",
    "cpu_feature_guard",
    "Sharding callback",
    "pygame",
    "XDG_RUNTIME_DIR",
    "Hello from the pygame community",
)
ABSL_PREFIX = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+:\d+\]", re.MULTILINE)


def assert_clean(result):
    output = result.stdout + result.stderr
    assert not ABSL_PREFIX.search(output), output[-3000:]
    for notice in NOTICES:
        assert notice not in output, (notice, output[-3000:])


def test_training_prints_plain_progress_lines_and_no_library_notices(tmp_path):
    result = run(
        "--train",
        "--max_eps=60",
        "--workers=2",
        "--checkpoint_every=5",  # several checkpoints: TensorFlow's notice came with each
        "--eval_interval=2000",
        f"--save_dir={tmp_path}",
        check=True,
    )
    assert_clean(result)
    progress = [line for line in result.stderr.splitlines() if line.startswith("episode ")]
    assert progress, result.stderr[-3000:]
    first = progress[0]
    assert "nan" not in first and "ETA ?" not in first, first
    assert re.match(r"episode \d+/60 \(\d+%\) \| moving avg [\d.]+ \| \d+ steps/s \| ETA", first)
    assert "greedy return over 100 episodes" in result.stdout


def test_recording_prints_no_sdl_or_pygame_notice(tmp_path):
    run("--train", "--max_eps=4", "--workers=1", f"--save_dir={tmp_path}", check=True)
    result = run(f"--save_dir={tmp_path}", f"--record={tmp_path}/play.gif", check=True)
    assert_clean(result)
    assert (tmp_path / "play.gif").stat().st_size > 0


def test_a_warning_is_said_once_and_plainly(tmp_path):
    run("--train", "--max_eps=4", "--workers=1", f"--save_dir={tmp_path}", check=True)
    result = run(f"--save_dir={tmp_path}", "--lr=0.5", "--evaluate", "--eval_episodes=2")
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [line for line in result.stderr.splitlines() if "--lr" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: "), result.stderr


@pytest.mark.parametrize("flag", ["--help", "--helpshort", "-h", "--helpfull"])
def test_help_exits_0_and_lists_the_flags_and_verbosity(flag):
    result = run(flag, program="a2c_cartpole.py")
    assert result.returncode == 0, result.stderr
    assert "--num_envs" in result.stdout and "--verbosity" in result.stdout


def test_importing_the_api_prints_nothing_where_tensorflow_logs_as_it_would():
    # A user's shell: TF_CPP_MIN_LOG_LEVEL unset (tests/programs.py sets it for the others), so
    # TensorFlow's C++ start-up notices are written, and caught.
    env = programs.environment()
    del env["TF_CPP_MIN_LOG_LEVEL"]
    result = subprocess.run(
        [sys.executable, "-c", "import a3c_keras"],
        cwd=programs.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout == ""


def test_a_line_that_is_no_notice_written_while_tensorflow_loads_is_passed_on(tmp_path):
    # A stand-in TensorFlow whose loading writes a start-up notice and an error straight to
    # file descriptor 2, as its C++ code does.
    for name in ("tensorflow", "keras"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(
            "import os\n"
            "os.write(2, b'I0000 cpu_feature_guard.cc:227] This TensorFlow binary is optimized "
            f"to use available CPU instructions\\nE0000 loader.cc:1] {name}: cannot load x.so"
            "\\n')\n"
        )
    result = subprocess.run(
        [sys.executable, "-c", "from utils.logs import import_tensorflow; import_tensorflow()"],
        cwd=programs.ROOT,
        env=programs.environment({"PYTHONPATH": str(tmp_path)}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "E0000 loader.cc:1] keras: cannot load x.so",
        "E0000 loader.cc:1] tensorflow: cannot load x.so",
    ]
