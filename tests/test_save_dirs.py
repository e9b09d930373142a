"""A save dir that already holds something, paths a run cannot write, names too long: each
refused before training (one line, exit 2, nothing written), through the real command line."""

import os
from pathlib import Path

import pytest

from tests.programs import error_line, run
from utils.checkpoint import run_files


def files_under(path: Path) -> dict[str, int]:
    """Each file under ``path`` and its modification time (ns)."""
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()}


def train(save_dir, *extra, env="CartPole-v1"):
    return run(
        "--train",
        f"--env={env}",
        "--max-steps=1024",
        "--eval-episodes=2",
        f"--save_dir={save_dir}",
        *extra,
        program="a2c_cartpole.py",
    )


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A save dir where a short A2C run on CartPole finished."""
    save_dir = tmp_path_factory.mktemp("finished")
    result = train(save_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    return save_dir


def test_a_new_training_in_a_save_dir_with_a_finished_run_is_refused_and_changes_nothing(
    finished_run,
):
    before = files_under(finished_run)
    result = train(finished_run)
    assert result.returncode == 2
    line = error_line(result)
    assert f"--save_dir={finished_run} already holds a run on CartPole-v1" in line
    assert "checkpoints up to ckpt-1" in line and "model_CartPole-v1.weights.h5" in line
    assert "--resume" in line and "--overwrite" in line
    assert files_under(finished_run) == before


def test_only_the_runs_on_the_same_env_count(finished_run, tmp_path):
    # A run on another env writes other files: it may share the save dir.
    result = run(
        "--train",
        "--env=Acrobot-v1",
        "--max-steps=1024",
        "--eval-episodes=2",
        f"--save_dir={finished_run}",
        "--overwrite",  # the refusal is about this env's files only: nothing here to remove
        program="a2c_cartpole.py",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "removed" not in result.stderr
    assert (finished_run / "model_CartPole-v1.weights.h5").is_file()
    assert (finished_run / "model_Acrobot-v1.weights.h5").is_file()


def test_a_killed_run_that_left_only_checkpoints_counts_as_a_run(tmp_path):
    checkpoints = run_files(tmp_path, "CartPole-v1").checkpoints
    checkpoints.mkdir()
    for name in ("checkpoint", "ckpt-7.index", "ckpt-7.data-00000-of-00001"):
        (checkpoints / name).write_text("")
    result = train(tmp_path)
    assert result.returncode == 2
    assert "already holds a run on CartPole-v1 (checkpoints up to ckpt-7)" in error_line(result)


def test_overwrite_starts_afresh_and_a_resume_then_reads_only_the_new_run(tmp_path):
    save_dir = tmp_path / "run"
    assert train(save_dir, "--max-steps=2048").returncode == 0
    checkpoints = run_files(save_dir, "CartPole-v1").checkpoints
    first = sorted(p.name for p in checkpoints.glob("ckpt-*.index"))
    assert first  # the earlier run's checkpoints (ckpt-2 or more)
    result = train(save_dir, "--overwrite")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--overwrite: removed the earlier run's checkpoints_CartPole-v1" in result.stderr
    assert sorted(p.name for p in checkpoints.glob("ckpt-*.index")) == ["ckpt-1.index"]
    resumed = train(save_dir, "--resume", "--max-steps=2048")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # It continued the new run (1024 env steps), to the budget: 1024 more.
    assert ", 2048 env steps in" in resumed.stdout


@pytest.mark.parametrize(
    "flags, expected",
    [
        (("--overwrite", "--resume"), "--overwrite starts afresh and --resume continues"),
        (("--overwrite",), "--overwrite replaces a run in --save_dir by a new one: add --train"),
    ],
)
def test_overwrite_with_what_it_contradicts_is_refused(tmp_path, flags, expected):
    args = ("--train", *flags) if "--resume" in flags else flags
    result = run(*args, f"--save_dir={tmp_path}", program="a2c_cartpole.py")
    assert result.returncode == 2
    assert expected in error_line(result)


def block(save_dir: Path, what: str) -> Path:
    """Puts a directory where the run writes a file, or a file where it keeps a directory."""
    files = run_files(save_dir, "CartPole-v1")
    path = {
        "model": files.model,
        "episodes": files.episodes,
        "plot": files.plot,
        "state_file": files.state_file,
        "checkpoints": files.checkpoints,
        "logs": files.logs,
        "lock": save_dir / ".run.lock",
    }[what]
    if what in ("checkpoints", "logs"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("in the way")
    else:
        path.mkdir(parents=True)
    return path


@pytest.mark.parametrize(
    "what, says",
    [
        ("model", "is a directory where the run writes its model"),
        ("episodes", "is a directory where the run writes its episode log"),
        ("plot", "is a directory where the run writes its plot"),
        ("state_file", "is a directory where the run writes its checkpoint state file"),
        ("checkpoints", "is a file where the run keeps its checkpoints"),
        ("logs", "is a file where the run keeps TensorBoard's logs"),
        ("lock", "is a directory where the run writes its lock (one training run at a time)"),
    ],
)
def test_a_blocked_path_in_the_save_dir_is_refused_before_training(tmp_path, what, says):
    path = block(tmp_path, what)
    before = files_under(tmp_path)
    result = train(tmp_path)
    assert result.returncode == 2
    line = error_line(result)
    assert f"{path} {says}" in line and "move it away" in line
    assert files_under(tmp_path) == before  # nothing written, not even TensorBoard's logs
    assert not (tmp_path / "logs").is_dir() or what == "logs"


def test_a_checkpoint_directory_that_cannot_be_written_is_refused(tmp_path, monkeypatch):
    checkpoints = run_files(tmp_path, "CartPole-v1").checkpoints
    checkpoints.mkdir()
    access = os.access  # as for a user without write permission there (root may write anyway)
    monkeypatch.setattr(os, "access", lambda path, mode: access(path, mode) and path != checkpoints)
    result = train(tmp_path)
    assert result.returncode == 2
    assert f"{checkpoints} is not writable" in error_line(result)


def test_an_empty_state_file_with_no_checkpoint_is_removed_and_the_run_trains(tmp_path):
    state = run_files(tmp_path, "CartPole-v1").state_file
    state.parent.mkdir()
    state.write_text("")
    result = train(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "was damaged" in result.stderr and "no checkpoint is there: removed" in result.stderr
    assert (state.parent / "ckpt-1.index").is_file()


LONG = "n" * 250


@pytest.mark.parametrize(
    "args, flag",
    [
        (("--train", f"--save_dir={{tmp}}/{'d' * 300}"), "--save_dir"),
        (("--train", "--save_dir={tmp}/run", f"--export={{tmp}}/{LONG}.keras"), "--export"),
        ((f"--record={{tmp}}/{LONG}.gif",), "--record"),
    ],
)
def test_a_name_longer_than_the_file_system_takes_is_refused_before_any_work(tmp_path, args, flag):
    args = [arg.format(tmp=tmp_path) for arg in args]
    result = run(*args, "--max-steps=1024", program="a2c_cartpole.py")
    assert result.returncode == 2
    line = error_line(result)
    assert f"{flag}: the name" in line and "is too long: file names may have 255 bytes" in line
    assert list(tmp_path.iterdir()) == []


def test_an_env_id_too_long_for_the_run_s_file_names_is_refused_before_training(tmp_path):
    env = "tests.faulty_envs:A" + "x" * 240 + "-v0"  # model_<id>.weights.h5 passes 255 bytes
    result = train(tmp_path, env=env)
    assert result.returncode == 2
    line = error_line(result)
    assert "is too long" in line and "give a shorter --save_dir or env id" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["checkpoints_CartPole-v1", "logs", None])
def test_a_symbolic_link_to_nowhere_is_refused_before_training(tmp_path, where):
    save_dir = tmp_path / "run"
    if where is None:  # the save dir itself
        save_dir.symlink_to(tmp_path / "nowhere")
        link = save_dir
    else:
        save_dir.mkdir()
        link = save_dir / where
        link.symlink_to(tmp_path / "nowhere")
    result = train(save_dir)
    assert result.returncode == 2
    assert f"{link} is a symbolic link to {tmp_path / 'nowhere'}, which is not there" in (
        error_line(result)
    )
    assert not (tmp_path / "nowhere").exists()


def test_a_save_dir_name_that_is_not_utf8_is_refused_before_anything_is_made(tmp_path):
    name = os.fsdecode(b"a\xffb")  # what a shell passes for such a name
    result = train(tmp_path / name)
    assert result.returncode == 2
    assert "is not UTF-8: TensorFlow's file functions take UTF-8 names only" in error_line(result)
    assert list(tmp_path.iterdir()) == []
