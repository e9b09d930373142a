"""The Python API (a3c_keras): agents from an id, a factory or an env object; learn with
callbacks; predict, evaluate, save and load; the same files and messages as the command line."""

import csv
import re
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

from a3c_keras import A2C, A3C, Callback, Checkpoints, ConfigError, EnvError, ProgressLogger
from a3c_keras.compat import as_keywords
from tests.custom_envs import Corridor, short_corridor
from tests.programs import ROOT, environment, error_line, run
from training.evaluation import format_action
from utils.envs import NO_VELOCITY_ENV, make_env
from utils.errors import UsageError

QUIET = {"verbose": 0}


class Recorder(Callback):
    """Records what the trainer hands to a callback; stops the run after ``stop_after``
    episodes if given."""

    def __init__(self, stop_after=None):
        super().__init__()
        self.stop_after = stop_after
        self.episodes, self.updates, self.evaluations, self.ends = [], [], [], []

    def on_episode_end(self, index, logs):
        self.episodes.append((index, logs["return"], logs["length"]))
        if self.stop_after and index >= self.stop_after:
            self.model.stop_training = True

    def on_update_end(self, index, logs):
        self.updates.append((index, logs["loss"], logs["applied"]))

    def on_evaluation_end(self, index, logs):
        self.evaluations.append(logs)

    def on_train_end(self, logs):
        self.ends.append(logs)


def csv_rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    "source, name, expected",
    [
        ("CartPole-v1", None, "CartPole-v1"),
        # A class: its instances are the envs. Its name, or Corridor-2 (-3, ...) where this
        # process registered another Corridor (of other settings) under it.
        (Corridor, None, r"Corridor(-\d+)?"),
        (short_corridor, "ShortCorridor-v0", "ShortCorridor-v0"),  # a function, named
        (Corridor(length=6), None, r"Corridor(-\d+)?"),  # an object: copied for each env
        (gym.make("CartPole-v1"), None, "CartPole-v1"),  # made from an id: that id
    ],
)
def test_a2c_trains_from_an_id_a_factory_and_an_env_object(tmp_path, source, name, expected):
    agent = A2C(source, env_name=name, save_dir=tmp_path, num_envs=4, eval_interval=0, **QUIET)
    assert re.fullmatch(expected, agent.config.env), agent.config.env
    expected = agent.config.env
    agent.learn(2000)
    assert agent.trainer.episode_log.env_steps >= 2000 and agent.episodes
    # The command line's files, named by the env's name.
    for path in (agent.model_file, tmp_path / f"{expected}_episodes.csv"):
        assert path.is_file(), path
    assert len(csv_rows(tmp_path / f"{expected}_episodes.csv")) == len(agent.episodes)
    assert agent.trainer.state.latest is not None


def test_a_custom_env_class_learns_with_a2c_and_a3c_threads(tmp_path):
    for agent_class, settings in ((A2C, {"num_envs": 4}), (A3C, {"workers": 2})):
        agent = agent_class(
            Corridor, save_dir=tmp_path / agent_class.name, seed=1, eval_interval=5000,
            **settings, **QUIET,
        )  # fmt: skip
        before = agent.evaluate(episodes=5).mean
        agent.learn(15_000)
        result = agent.load_best().evaluate(episodes=5)
        assert result.mean == pytest.approx(1 - 0.1 * 6), (agent_class, result.returns)
        assert before < result.mean


def test_a_callback_sees_every_episode_and_update_and_can_stop_the_run(tmp_path):
    for agent_class, settings in ((A2C, {"num_envs": 4}), (A3C, {"workers": 2})):
        recorder = Recorder(stop_after=30)
        save_dir = tmp_path / agent_class.name
        agent = agent_class("CartPole-v1", save_dir=save_dir, eval_interval=0, **settings, **QUIET)
        agent.learn(100_000, callbacks=[recorder])
        episodes = agent.episodes
        # Every episode, once, in order, with the log's numbers.
        assert [e[0] for e in recorder.episodes] == list(range(1, len(episodes) + 1))
        assert [e[1] for e in recorder.episodes] == [e.episode_return for e in episodes]
        assert [e[0] for e in recorder.updates] == list(
            range(1, agent.algorithm.update_log.count + 1)
        )
        # Stopped early (A2C after the rollout, A3C's threads within 0.2 s), cleanly: saved
        # as after Ctrl-C (model, checkpoint, episode log).
        assert 30 <= len(episodes) < (40 if agent_class is A2C else 1000)
        assert agent.trainer.episode_log.env_steps < 30_000
        assert recorder.ends == [recorder.ends[0]] and recorder.ends[0]["stopped"] is True
        assert agent.model_file.is_file() and agent.trainer.state.latest
        assert len(csv_rows(save_dir / "CartPole-v1_episodes.csv")) == len(episodes)


