"""Hardening: one run per save dir, damaged checkpoints, faults (bad input: test_bad_input.py).

Each case runs the real command line and asserts one line on stderr, the exit status, and that
nothing was written (or that the last good files are intact).
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from models import ActorCriticModel
from tests import programs
from tests.programs import ROOT, error_line, start
from training.episode_log import EpisodeLog
from training.state import TrainingState
from training.summaries import progress_line, run_directory
from utils.checkpoint import load_weights


def run(program, *args, env=None):
    return programs.run(*args, program=program, env=env)


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


def test_a_recording_into_a_new_directory_is_written_there(tmp_path):
    trained = run(
        "a2c_cartpole.py",
        "--train",
        "--max-steps=512",
        "--eval-episodes=1",
        f"--save_dir={tmp_path}",
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    gif = tmp_path / "new" / "sub" / "play.gif"
    played = run("a2c_cartpole.py", f"--save_dir={tmp_path}", f"--record={gif}")
    assert played.returncode == 0, played.stderr[-2000:]
    assert gif.is_file() and f"recording: {gif}" in played.stdout


def test_a_display_that_does_not_answer_is_one_line_not_a_crash(tmp_path):
    result = run(
        "a3c_cartpole.py", "--render=human", f"--save_dir={tmp_path}", env={"DISPLAY": ":99"}
    )
    assert result.returncode == 2
    assert "the display DISPLAY=:99 does not answer" in error_line(result)


def test_flags_that_do_nothing_without_training_are_named(tmp_path):
    result = run("a3c_cartpole.py", "--algorithm=random", "--max-eps=3", "--lr=0.5")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--lr does nothing without --train; ignored" in result.stderr


@pytest.mark.slow
def test_one_training_run_per_save_dir_and_a_killed_run_leaves_no_stuck_lock(tmp_path):
    first = start("a2c_cartpole.py", "--train", "--max-steps=5000000", f"--save_dir={tmp_path}")
    try:
        deadline = time.time() + 120
        while not list((tmp_path / "logs").glob("*")) and time.time() < deadline:
            assert first.poll() is None, first.communicate()[1][-2000:]
            time.sleep(0.2)
        second = run("a2c_cartpole.py", "--train", "--max-steps=2000", f"--save_dir={tmp_path}")
        assert second.returncode == 2
        line = error_line(second)
        assert f"is in use by another training run (pid {first.pid} on" in line
        assert "a2c_cartpole.py --train --max-steps=5000000" in line
    finally:
        first.kill()
        first.wait(timeout=30)
    third = run(
        "a2c_cartpole.py",
        "--train",
        "--max-steps=2000",
        "--eval-episodes=2",
        f"--save_dir={tmp_path}",
    )
    assert third.returncode == 0, third.stderr[-2000:]
    assert len(list((tmp_path / "logs").iterdir())) == 2  # each run its own TensorBoard dir


def test_progress_never_passes_the_budget():
    line = progress_line(20_480, 20_000, "env step", 10.0, 1000.0, 20.0)
    assert "env step 20000/20000 (100%)" in line and "ETA 0s" in line


def test_runs_started_in_the_same_second_get_their_own_tensorboard_directory(tmp_path):
    first = run_directory(tmp_path, "a2c")
    first.mkdir(parents=True)
    second = run_directory(tmp_path, "a2c")
    assert second != first and second.name.startswith(first.name)


def train_with_checkpoints(tmp_path, *extra):
    result = run(
        "a2c_cartpole.py",
        "--train",
        "--max-steps=3000",
        "--checkpoint-every=20",
        "--eval-episodes=2",
        f"--save_dir={tmp_path}",
        *extra,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    directory = tmp_path / "checkpoints_CartPole-v1"
    return sorted(directory.glob("ckpt-*.index"), key=lambda p: int(p.stem.split("-")[1]))


def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(tmp_path):
    indexes = train_with_checkpoints(tmp_path)
    assert len(indexes) == 2
    newest = indexes[-1].with_suffix(".data-00000-of-00001")
    newest.write_bytes(newest.read_bytes()[:100])  # truncated
    resumed = resume(tmp_path, "--max-steps=4000")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"checkpoint {indexes[-1].with_suffix('')} (" in resumed.stderr
    assert f"is damaged; resuming from {indexes[-2].with_suffix('')}" in resumed.stderr


@pytest.mark.slow
def test_a_damaged_state_file_is_rebuilt_from_the_checkpoints(tmp_path):
    train_with_checkpoints(tmp_path)
    (tmp_path / "checkpoints_CartPole-v1" / "checkpoint").write_text("")
    resumed = resume(tmp_path, "--max-steps=4000")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (
        "checkpoint state file" in resumed.stderr
        and "rebuilt from the 2 checkpoints" in resumed.stderr
    )


def test_every_checkpoint_damaged_is_one_line_naming_them(tmp_path):
    for index in train_with_checkpoints(tmp_path):
        data = index.with_suffix(".data-00000-of-00001")
        data.write_bytes(b"")
    resumed = run("a2c_cartpole.py", "--train", "--resume", f"--save_dir={tmp_path}")
    assert resumed.returncode == 2
    line = error_line(resumed)
    assert "every checkpoint in" in line and "is damaged" in line and "ckpt-" in line


def test_non_finite_weights_are_never_checkpointed(tmp_path):
    model = ActorCriticModel(2).build_for(4)
    state = TrainingState(tmp_path, "CartPole-v1", EpisodeLog(max_steps=10), model=model)
    assert state.save() is not None
    model.trainable_variables[0].assign(tf.fill(model.trainable_variables[0].shape, np.nan))
    assert state.save() is None
    assert len(list(state.directory.glob("ckpt-*.index"))) == 1


DISK_FULL = """
import shutil, sys, runpy
real, free, skip = shutil.disk_usage, int(sys.argv[1]), int(sys.argv[2])
calls = []

