"""Faults that hung or traced (issue 37, class 3): each ends in one line with its exit status, or
in one exception of one line from the Python API, with the last good state kept.

Through the real command line (``tests.programs.run``) or the API; the Ray cases start a local
Ray each (slow)."""

import csv
import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.classic_control import CartPoleEnv

from a3c_keras import A2C, Callback, CheckpointError, EnvError, UsageError
from tests.faulty_envs import EmptyBoxActions
from tests.programs import ROOT, error_line, run, start

QUIET = {"verbose": 0}


# Ray: a worker whose process dies before any progress ---------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "env, says",
    [
        (
            "EndsRayWorker-v0",
            "process died 3 times in a row, each time before it returned a gradient",
        ),
        ("EndsRayWorkerAtOnce-v0", "did not start: its process died while it made and stepped"),
    ],
)
def test_a_ray_worker_whose_env_ends_its_process_stops_the_run_naming_the_env(tmp_path, env, says):
    pytest.importorskip("ray")
    began = time.monotonic()
    result = run(
        "--train",
        "--backend=ray",
        "--workers=2",
        "--envs-per-worker=1",
        "--update-freq=5",
        f"--env=tests.faulty_envs:{env}",
        "--max-steps=100000",
        f"--save_dir={tmp_path}",
    )
    seconds = time.monotonic() - began
    assert result.returncode == 1, result.stderr[-3000:]
    line = error_line(result)
    assert says in line and f"tests.faulty_envs:{env}" in line, line
    # Replaced at most twice in a row (17 times in 120 s before, each death starting the wait
    # for a gradient again).
    assert result.stderr.count("starting a new one") <= 4
    assert seconds < 240
    assert not (tmp_path / f"model_{env}.weights.h5").exists()


# Spaces the agents cannot use, and factories whose spaces change ----------------------------------


def test_a_box_action_space_of_shape_0_is_one_line():
    with pytest.raises(EnvError, match=r"has action space Box\(.*\(0,\).*; supported"):
        A2C(EmptyBoxActions, env_name="EmptyBox", **QUIET)
    result = run("--train", "--env=tests.faulty_envs:EmptyBoxActions-v0", program="a2c_cartpole.py")
    assert result.returncode == 2
    assert "has action space Box(" in error_line(result)


class Counted:
    """A factory of CartPoles whose envs after the first have another observation (or
    action) space."""

    def __init__(self, change: str):
        self.change, self.made = change, 0

    def __call__(self):
        self.made += 1
        env = CartPoleEnv()
        if self.made > 1 and self.change == "observation":
            env.observation_space = gym.spaces.Box(-1.0, 1.0, (5,), np.float32)
        elif self.made > 1:
            env.action_space = gym.spaces.Discrete(3)
        return env


@pytest.mark.parametrize("change", ["observation", "action"])
def test_a_factory_whose_spaces_change_after_its_first_env_is_refused(change):
    with pytest.raises(EnvError) as raised:
        A2C(Counted(change), env_name=f"Counted{change.title()}", **QUIET)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"the env factory Counted made an env of {change} space")
    assert "every env it makes must have the same spaces" in message


# Environment variables that TensorFlow or matplotlib read -----------------------------------------