def test_learn_again_goes_on_with_the_same_model_log_and_checkpoints(tmp_path):
    recorder = Recorder()
    agent = A2C("CartPole-v1", save_dir=tmp_path, num_envs=4, eval_interval=1000, **QUIET)
    agent.learn(2000, callbacks=[recorder, Checkpoints(every=20)])
    first_steps, first_episodes = agent.trainer.episode_log.env_steps, len(agent.episodes)
    first_checkpoint = agent.trainer.state.latest
    agent.learn(1000, callbacks=[recorder])
    log = agent.trainer.episode_log
    assert log.env_steps >= first_steps + 1000 and len(agent.episodes) > first_episodes
    assert agent.trainer.state.latest != first_checkpoint  # the same run's next checkpoint
    assert [e[0] for e in recorder.episodes] == list(range(1, len(agent.episodes) + 1))
    assert len(recorder.ends) == 2 and recorder.evaluations
    # A callback of the run's own class replaces it; the others stay.
    kinds = [type(c).__name__ for c in agent.trainer.callbacks]
    assert kinds.count("Checkpoints") == 1 and "TensorBoard" in kinds


def test_resume_goes_on_from_the_checkpoint_and_a3c_learns_twice(tmp_path):
    first = A2C("CartPole-v1", save_dir=tmp_path, num_envs=4, eval_interval=0, **QUIET)
    first.learn(2000)
    episodes = len(first.episodes)
    resumed = A2C("CartPole-v1", save_dir=tmp_path, resume=True, lr=1e-3, **QUIET)
    assert resumed.config.num_envs == 4 and resumed.config.lr == 1e-3  # saved, and given
    resumed.learn(4000)  # as --resume: the budget counts the steps before it
    log = resumed.trainer.episode_log
    assert 4000 <= log.env_steps < 4000 + 64 and len(resumed.episodes) > episodes
    assert [e.index for e in resumed.episodes] == list(range(1, len(resumed.episodes) + 1))
    threads = A3C("CartPole-v1", save_dir=tmp_path / "a3c", workers=2, eval_interval=0, **QUIET)
    threads.learn(episodes=20)
    threads.learn(episodes=20)  # the workers start again
    assert len(threads.episodes) == 40


def test_a_given_progress_logger_replaces_the_runs_own(tmp_path):
    lines = []

    class Lines(ProgressLogger):
        def report(self, steps_per_second, eta, final):
            lines.append((self.trainer.episode_log.env_steps, final))

    agent = A2C("CartPole-v1", save_dir=tmp_path, num_envs=4, eval_interval=0)
    agent.learn(4000, callbacks=[Lines()])
    assert [type(c) for c in agent.trainer.callbacks if isinstance(c, ProgressLogger)] == [Lines]
    assert len(lines) >= 20  # each 2% of the budget, once compiled


def perturbed(agent, seed=0):
    """``agent`` with weights far from the initial ones, so its actions vary."""
    rng = np.random.default_rng(seed)
    for weight in agent.model.trainable_variables:
        weight.assign(rng.normal(0, 0.3, weight.shape).astype(np.float32))
    return agent


def played_actions(result):
    """The actions the command line's play printed, by episode."""
    actions = {}
    for line in result.stdout.splitlines():
        match = re.match(r"episode (\d+) \| step \d+ \| action (.+) \| return", line)
        if match:
            actions.setdefault(int(match[1]), []).append(match[2])
    return [actions[k] for k in sorted(actions)]