def disk_usage(path):  # the real free space for the first `skip` queries, then `free`
    calls.append(path)
    return real(path) if len(calls) <= skip else real(path)._replace(free=free)

shutil.disk_usage = disk_usage
sys.argv = sys.argv[3:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_with_free_space(free: int, skip: int, *args):
    """``python <args>`` with ``shutil.disk_usage`` reporting ``free`` bytes after ``skip``
    queries with the real value."""
    return subprocess.run(
        [sys.executable, "-c", DISK_FULL, str(free), str(skip), *args],
        cwd=ROOT,
        env=programs.environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def resume(save_dir, *args):
    """``a2c_cartpole.py --train --resume`` in ``save_dir`` with two-episode evaluations."""
    return run(
        "a2c_cartpole.py",
        "--train",
        "--resume",
        "--eval-episodes=2",
        f"--save_dir={save_dir}",
        *args,
    )


def assert_the_last_good_files_are_kept(save_dir, before):
    """The model still loads, no temporary file is left, and nothing new besides TensorBoard's
    events and the lock was written."""
    model_file = save_dir / "model_CartPole-v1.weights.h5"
    load_weights(ActorCriticModel(2).build_for(4), model_file, "CartPole-v1")
    after = [f for f in files_under(save_dir) if not f.startswith("logs")]
    assert not [f for f in after if ".tmp" in f or "_temp" in f]
    assert set(after) <= set(before) | {".run.lock"}


@pytest.mark.slow
def test_a_full_disk_ends_with_one_line_and_keeps_the_last_good_files(tmp_path):
    """The disk fills (simulated: ``shutil.disk_usage`` reports little free space once the
    run's start-up check has passed) after a first run wrote its model and checkpoints: the
    second run fails with one line, exit 1, and the first run's model and checkpoint still
    load; no temporary file is left."""
    train_with_checkpoints(tmp_path)
    before = files_under(tmp_path)
    result = run_with_free_space(
        100000,
        1,
        "a2c_cartpole.py",
        "--train",
        "--resume",
        "--max-steps=6000",
        "--checkpoint-every=20",
        "--eval-episodes=2",
        f"--save_dir={tmp_path}",
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "no space left to write" in error_line(result)
    assert_the_last_good_files_are_kept(tmp_path, before)
    resumed = resume(tmp_path, "--max-steps=4000")
    assert resumed.returncode == 0, resumed.stderr[-2000:]


def test_resume_continues_with_the_saved_settings_and_applies_the_flags_given(tmp_path):
    first = run(
        "a2c_cartpole.py",
        "--train",
        "--max-steps=2000",
        "--hidden-units=32",
        "--lr=0.01",
        "--eval-episodes=2",
        f"--save_dir={tmp_path}",
    )
    assert first.returncode == 0, first.stderr[-2000:]
    refused = run(
        "a2c_cartpole.py", "--train", "--resume", "--hidden-units=64", f"--save_dir={tmp_path}"
    )
    assert refused.returncode == 2
    assert "--hidden_units=64: the run in" in error_line(refused)
    assert "started with --hidden_units=32, which cannot change on --resume" in error_line(refused)
    resumed = resume(tmp_path, "--max-steps=3000", "--lr=0.5")
    assert resumed.returncode == 0, resumed.stderr[-2000:]  # hidden units 32, as saved
    assert "with its settings; changed: --lr=0.5 (was 0.01), --max_steps=3000 (was 2000)" in (
        resumed.stderr
    )


def test_a_resumed_run_trains_with_the_new_learning_rate(tmp_path):
    from agents.a2c import A2CAgent
    from config.hyperparameters import A2CConfig
    from training.trainer import Trainer

    Trainer(A2CAgent(A2CConfig(max_steps=512, lr=0.01, eval_interval=0)), tmp_path).train()
    agent = A2CAgent(A2CConfig(max_steps=1024, lr=0.5, eval_interval=0))
    Trainer(agent, tmp_path, resume=True)
    assert float(agent.optimizer.learning_rate) == pytest.approx(0.5)
    assert int(agent.optimizer.iterations) > 0  # the optimizer's state was restored


@pytest.mark.slow
def test_a_gif_recording_keeps_small_palette_frames_not_the_raw_ones(tmp_path):
    from utils.video import VideoWriter

    writer = VideoWriter(tmp_path / "long.gif", fps=50, scale=0.5)
    frame = np.random.default_rng(0).integers(0, 255, (400, 600, 3), dtype=np.uint8)
    for _ in range(50):
        writer.add(frame)
    kept = sum(image.width * image.height * len(image.mode) for image in writer.images)
    assert {image.mode for image in writer.images} == {"P"}
    assert kept * 12 <= 50 * frame.nbytes  # 1/12 of the raw frames: a quarter of the pixels, 1 byte
    assert writer.close() == tmp_path / "long.gif"
    assert [p.name for p in tmp_path.iterdir()] == ["long.gif"]


def test_an_mp4_recording_streams_its_frames_to_the_file_as_they_come(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    from utils.video import VideoWriter

    writer = VideoWriter(tmp_path / "long.mp4", fps=50)
    frame = np.random.default_rng(0).integers(0, 255, (400, 600, 3), dtype=np.uint8)
    for _ in range(300):
        writer.add(frame)
    time.sleep(0.5)
    temporary = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp.mp4")]
    assert temporary and temporary[0].stat().st_size > 0  # written before close
    assert not writer.images
    writer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["long.mp4"]


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A 2 MiB tmpfs at ``tmp_path/tiny``, where this machine lets the test mount one (root on
    Linux); skipped elsewhere (the simulated full disk above runs everywhere)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip("cannot mount a small file system here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.mark.slow
def test_a_really_full_disk_mid_run_keeps_the_last_good_files(tiny_filesystem):
    save_dir = tiny_filesystem / "run"
    first = run(
        "a2c_cartpole.py",
        "--train",
        "--max-steps=2000",
        "--eval-episodes=2",
        f"--save_dir={save_dir}",
    )
    assert first.returncode == 0, first.stderr[-2000:]
    before = files_under(save_dir)
    filler = tiny_filesystem / "filler"
    free = os.statvfs(tiny_filesystem).f_bavail * os.statvfs(tiny_filesystem).f_frsize
    filler.write_bytes(b"\0" * (free - 64 * 1024))  # 64 KiB left
    resumed = resume(save_dir, "--max-steps=6000", "--checkpoint-every=20")
    assert resumed.returncode in (1, 2), resumed.stderr[-2000:]
    assert "free" in error_line(resumed)
    assert "Segmentation fault" not in resumed.stderr
    assert_the_last_good_files_are_kept(save_dir, before)
    filler.unlink()
    again = resume(save_dir, "--max-steps=3000")
    assert again.returncode == 0, again.stderr[-2000:]  # the checkpoint still resumes


@pytest.mark.slow
def test_a_save_dir_without_room_for_a_run_is_refused_before_training(tmp_path):
    args = ("a2c_cartpole.py", "--train", f"--save_dir={tmp_path}/out")
    result = run_with_free_space(300000, 0, *args)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"--save_dir={tmp_path}/out has 293 KiB free; a run writes about" in error_line(result)
    assert files_under(tmp_path) == []


def test_an_allocation_failure_is_one_line_and_leaves_no_checkpoint_after_it(tmp_path):
    result = run(
        "a2c_cartpole.py",
        "--train",
        "--env=tests.faulty_envs:OutOfMemory-v0",
        "--max-steps=100000",
        f"--save_dir={tmp_path}",
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "out of memory (MemoryError: cannot allocate 8589934592 bytes)" in error_line(result)
    assert not list((tmp_path / "checkpoints_OutOfMemory-v0").glob("ckpt-*"))
