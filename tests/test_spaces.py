"""The spaces users bring, end to end: A2C and A3C train a MultiDiscrete-action, a
MultiBinary-action, a Dict-observation and a Discrete-observation env to their optimum, and the
trained agent saves, loads, exports and predicts on the env's own observations; gymnasium's
FrozenLake, Taxi and Blackjack build, train, evaluate and export; both scripts and Ray take
them."""

import gymnasium as gym
import keras
import numpy as np
import pytest

from a3c_keras import A2C, A3C
from tests.custom_envs import DialLock, DiscreteCorridor, GoalCorridor, LightSwitches
from tests.programs import run
from utils.spaces import observation_encoder

QUIET = {"verbose": 0}
# Settings that reach each env's optimum quickly: a little entropy keeps every sub-action
# exploring until it is right, and the short horizons need no long discount.
SETTINGS = {"entropy_coef": 0.01, "gamma": 0.9, "seed": 1, "eval_episodes": 20}

# Each env, its optimal return (every episode) and the budgets A2C and A3C reach it in.
ENVS = {
    "multi-discrete actions": (DialLock, 8.0, 12_000, 20_000),
    "multi-binary actions": (LightSwitches, 12.0, 12_000, 25_000),
    "dict observations": (GoalCorridor, 0.9, 10_000, 15_000),
    "discrete observations": (DiscreteCorridor, 0.7, 10_000, 15_000),
}


def stack(observations):
    """A batch of raw observations as predict takes them (a Dict's: a dict of arrays)."""
    if isinstance(observations[0], dict):
        return {key: np.stack([o[key] for o in observations]) for key in observations[0]}
    return np.stack(observations)


def greedy_returns(agent, env_class, episodes=3):
    """Returns of greedy episodes in the env class itself, acting by ``predict`` on its raw
    observations."""
    env, returns = env_class(), []
    for episode in range(episodes):
        observation, _ = env.reset(seed=100 + episode)
        total, over = 0.0, False
        while not over:
            action, _ = agent.predict(observation)
            assert env.action_space.contains(action), action
            observation, reward, terminated, truncated, _ = env.step(action)
            total, over = total + reward, terminated or truncated
        returns.append(total)
    return returns


def trains_to_the_optimum_and_its_files_act_alike(agent_class, env_name, tmp_path, **settings):
    env_class, optimum, a2c_budget, a3c_budget = ENVS[env_name]
    budget = a2c_budget if agent_class is A2C else a3c_budget
    agent = agent_class(
        env_class, save_dir=tmp_path / "run", eval_interval=budget // 3,
        **SETTINGS, **settings, **QUIET,
    )  # fmt: skip
    before = agent.evaluate().mean
    agent.learn(budget)
    result = agent.load_best().evaluate()
    np.testing.assert_allclose(result.returns, optimum, atol=1e-6, err_msg=env_name)
    assert before < optimum - 0.5
    # predict acts on the env's own observations, one at a time or as a batch.
    np.testing.assert_allclose(greedy_returns(agent, env_class), optimum, atol=1e-6)
    raw = env_class()
    observations = [raw.reset(seed=seed)[0] for seed in range(6)]
    batch, _ = agent.predict(stack(observations))
    single = np.stack([agent.predict(observation)[0] for observation in observations])
    np.testing.assert_array_equal(batch, single)
    # The weights file and the .keras export load as agents that act as this one.
    weights = agent.save(tmp_path / "m.weights.h5")
    exported = agent.save(tmp_path / "m.keras")
    expected = agent.evaluate(episodes=5, seed=7).returns
    for path in (weights, exported):
        loaded = agent_class.load(path, save_dir=tmp_path / "loaded", **QUIET)
        np.testing.assert_array_equal(loaded.evaluate(episodes=5, seed=7).returns, expected)
        np.testing.assert_array_equal(loaded.predict(stack(observations))[0], batch)
    # The export alone (Keras, no project) takes the observations gymnasium flattens.
    plain = keras.saving.load_model(exported)
    encoded, _ = observation_encoder(raw.observation_space).batch(stack(observations))
    np.testing.assert_allclose(plain([encoded])[0], agent.model(encoded)[0], atol=1e-5)