@pytest.mark.parametrize(
    "variable, value, says",
    [
        ("MPLBACKEND", "nonexistent", "MPLBACKEND='nonexistent' is no matplotlib backend"),
        ("TF_XLA_FLAGS", "--garbage", "'--garbage' is no flag of TensorFlow's"),
        ("TF_XLA_FLAGS", "--tf_xla_auto_jit=2 --xla_dump_to=x", "'--xla_dump_to=x' is no flag"),
        ("TF_NUM_INTRAOP_THREADS", "-1", "TF_NUM_INTRAOP_THREADS='-1': TensorFlow takes"),
        ("TF_NUM_INTEROP_THREADS", "many", "TF_NUM_INTEROP_THREADS='many': TensorFlow takes"),
    ],
)
def test_nonsense_in_a_variable_that_tensorflow_or_matplotlib_reads_is_one_line(
    tmp_path, variable, value, says
):
    result = run("--train", f"--save_dir={tmp_path}", env={variable: value}, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert says in error_line(result)
    assert len(result.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_the_python_api_refuses_such_a_variable_before_tensorflow_loads():
    code = "import a3c_keras"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "TF_NUM_INTRAOP_THREADS": "-1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1  # an exception, not SIGABRT (-6)
    assert "ConfigError: TF_NUM_INTRAOP_THREADS='-1'" in result.stderr
    assert "tensorflow" not in result.stderr.lower().replace("tensorflow takes", "")


def test_good_values_of_those_variables_run(tmp_path):
    result = run(
        "--algorithm=random",
        "--max-eps=2",
        env={
            "TF_NUM_INTRAOP_THREADS": "1",
            "TF_XLA_FLAGS": "--tf_xla_auto_jit=0",
            "MPLBACKEND": "agg",
        },
    )
    assert result.returncode == 0, result.stderr[-2000:]


# The driver killed with async envs ----------------------------------------------------------------


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_bytes()
            except OSError:
                continue
            if int(stat[stat.rindex(b")") + 2 :].split()[1]) == pid:
                found.append(int(name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads Linux's /proc")
def test_the_env_processes_end_quietly_when_the_driver_is_killed(tmp_path):
    driver = start(
        "a2c_cartpole.py",
        "--train",
        "--vector-mode=async",
        "--num-envs=3",
        "--max-steps=10000000",
        f"--save_dir={tmp_path}",
    )
    deadline = time.monotonic() + 120
    envs = []
    while len(envs) < 3 and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.5)
        envs = children(driver.pid)
    assert len(envs) >= 3, driver.communicate()[1][-2000:]
    time.sleep(3)  # training
    os.kill(driver.pid, signal.SIGKILL)
    _, stderr = driver.communicate(timeout=60)  # every env process has closed the pipe
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr[-3000:]
    # An env process may still be exiting when the pipe closes: each must end within 30 s.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(alive(pid) for pid in envs):
        time.sleep(0.2)
    assert not [pid for pid in envs if alive(pid)], "env processes outlived the driver by 30 s"


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie waiting to be reaped (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 :].split()[0] != b"Z"


# OSErrors that are not the output's ---------------------------------------------------------------


def test_an_os_error_that_is_not_the_output_s_is_named_as_what_it_is(monkeypatch):
    cli_main = importlib.import_module("cli.main")  # the module (cli.main is also a function)

    def fails(program):
        raise PermissionError(1, "Operation not permitted", "/studies/a.journal")

    monkeypatch.setattr(cli_main, "run_mode", fails)
    result = run("--train")
    assert result.returncode == 1
    line = error_line(result)
    assert line == "a3c_cartpole.py: error: /studies/a.journal: Operation not permitted"


@pytest.mark.slow
def test_an_immutable_tune_storage_is_named_not_blamed_on_the_output(tmp_path):
    journal = tmp_path / "study.journal"
    journal.touch()
    if subprocess.run(["chattr", "+i", str(journal)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not allowed here")
    try:
        result = run(
            "--tune",
            "--trials=1",
            "--max-steps=512",
            f"--tune-storage={journal}",
            f"--save_dir={tmp_path / 'run'}",
            program="a2c_cartpole.py",
        )
    finally:
        subprocess.run(["chattr", "-i", str(journal)], check=True)
    line = error_line(result)
    assert result.returncode in (1, 2), line  # 1: a machine fault; 2 if checked before work
    assert "cannot write the output" not in line
    assert str(journal) in line and "Operation not permitted" in line


# learn and its callbacks --------------------------------------------------------------------------


class RaisesKeyboardInterrupt(Callback):
    def on_episode_end(self, index, logs):
        if index == 20:
            raise KeyboardInterrupt


def csv_rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_a_keyboard_interrupt_in_a_callback_saves_as_ctrl_c_does_then_is_raised(tmp_path):
    agent = A2C("CartPole-v1", save_dir=tmp_path, eval_episodes=2, **QUIET)
    with pytest.raises(KeyboardInterrupt) as raised:
        agent.learn(10_000_000, callbacks=[RaisesKeyboardInterrupt()])
    message = str(raised.value)
    assert message.startswith("RaisesKeyboardInterrupt.on_episode_end raised KeyboardInterrupt;")
    assert "the run was saved" in message
    for name in ("model_CartPole-v1.weights.h5", "CartPole-v1_episodes.csv"):
        assert (tmp_path / name).is_file()
    assert list((tmp_path / "checkpoints_CartPole-v1").glob("ckpt-*.index"))
    assert 20 <= len(csv_rows(tmp_path / "CartPole-v1_episodes.csv")) < 200
    assert agent.learn(256) is agent  # and the agent trains on


class LearnsAgain(Callback):
    """Calls its agent's learn from inside it (which is refused), then stops the run."""

    def __init__(self, agent):
        super().__init__()
        self.agent, self.refused = agent, None

    def on_episode_end(self, index, logs):
        if index == 5:
            try:
                self.agent.learn(1000)
            except UsageError as error:
                self.refused = str(error)
            self.model.stop_training = True


def test_learn_called_from_its_own_callback_is_refused_and_the_outer_run_goes_on(tmp_path):
    agent = A2C("CartPole-v1", save_dir=tmp_path, eval_episodes=2, **QUIET)
    callback = LearnsAgain(agent)
    agent.learn(10_000_000, callbacks=[callback])
    assert callback.refused.startswith("learn() was called while this agent's learn() runs")
    assert "\n" not in callback.refused
    assert 5 <= len(agent.episodes) < 100
    assert (tmp_path / "model_CartPole-v1.weights.h5").is_file()


# save and load: what is wrong, in one line --------------------------------------------------------


def test_save_and_load_say_what_is_wrong_with_the_path(tmp_path):
    agent = A2C("CartPole-v1", **QUIET)
    with pytest.raises(UsageError, match=r"has no name before \.weights\.h5"):
        agent.save(tmp_path / ".weights.h5")
    with pytest.raises(UsageError, match=r"has no name before \.keras"):
        agent.save(tmp_path / ".keras")
    if os.path.isdir("/proc/self"):
        with pytest.raises(UsageError, match=r"path=/proc cannot be written: it is on a kernel"):
            agent.save("/proc/x.keras")
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"PK\x03\x04 not a zip archive at all")
    for env in (None, "CartPole-v1"):
        with pytest.raises(CheckpointError, match="is corrupt or truncated: not a readable .keras"):
            A2C.load(corrupt, env=env, **QUIET)
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_the_command_line_names_a_corrupt_keras_model(tmp_path):
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(os.urandom(300))
    result = run("--evaluate", f"--model={corrupt}", f"--save_dir={tmp_path}")
    assert result.returncode == 2
    assert "corrupt.keras is corrupt or truncated" in error_line(result)