@pytest.mark.parametrize(
    "env_id, settings",
    [
        ("CartPole-v1", {}),
        ("Pendulum-v1", {}),  # Gaussian, observation normalisation (its preset)
        (NO_VELOCITY_ENV, {"recurrent": True, "lstm_units": 8}),
    ],
)
def test_predict_plays_as_the_command_line_and_the_files_load_both_ways(tmp_path, env_id, settings):
    agent = perturbed(A2C(env_id, save_dir=tmp_path, **settings, **QUIET))
    path = agent.save(tmp_path / "mine.weights.h5")
    flags = [f"--{k}={str(v).lower()}" for k, v in settings.items()]
    result = run(
        f"--env={env_id}", f"--model={path}", "--episodes=2", "--seed=7", *flags,
        program="a2c_cartpole.py", check=True,
    )  # fmt: skip
    expected = played_actions(result)
    # predict, one env at a time, the recurrent state carried and reset at each episode.
    env = make_env(env_id)
    state = None
    for episode, printed in enumerate(expected):
        observation, _ = env.reset(seed=7 + episode)
        start, over, mine = True, False, []
        while not over:
            action, state = agent.predict(observation, state, episode_start=np.array([start]))
            mine.append(format_action(action))
            observation, _, terminated, truncated, _ = env.step(action)
            start, over = False, terminated or truncated
        assert mine == printed
    assert len({a for actions in expected for a in actions}) > 1  # the comparison means something
    # The command line's evaluation of the file equals the agent's, and a loaded agent's.
    line = run(
        f"--env={env_id}", f"--model={path}", "--evaluate", "--eval_episodes=3", *flags,
        program="a2c_cartpole.py", check=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    assert line == agent.evaluate(episodes=3).summary()
    assert line == A2C.load(path, save_dir=tmp_path, **QUIET).evaluate(episodes=3).summary()


def test_a_model_of_another_architecture_plays_from_the_command_line_without_flags(tmp_path):
    agent = perturbed(A2C("CartPole-v1", save_dir=tmp_path, hidden_units=(32, 16), **QUIET))
    path = agent.save(tmp_path / "small.weights.h5")
    line = run(
        f"--model={path}", "--evaluate", "--eval_episodes=3", program="a3c_cartpole.py", check=True
    ).stdout.strip()  # the architecture recorded in the file: no --hidden_units needed
    assert line == agent.evaluate(episodes=3).summary()
    refused = run(f"--model={path}", "--hidden_units=64", program="a3c_cartpole.py")
    assert "holds another architecture (hidden units (32, 16))" in error_line(refused)


def test_predict_takes_batches_and_samples_when_asked(tmp_path):
    agent = perturbed(A2C("CartPole-v1", save_dir=tmp_path, **QUIET))
    observations = np.random.default_rng(0).normal(0, 1, (64, 4)).astype(np.float32)
    actions, state = agent.predict(observations)
    assert actions.shape == (64,) and state is None
    assert [agent.predict(o)[0] for o in observations] == list(actions)
    np.random.seed(0)
    sampled = np.stack([agent.predict(observations, deterministic=False)[0] for _ in range(20)])
    assert (sampled != actions).any()  # samples differ from the greedy action somewhere
    with pytest.raises(ValueError, match=r"the env's are \(4,\)"):
        agent.predict(np.zeros((2, 3)))


def test_a_model_trained_from_the_command_line_loads_in_python(tmp_path):
    run(
        "--train", "--max_steps=3000", "--num_envs=4", f"--save_dir={tmp_path}",
        "--eval_interval=0", program="a2c_cartpole.py", check=True,
    )  # fmt: skip
    evaluated = run(
        f"--save_dir={tmp_path}", "--evaluate", "--eval_episodes=5", program="a2c_cartpole.py"
    ).stdout.strip()
    agent = A2C.load(tmp_path / "model_CartPole-v1.weights.h5", save_dir=tmp_path / "p", **QUIET)
    assert agent.evaluate(episodes=5).summary() == evaluated
    exported = agent.save(tmp_path / "m.keras")
    assert A2C.load(exported, **QUIET).evaluate(episodes=5).summary() == evaluated
    with pytest.raises(UsageError, match="acts only"):
        A2C.load(exported, **QUIET).learn(100)


@pytest.mark.parametrize(
    "settings, flag",
    [
        ({"lr": -1}, "--lr=-1"),
        ({"num_envs": 0}, "--num_envs=0"),
        ({"gamma": 2.0}, "--gamma=2"),
        ({"hidden_units": (64, 0)}, "--hidden_units=64,0"),
        ({"max_steps": 0, "max_eps": 0}, "--max_steps=0"),
    ],
)
def test_bad_settings_fail_with_the_flags_one_line(tmp_path, settings, flag):
    """The same rule and words, naming the flag on the command line and the keyword in
    Python."""
    with pytest.raises(ConfigError) as error:
        A2C("CartPole-v1", save_dir=tmp_path, **settings)
    line = error_line(run(flag, "--train", f"--save_dir={tmp_path}", program="a2c_cartpole.py"))
    prefix = "a2c_cartpole.py: error: "
    assert line.startswith(prefix + "flag") and flag in line
    assert flag[2:] in str(error.value) and "--" not in str(error.value)
    assert as_keywords(line[len(prefix) :], {}, set(settings)) == str(error.value)
    assert not any(tmp_path.iterdir())


def test_bad_arguments_fail_with_one_line_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match="lerning_rate: not a keyword of A2C.*learning_rate"):
        A2C("CartPole-v1", lerning_rate=1e-3)
    with pytest.raises(EnvError, match="unknown env id 'CartPol-v1'; did you mean CartPole-v1"):
        A2C("CartPol-v1")
    with pytest.raises(EnvError, match="the env factory .*returned int, not a gymnasium.Env"):
        A2C(lambda: 3, env_name="Three")
    with pytest.raises(EnvError, match="already a registered env"):
        A2C(Corridor, env_name="CartPole-v1")
    with pytest.raises(EnvError, match="'my env' is not a valid env id"):
        A2C(Corridor, env_name="my env")
    with pytest.raises(ConfigError, match=r"total_timesteps=-5: must be in \[1, 2\*\*62\]"):
        A2C("CartPole-v1", save_dir=tmp_path, **QUIET).learn(-5)
    # The checks of --train, in the keywords' words: a budget under one rollout, a run there.
    agent = A2C("CartPole-v1", save_dir=tmp_path, **QUIET)
    with pytest.raises(UsageError, match="^total_timesteps=10 is less than one rollout"):
        agent.learn(10)
    assert not any(tmp_path.iterdir())
    A2C("CartPole-v1", save_dir=tmp_path, num_envs=2, eval_interval=0, **QUIET).learn(500)
    with pytest.raises(UsageError, match="already holds a run on CartPole-v1"):
        A2C("CartPole-v1", save_dir=tmp_path, **QUIET).learn(500)
    again = A2C("CartPole-v1", save_dir=tmp_path, overwrite=True, eval_interval=0, **QUIET)
    assert again.learn(500).episodes


