"""Bad input, at the command line: one line on stderr naming what was wrong and what is
allowed, exit status 2, before any work and with nothing written. (The same rules from Python,
ConfigError: tests/test_structure.py; a saved model's play options: tests/test_keras_ux.py.)"""

import os
import time
from pathlib import Path

import pytest

from tests import programs
from tests.programs import error_line, error_lines


def run(program, *args, env=None):
    return programs.run(*args, program=program, env=env)


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


@pytest.mark.parametrize(
    "program, args, message",
    [
        ("a3c_cartpole.py", ["--lr=abc"], "flag --lr=abc: could not convert string to float"),
        ("a3c_cartpole.py", ["--train", "--max-eps=-1"], "flag --max_eps=-1: must be >= 0"),
        (
            "a3c_cartpole.py",
            ["--train", "--max-eps=0"],
            "flag --max_eps=0 and --max_steps=0: the run needs a budget",
        ),
        ("a3c_cartpole.py", ["--train", "--gamma=0"], "flag --gamma=0.0: must be in (0, 1]"),
        (
            "a3c_cartpole.py",
            ["--train", "--env=CartPol-v1"],
            "unknown env id 'CartPol-v1'; did you mean CartPole-v1",
        ),
        ("a3c_cartpole.py", ["--episodes=1"], "no saved model at"),
        ("a2c_cartpole.py", ["--train", "--num-envs=0"], "flag --num_envs=0: must be >= 1"),
        (
            "a2c_cartpole.py",
            ["--train", "--vector-mode=native", "--env=Acrobot-v1"],
            "has no native vector env",
        ),
        (
            "a2c_cartpole.py",
            ["--train", "--gae-lambda=2"],
            "flag --gae_lambda=2.0: must be in [0, 1]",
        ),
        ("a3c_cartpole.py", ["--resume"], "--resume continues a training run: add --train"),
        ("a3c_cartpole.py", ["--train", "--record=x.gif"], "--record is for playing the saved"),
        ("a2c_cartpole.py", ["--evaluate", "--record=x.gif"], "it does nothing with --evaluate"),
        ("a3c_cartpole.py", ["--train", "--render=human"], "--render is for playing the saved"),
        ("a3c_cartpole.py", ["--train", "--episodes=3"], "--episodes is for playing"),
        ("a3c_cartpole.py", ["--train", "--model=m.keras"], "--model names a saved model"),
        (
            "a3c_cartpole.py",
            ["--export=m.keras", "--record=x.gif"],
            "it does nothing with --export",
        ),
        ("a3c_cartpole.py", ["--algorithm=random", "--export=m.keras"], "--export does nothing"),
        ("a3c_cartpole.py", ["--train", "--export=model.h5"], "--export=model.h5: the file must"),
        ("a3c_cartpole.py", ["--export=model.h5"], "--export=model.h5: the file must end in"),
        ("a3c_cartpole.py", ["--evaluate", "--export=m.h5"], "--export=m.h5: the file must end in"),
        ("a3c_cartpole.py", ["--record=play.avi"], "the file must end in .gif or .mp4"),
        (
            "a2c_cartpole.py",
            ["--train", "--num-envs=100000", "--max-steps=20000"],
            "--max_steps=20000 is less than one rollout of 800000 env steps",
        ),
        (
            "a3c_cartpole.py",
            ["--train", "--workers=1", "--update-freq=100000000"],
            "a rollout of 100000000 env steps",
        ),
        (
            "a2c_cartpole.py",
            ["--train", "--update-freq=100000000", "--max-steps=1000000000"],
            "would need about",
        ),
        ("a3c_cartpole.py", ["--train", "--hidden-units=2000000000"], "weights would need about"),
        ("a3c_cartpole.py", ["--train", "--workers=100000"], "--workers=100000: each worker"),
        (
            "a3c_cartpole.py",
            ["--train", "--backend=ray", "--workers=100000"],
            "--workers=100000: on a local Ray each worker is a process of about",
        ),
        (
            "a2c_cartpole.py",
            ["--train", "--seed=4294967296"],
            "flag --seed=4294967296: must be in [0, 2147483647]",
        ),
        (
            "a2c_cartpole.py",
            ["--train", "--env=tests.faulty_envs:NoThreshold-v0", "--stop-at-threshold"],
            "has no reward threshold to stop at",
        ),
    ],
)
def test_bad_input_is_one_line_before_any_work(tmp_path, program, args, message):
    os.chdir(tmp_path)  # relative output paths land here, if anything were written
    result = run(program, *args, f"--save_dir={tmp_path}/out")
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in error_line(result)
    assert files_under(tmp_path) == []


