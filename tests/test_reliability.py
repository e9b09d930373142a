"""Bad input, faults and resuming, through the real command lines."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from agents.a3c import MasterAgent, apply_to_global, worker_gradients
from agents.memory import Memory
from config.hyperparameters import A3CConfig
from models import ActorCriticModel
from tests import programs
from tests.programs import ROOT, environment, error_line, start
from training.trainer import Trainer
from utils.checkpoint import load_weights, save_weights
from utils.errors import CheckpointError

pytestmark = pytest.mark.slow  # processes stopped by signals


def run(program, *args):
    return programs.run(*args, program=program)


def episodes_csv(save_dir):
    with open(Path(save_dir) / "CartPole-v1_episodes.csv") as handle:
        return list(csv.DictReader(handle))


# Bad input: one line, exit status 2, nothing written.


def saved(tmp_path, num_actions=2, obs_dim=4, hidden=(128,), env_id="CartPole-v1"):
    model = ActorCriticModel(num_actions, hidden).build_for(obs_dim)
    return save_weights(model, tmp_path / "model_CartPole-v1.weights.h5", env_id)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p.write_bytes(b"definitely not HDF5"), "is corrupt or truncated"),
        (lambda p: p.write_bytes(p.read_bytes()[:3000]), "is corrupt or truncated"),
        (lambda p: saved(p.parent, 3, 6, env_id="Acrobot-v1"), "was trained on Acrobot-v1, not"),
        (lambda p: saved(p.parent, hidden=(64, 64)), "holds another architecture"),
    ],
)
def test_play_refuses_a_damaged_or_mismatched_model(tmp_path, damage, message):
    damage(saved(tmp_path))
    # The file's architecture is taken where no model flag is given: one given must match.
    result = run("a3c_cartpole.py", f"--save_dir={tmp_path}", "--hidden_units=128")
    assert result.returncode == 2
    assert message in error_line(result)


def test_weights_record_their_env_and_load_back(tmp_path):
    model = ActorCriticModel(2).build_for(4)
    path = save_weights(model, tmp_path / "m.weights.h5", "CartPole-v1")
    other = ActorCriticModel(2).build_for(4)
    load_weights(other, path, "CartPole-v1")
    for a, b in zip(model.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


# Faults: nothing lost.


def test_non_finite_updates_never_reach_the_weights():
    model = ActorCriticModel(2).build_for(4)
    optimizer = tf.keras.optimizers.Adam(1e-2)
    optimizer.build(model.trainable_variables)
    memory = Memory()
    memory.store(np.ones(4), 0, float("nan"), True, False)
    rollout = memory.to_rollout(np.ones(4))
    before = model.get_weights()
    gradients, _, metrics = worker_gradients(model, rollout, A3CConfig())
    applied = apply_to_global(model, optimizer, gradients, (), metrics)
    assert not bool(applied) and not np.isfinite(float(metrics["loss"]))
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(optimizer.iterations) == 0


def test_nan_rewards_are_named_as_the_env_s_fault_before_any_work(tmp_path):
    result = run(
        "a3c_cartpole.py",
        "--train",
        "--env=tests.faulty_envs:NanReward-v0",
        "--max-eps=500",
        f"--save_dir={tmp_path}",
    )
    assert result.returncode == 2
    line = error_line(result)
    assert "NanReward-v0's step() returned the reward nan; rewards must be finite numbers" in line
    assert list(tmp_path.iterdir()) == []


def test_a_failing_worker_stops_everything_and_is_named(tmp_path):
    start = time.perf_counter()
    result = run(
        "a3c_cartpole.py",
        "--train",
        "--env=tests.faulty_envs:CrashOddSeed-v0",
        "--workers=2",
        "--max-eps=100000",
        f"--save_dir={tmp_path}",
    )
    assert result.returncode == 1
    line = error_line(result)
    assert "worker 1: CrashOddSeed-v0's step() raised RuntimeError: the simulator crashed" in line
    assert time.perf_counter() - start < 60


def wait_for_checkpoint(save_dir, process, also=None, timeout=120):
    """Waits until the run has written a checkpoint (and the file ``also``)."""
    wanted = [Path(save_dir) / "checkpoints_CartPole-v1" / "checkpoint", *([also] if also else [])]
    deadline = time.time() + timeout
    while not all(path.exists() for path in wanted):
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.1)


@pytest.mark.parametrize(
    "program, budget",
    [("a3c_cartpole.py", "--max-eps=100000"), ("a2c_cartpole.py", "--max-steps=5000000")],
)
def test_sigterm_stops_cleanly_saves_and_resume_continues(tmp_path, program, budget):
    process = start(program, "--train", budget, "--checkpoint-every=20", f"--save_dir={tmp_path}")
    wait_for_checkpoint(tmp_path, process)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)  # never hangs
    assert process.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    assert "interrupted by SIGTERM; the run was saved" in stderr
    assert (tmp_path / "CartPole-v1_moving_average.png").is_file()
    first = episodes_csv(tmp_path)
    assert len(first) > 0

    small = "--max-eps=" if program.startswith("a3c") else "--max-steps="
    target = len(first) + 40 if program.startswith("a3c") else int(first[-1]["env_steps"]) + 3000
    resumed = run(
        program,
        "--train",
        "--resume",
        f"{small}{target}",
        "--eval-episodes=5",
        f"--save_dir={tmp_path}",
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    second = episodes_csv(tmp_path)
    assert [row["index"] for row in second[: len(first)]] == [row["index"] for row in first]
    assert [int(row["index"]) for row in second] == list(range(1, len(second) + 1))
    assert int(second[-1]["env_steps"]) >= int(first[-1]["env_steps"])
    if program.startswith("a3c"):
        assert len(second) == target
    played = run(program, f"--save_dir={tmp_path}")
    assert played.returncode == 0 and "episode 1 | step 1" in played.stdout


@pytest.mark.parametrize("program", ["a3c_cartpole.py", "a2c_cartpole.py"])
def test_sigkill_leaves_a_loadable_checkpoint_and_model(tmp_path, program):
    process = start(
        program,
        "--train",
        "--checkpoint-every=10",
        f"--save_dir={tmp_path}",
        "--max-eps=100000" if program.startswith("a3c") else "--max-steps=5000000",
        "--eval-interval=2000",  # the model is saved at evaluations
    )
    wait_for_checkpoint(tmp_path, process, also=tmp_path / "model_CartPole-v1.weights.h5")
    time.sleep(np.random.default_rng().uniform(0.2, 1.5))  # anywhere, perhaps mid-write
    process.kill()
    process.wait(timeout=30)
    model = ActorCriticModel(2).build_for(4)
    load_weights(model, tmp_path / "model_CartPole-v1.weights.h5", "CartPole-v1")
    small = "--max-eps=5" if program.startswith("a3c") else "--max-steps=1"
    resumed = run(
        program, "--train", "--resume", small, "--eval-episodes=3", f"--save_dir={tmp_path}"
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "greedy return over 3 episodes" in resumed.stdout


def test_ctrl_c_at_a_terminal_saves_a_run_whose_envs_are_processes(tmp_path):
    """A terminal's Ctrl-C reaches the whole process group: the env processes of
    --vector-mode=async ignore it and the driver saves."""
    process = start(
        "a2c_cartpole.py", "--train", "--vector-mode=async", "--num-envs=2",
        "--max-steps=5000000", "--checkpoint-every=20", f"--save_dir={tmp_path}",
        new_session=True,
    )  # fmt: skip
    wait_for_checkpoint(tmp_path, process)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGINT, stderr[-2000:]
    assert "interrupted by SIGINT; the run was saved" in stderr
    assert "Traceback" not in stderr
    assert (tmp_path / "CartPole-v1_episodes.csv").is_file()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_an_output_that_cannot_be_written_is_one_line_after_the_files_are_saved(tmp_path):
    with open("/dev/full", "w") as full:
        process = subprocess.run(
            [sys.executable, "a2c_cartpole.py", "--train", "--max-steps=2048",
             "--eval-episodes=2", f"--save_dir={tmp_path}"],
            cwd=ROOT, env=environment(), stdout=full, stderr=subprocess.PIPE, text=True,
            timeout=300,
        )  # fmt: skip
    assert process.returncode == 1
    lines = [line for line in process.stderr.splitlines() if "error:" in line]
    assert lines == ["a2c_cartpole.py: error: cannot write the output: No space left on device"]
    assert "Traceback" not in process.stderr
    assert (tmp_path / "checkpoints_CartPole-v1" / "ckpt-1.index").is_file()


def test_sighup_from_a_closed_terminal_saves_like_sigterm(tmp_path):
    process = start(
        "a2c_cartpole.py", "--train", "--max-steps=5000000", "--checkpoint-every=20",
        f"--save_dir={tmp_path}",
    )  # fmt: skip
    wait_for_checkpoint(tmp_path, process)
    process.send_signal(signal.SIGHUP)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGHUP, stderr[-2000:]
    assert "interrupted by SIGHUP; the run was saved" in stderr
    assert (tmp_path / "CartPole-v1_episodes.csv").is_file()
    assert len(list((tmp_path / "checkpoints_CartPole-v1").glob("ckpt-*.index"))) >= 1


def processes_naming(text: str) -> list[int]:
    """The pids of the processes whose command line holds ``text``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            pass
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_sigterm_during_a_recording_leaves_no_temporary_file_and_no_encoder(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    trained = run(
        "a2c_cartpole.py", "--train", "--max-steps=20000", "--eval-episodes=2",
        f"--save_dir={tmp_path}",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-2000:]
    recording = tmp_path / "play.mp4"
    process = start(
        "a2c_cartpole.py", f"--save_dir={tmp_path}", f"--record={recording}", "--episodes=200"
    )
    deadline = time.time() + 120
    while not list(tmp_path.glob(".play.*.tmp.mp4")):
        assert process.poll() is None and time.time() < deadline, process.communicate()[1]
        time.sleep(0.1)
    temporary = next(tmp_path.glob(".play.*.tmp.mp4"))
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM
    assert "a2c_cartpole.py: error: interrupted by SIGTERM" in stderr
    assert not temporary.exists() and not recording.exists()
    assert processes_naming(temporary.name) == []  # no encoder left writing it


@pytest.mark.parametrize(
    "signum, line",
    [
        (signal.SIGTERM, "interrupted by SIGTERM"),
        (signal.SIGHUP, "interrupted by SIGHUP"),
        (signal.SIGINT, "interrupted"),
    ],
)
def test_a_signal_during_the_checks_before_training_is_one_line(tmp_path, signum, line):
    process = start(
        "a2c_cartpole.py", "--train", "--env=tests.faulty_envs:SlowToMake-v0",
        f"--save_dir={tmp_path}",
    )  # fmt: skip
    assert process.stderr.readline().strip() == "making SlowToMake"  # the checks have begun
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode in (128 + signum, -signum)
    assert stderr.strip().splitlines() == [f"a2c_cartpole.py: error: {line}"]
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_while_tensorflow_imports_is_one_line():
    process = start("a2c_cartpole.py", "--train", new_session=True)
    time.sleep(0.7)  # Python is up (the hook is set first), TensorFlow loading (2 s or more)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode in (-signal.SIGINT, 128 + signal.SIGINT)
    assert stderr.strip().splitlines() == ["a2c_cartpole.py: error: interrupted"], stderr


def test_eight_workers_on_two_cores_record_exactly_the_budget(tmp_path):
    master = MasterAgent(A3CConfig(max_eps=400, workers=8, update_freq=5))
    episodes = Trainer(master, tmp_path).train()
    assert [e.index for e in episodes] == list(range(1, 401))
    assert {e.worker for e in episodes} == set(range(8))


def test_resuming_with_other_flags_says_so(tmp_path):
    Trainer(MasterAgent(A3CConfig(max_eps=5, workers=2)), tmp_path).train()
    with pytest.raises(CheckpointError, match="written by a run that built other objects"):
        Trainer(MasterAgent(A3CConfig(max_eps=10, workers=3)), tmp_path, resume=True)
    resumed = Trainer(MasterAgent(A3CConfig(max_eps=10, workers=2)), tmp_path, resume=True)
    assert len(resumed.episode_log.episodes) == 5