@pytest.mark.slow
@pytest.mark.ray
def test_a3c_on_ray_trains_an_env_class_its_workers_import(tmp_path):
    agent = A3C(Corridor, save_dir=tmp_path, backend="ray", workers=2, eval_interval=0, **QUIET)
    agent.learn(3000)
    assert agent.trainer.episode_log.env_steps >= 3000
    assert {e.worker for e in agent.episodes} == {0, 1}  # both worker processes made it
    assert agent.model_file.is_file()


def test_what_an_adversarial_tester_found_is_one_line_and_loses_nothing(tmp_path):
    A2C("CartPole-v1", save_dir=tmp_path, num_envs=2, eval_interval=0, **QUIET).learn(300)
    before = sorted(p.name for p in tmp_path.iterdir())
    # A bad callback list is refused before --overwrite removes the earlier run.
    again = A2C("CartPole-v1", save_dir=tmp_path, overwrite=True, **QUIET)
    with pytest.raises(
        ConfigError, match="callbacks: object .* is not a callback: subclass a3c_keras.Callback"
    ):
        again.learn(300, callbacks=[object()])
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    # None, or one callback, as Keras and SB3 take them.
    one = Recorder()
    again.learn(300, callbacks=one)
    assert one.episodes and A2C("CartPole-v1", save_dir=tmp_path / "n", **QUIET).learn(
        300, callbacks=None
    )
    with pytest.raises(UsageError, match="^save_dir is empty"):
        A2C("CartPole-v1", save_dir="", **QUIET)
    with pytest.raises(UsageError, match="would need about .* GiB"):  # before it is built
        A2C("CartPole-v1", hidden_units=(100_000, 100_000), save_dir=tmp_path / "m", **QUIET)
    with pytest.raises(UsageError, match="path=.*M.WEIGHTS.H5: a model file's name ends in"):
        again.save(tmp_path / "M.WEIGHTS.H5")
    with pytest.raises(ConfigError, match="episodes=0: must be an integer >= 1"):
        again.evaluate(episodes=0)
    with pytest.raises(ConfigError, match=r"seed=-1: must be an integer in \[0, 2147483647\]"):
        again.evaluate(episodes=1, seed=-1)
    pendulum = A2C("Pendulum-v1", save_dir=tmp_path / "p", num_envs=2, eval_interval=0, **QUIET)
    pendulum.learn(400)  # its preset decays the learning rate linearly over the budget
    with pytest.raises(UsageError, match="lr_schedule=linear decayed the learning rate to 0"):
        pendulum.learn(400)