def test_output_paths_are_checked_before_playing_or_training(tmp_path):
    (tmp_path / "file").write_text("in the way")
    (tmp_path / "dir.keras").mkdir()
    cases = [
        (["--record", f"{tmp_path}/file/sub/play.gif"], "cannot be created"),
        (["--train", f"--export={tmp_path}/file/model.keras"], "cannot be created"),
        (["--train", f"--export={tmp_path}/dir.keras"], "is a directory"),
        (["--train", f"--save_dir={tmp_path}/file"], "is a file, not a directory"),
        (["--train", "--save_dir="], "--save_dir is empty: name a directory"),
    ]
    for args, message in cases:
        started = time.perf_counter()
        result = run("a2c_cartpole.py", f"--save_dir={tmp_path}/out", *args)
        assert result.returncode == 2, result.stderr[-2000:]
        assert message in error_line(result)
        assert time.perf_counter() - started < 60  # no training, no playing first
    assert files_under(tmp_path) == ["dir.keras", "file"]


def test_play_without_a_model_says_how_to_train_one(tmp_path):
    result = run("a3c_cartpole.py", f"--save_dir={tmp_path}")
    assert result.returncode == 2
    assert "python a3c_cartpole.py --train" in error_lines(result)[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--env=tests.faulty_envs:DictActions-v0"],
            "supported: Discrete (a categorical policy), flat (1-D) Box (a Gaussian policy), "
            "one-dimensional MultiDiscrete (independent categoricals) and MultiBinary",
        ),
        (
            ["--env=tests.faulty_envs:ImageInDict-v0"],
            "(an image at ['frame'] (images only as the whole observation) is not supported); "
            "supported: flat (1-D) Box (a dense trunk) and uint8 images",
        ),
        (["--env=nomodule:CartPole-v1"], "cannot import 'nomodule'"),
        (["--lr=-1"], "flag --lr=-1.0: must be > 0"),
        (["--workers=0"], "flag --workers=0: must be >= 1"),
        (["--entropy-coef=-0.1"], "flag --entropy_coef=-0.1: must be >= 0"),
        (["--update-freq=0"], "flag --update_freq=0: must be >= 1"),
        (["--max-eps=ten"], "flag --max_eps=ten: invalid literal for int()"),
        (["--resume"], "--resume: no checkpoint to resume in"),
    ],
)
def test_bad_training_input(tmp_path, args, message):  # checked the same with A3C's flags
    result = run("a3c_cartpole.py", "--train", *args, f"--save_dir={tmp_path}/out")
    assert result.returncode == 2
    assert message in error_line(result)
    assert not (tmp_path / "out").exists()


def test_a_save_dir_that_cannot_be_created(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    result = run("a2c_cartpole.py", "--train", f"--save_dir={tmp_path}/file/out")
    assert result.returncode == 2
    line = error_line(result)
    assert f"--save_dir={tmp_path}/file/out cannot be created: {tmp_path}/file is a file" in line


@pytest.mark.parametrize(
    "args, message",
    [
        (["--ray-address=auto"], "--ray_address=auto: it needs --backend=ray"),
        (["--backend=ray", "--envs-per-worker=0"], "flag --envs_per_worker=0: must be >= 1"),
        (["--backend=ray", "--ray-address=127.0.0.1:1"], "no Ray cluster answers there"),
        (["--backend=ray", "--ray-address=nohost"], "no Ray cluster answers there"),
        (["--backend=processes"], "flag --backend=processes: must be one of threads, ray"),
    ],
)
def test_bad_ray_input_gets_one_line_and_status_2(tmp_path, args, message):
    pytest.importorskip("ray")  # requirements-test.txt installs it: CI runs these
    start = time.perf_counter()
    result = run("a3c_cartpole.py", "--train", *args, f"--save_dir={tmp_path}/out")
    assert result.returncode == 2
    assert message in error_line(result)
    assert time.perf_counter() - start < 60  # no hang on an unreachable cluster
    assert not (tmp_path / "out").exists()