@pytest.mark.parametrize("env_name", ENVS)
def test_a2c_trains_each_space_to_its_optimum_and_saves_loads_exports_and_predicts(
    tmp_path, env_name
):
    trains_to_the_optimum_and_its_files_act_alike(A2C, env_name, tmp_path, num_envs=4)


@pytest.mark.slow
@pytest.mark.parametrize("env_name", ENVS)
def test_a3c_trains_each_space_to_its_optimum_and_saves_loads_exports_and_predicts(
    tmp_path, env_name
):
    trains_to_the_optimum_and_its_files_act_alike(A3C, env_name, tmp_path, workers=2)


@pytest.mark.parametrize(
    "env_id, observations",
    [("FrozenLake-v1", (16,)), ("Taxi-v4", (500,)), ("Blackjack-v1", (45,))],
)
def test_gymnasiums_discrete_and_tuple_envs_train_evaluate_and_export(
    tmp_path, env_id, observations
):
    agent = A2C(env_id, save_dir=tmp_path, num_envs=4, eval_interval=0, **QUIET)
    assert agent.model.spec.observation.shape == observations
    agent.learn(3000)
    assert agent.trainer.episode_log.env_steps >= 3000
    result = agent.evaluate(episodes=10)
    assert len(result.returns) == 10 and np.isfinite(result.returns).all()
    path = agent.save(tmp_path / "model.keras")
    again = A2C.load(path, save_dir=tmp_path / "loaded", **QUIET)
    np.testing.assert_array_equal(again.evaluate(episodes=10).returns, result.returns)
    env = gym.make(env_id)
    observation, _ = env.reset(seed=0)
    action, _ = agent.predict(observation)
    assert env.action_space.contains(action)


@pytest.mark.slow
def test_both_scripts_train_resume_evaluate_export_and_play_the_spaces(tmp_path):
    lake = [f"--save_dir={tmp_path}/lake", "--env=FrozenLake-v1"]
    quick = ["--num_envs=4", "--eval_interval=0"]
    first = run("--train", "--max_steps=2000", *lake, *quick, program="a2c_cartpole.py")
    assert first.returncode == 0, first.stderr[-2000:]
    resumed = run("--train", "--resume", "--max_steps=4000", *lake, program="a2c_cartpole.py")
    assert resumed.returncode == 0 and "resuming the run" in resumed.stderr, resumed.stderr[-2000:]
    evaluated = run("--evaluate", "--eval_episodes=5", *lake, program="a2c_cartpole.py")
    assert "greedy return over 5 episodes" in evaluated.stdout, evaluated.stderr[-2000:]
    exported = run(f"--export={tmp_path}/lake.keras", *lake, program="a2c_cartpole.py")
    assert exported.returncode == 0, exported.stderr[-2000:]
    played = run(f"--model={tmp_path}/lake.keras", "--episodes=1", *lake, program="a2c_cartpole.py")
    assert "episode 1 finished" in played.stdout, played.stderr[-2000:]
    # A3C's script, an env named module:Id with MultiDiscrete actions; then another env's
    # model is refused in one line.
    dial = [f"--save_dir={tmp_path}/dial", "--env=tests.custom_envs:spaces/DialLock-v0"]
    trained = run(
        "--train", "--max_eps=0", "--max_steps=2000", "--workers=2", "--eval_interval=0",
        *dial, program="a3c_cartpole.py",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-2000:]
    played = run("--episodes=1", *dial, program="a3c_cartpole.py")
    assert "episode 1 | step 1 | action [" in played.stdout, played.stderr[-2000:]
    model = f"--model={tmp_path}/dial/model_spaces_DialLock-v0.weights.h5"
    refused = run(
        model, "--env=tests.custom_envs:spaces/LightSwitches-v0", program="a3c_cartpole.py"
    )
    assert refused.returncode == 2
    assert "was trained on tests.custom_envs:spaces/DialLock-v0, not " in refused.stderr


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.parametrize("env_class", [DialLock, GoalCorridor])
def test_a3c_on_ray_trains_the_spaces(tmp_path, env_class):
    agent = A3C(env_class, save_dir=tmp_path, backend="ray", workers=2, eval_interval=0, **QUIET)
    agent.learn(3000)
    assert agent.trainer.episode_log.env_steps >= 3000
    assert {e.worker for e in agent.episodes} == {0, 1}
    assert np.isfinite(agent.evaluate(episodes=3).returns).all()