def test_an_env_objects_own_time_limit_and_wrappers_are_kept_and_names_stay_apart(tmp_path):
    short = A2C(gym.wrappers.TimeLimit(gym.make("CartPole-v1"), 20), save_dir=tmp_path, **QUIET)
    # Not CartPole-v1: its own limit is kept (CartPoleEnv-2, ... where another CartPoleEnv is).
    assert re.fullmatch(r"CartPoleEnv(-\d+)?", short.config.env)
    assert max(perturbed(short).evaluate(episodes=5).returns) <= 20
    scaled = gym.wrappers.TransformReward(gym.make("CartPole-v1"), lambda r: 10 * r)
    tenfold = A2C(scaled, env_name="TenfoldCartPole-v0", save_dir=tmp_path, **QUIET)
    result = perturbed(tenfold).evaluate(episodes=2)
    assert all(value % 10 == 0 for value in result.returns) and result.mean >= 10
    A2C(lambda: gym.make("CartPole-v1"), env_name="Twice-v0", save_dir=tmp_path, **QUIET)
    A2C(lambda: gym.make("CartPole-v1"), env_name="Twice-v0", save_dir=tmp_path, **QUIET)
    with pytest.raises(EnvError, match="'Twice-v0' names another env in this process"):
        A2C(lambda: gym.make("Pendulum-v1"), env_name="Twice-v0", save_dir=tmp_path, **QUIET)


def test_a_recurrent_predict_refuses_a_state_of_another_shape(tmp_path):
    agent = A2C(NO_VELOCITY_ENV, recurrent=True, lstm_units=8, save_dir=tmp_path, **QUIET)
    observations = np.zeros((3, 2), np.float32)
    actions, state = agent.predict(observations)
    assert [part.shape for part in state] == [(3, 8), (3, 8)]
    with pytest.raises(ValueError, match=r"each of shape \(batch, 8\) = \(3, 8\) here"):
        agent.predict(observations, (np.zeros((3, 5)), np.zeros((3, 5))))
    with pytest.raises(ValueError, match=r"episode_start of shape \(2,\)"):
        agent.predict(observations, state, episode_start=np.array([True, False]))
    assert A2C("CartPole-v1", save_dir=tmp_path, **QUIET).predict(np.zeros(4), state)[1] is None


INTERRUPTED = """
import os, signal, sys
sys.path.insert(0, os.getcwd())
from a3c_keras import A2C, Callback

class CtrlC(Callback):
    def on_episode_end(self, index, logs):
        if index == 20:
            os.kill(os.getpid(), signal.SIGINT)

try:
    A2C("CartPole-v1", save_dir=sys.argv[1], verbose=0).learn(10_000_000, callbacks=[CtrlC()])
except KeyboardInterrupt as stop:
    print("stopped:", stop)
"""


@pytest.mark.slow
def test_ctrl_c_during_learn_stops_saves_and_is_raised_again(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", INTERRUPTED, str(tmp_path)],
        cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert "stopped: interrupted by SIGINT; the run was saved" in result.stdout, result.stderr
    for name in ("model_CartPole-v1.weights.h5", "CartPole-v1_episodes.csv"):
        assert (tmp_path / name).is_file()
    assert 20 <= len(csv_rows(tmp_path / "CartPole-v1_episodes.csv")) < 200
