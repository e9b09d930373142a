"""What Stable-Baselines3 users write works here: ``save("name")`` and ``load("name")``,
``evaluate_policy``, ``mean, std = agent.evaluate()``, ``get_env()``'s loop; and two env
objects of one class keep their own settings."""

import gc
import re

import gymnasium as gym
import numpy as np
import pytest

from a3c_keras import A2C, A3C, ConfigError, EvalResult
from a3c_keras import evaluate_policy as exported
from a3c_keras.evaluation import evaluate_policy
from models import ActorCriticModel
from tests.custom_envs import Corridor, DiscreteCorridor
from utils.envs import NO_VELOCITY_ENV
from utils.errors import CheckpointError, UsageError

QUIET = {"verbose": 0}


def perturbed(agent, seed=0):
    """``agent`` with weights far from the initial ones, so its actions vary."""
    rng = np.random.default_rng(seed)
    for weight in agent.model.trainable_variables:
        weight.assign(rng.normal(0, 0.3, weight.shape).astype(np.float32))
    return agent


# save and load by a name without a suffix -------------------------------------------------


def test_a_name_without_a_suffix_saves_and_loads_the_weights(tmp_path):
    agent = perturbed(A2C("CartPole-v1", save_dir=tmp_path / "run", **QUIET))
    path = agent.save(str(tmp_path / "a2c_cartpole"))
    assert path == tmp_path / "a2c_cartpole.weights.h5" and path.is_file()
    loaded = A2C.load(str(tmp_path / "a2c_cartpole"), save_dir=tmp_path / "run", **QUIET)
    assert isinstance(loaded.model, ActorCriticModel)  # the weights: it trains on
    assert loaded.evaluate(episodes=3).summary() == agent.evaluate(episodes=3).summary()
    # A last dot followed by a digit starts no suffix.
    assert agent.save(tmp_path / "lr0.001") == tmp_path / "lr0.001.weights.h5"
    # Only the export: it is loaded; both: the weights.
    agent.save(tmp_path / "exported.keras")
    export = A2C.load(tmp_path / "exported", save_dir=tmp_path / "run", **QUIET)
    assert not isinstance(export.model, ActorCriticModel)
    assert export.evaluate(episodes=3).summary() == agent.evaluate(episodes=3).summary()
    agent.save(tmp_path / "exported")
    both = A2C.load(tmp_path / "exported", save_dir=tmp_path / "run", **QUIET)
    assert isinstance(both.model, ActorCriticModel)
    with pytest.raises(
        CheckpointError, match=r"no saved model at .*none\.weights\.h5 or .*none\.keras"
    ):
        A2C.load(tmp_path / "none", **QUIET)


@pytest.mark.parametrize("suffix", [".zip", ".h5", ".pkl", ".pt"])
def test_another_suffix_is_refused_in_one_line_naming_those_allowed(tmp_path, suffix):
    agent = A2C("CartPole-v1", save_dir=tmp_path / "run", **QUIET)
    allowed = (
        r"a model file's name ends in \.weights\.h5 \(weights, as training writes them\) or "
        r"\.keras \(an export\), or has no suffix"
    )
    with pytest.raises(UsageError, match=rf"^path=.*a2c{re.escape(suffix)}: {allowed}"):
        agent.save(tmp_path / f"a2c{suffix}")
    (tmp_path / f"a2c{suffix}").write_bytes(b"not ours")  # refused even where it exists
    with pytest.raises(CheckpointError, match=rf"^path=.*a2c{re.escape(suffix)}: {allowed}"):
        A2C.load(tmp_path / f"a2c{suffix}", **QUIET)
    assert [p.name for p in tmp_path.iterdir()] == [f"a2c{suffix}"]  # nothing written


# evaluate_policy ------------------------------------------------------------------------


def test_evaluate_policy_on_the_agents_env_is_its_evaluate():
    assert exported is evaluate_policy
    agent = perturbed(A2C("CartPole-v1", **QUIET))
    result = agent.evaluate(episodes=6)
    mean, std = evaluate_policy(agent, n_eval_episodes=6)
    assert type(mean) is float and type(std) is float
    assert (mean, std) == pytest.approx((result.mean, result.std))
    rewards, lengths = evaluate_policy(agent, n_eval_episodes=6, return_episode_rewards=True)
    assert sorted(rewards) == sorted(result.returns) and len(set(rewards)) > 1
    assert lengths == [int(r) for r in rewards]  # CartPole: +1 a step
    # A recurrent model, its state carried.
    recurrent = perturbed(A2C(NO_VELOCITY_ENV, recurrent=True, lstm_units=8, **QUIET))
    mean, _ = evaluate_policy(recurrent, n_eval_episodes=4)
    assert mean == pytest.approx(recurrent.evaluate(episodes=4).mean)


def test_evaluate_policy_in_an_env_object_an_id_a_factory_and_the_agents_vector_env():
    agent = perturbed(A2C("CartPole-v1", num_envs=3, **QUIET))
    for env in (gym.make("CartPole-v1"), "CartPole-v1", lambda: gym.make("CartPole-v1")):
        rewards, lengths = evaluate_policy(
            agent, env, n_eval_episodes=3, return_episode_rewards=True
        )
        assert len(rewards) == 3 and lengths == [int(r) for r in rewards], env
    # The vector env's autoreset step is no transition: were it counted, a length would
    # exceed its return (its reward is 0).
    rewards, lengths = evaluate_policy(
        agent, agent.get_env(), n_eval_episodes=7, return_episode_rewards=True
    )
    assert len(rewards) == 7 and lengths == [int(r) for r in rewards]


class GoRight:
    """A policy that always goes right, checking that ``episode_start`` marks exactly the
    first observation of each episode (a Corridor's position 0, which going right never
    returns to)."""

    def __init__(self):
        self.calls = 0

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        assert np.array_equal(episode_start, observation[:, 0] == 0), (observation, episode_start)
        self.calls += 1
        return np.ones(len(observation), np.int64), state


@pytest.mark.parametrize("mode", list(gym.vector.AutoresetMode))
def test_a_vector_env_counts_each_envs_share_of_episodes(mode):
    # Env 0's episodes take 2 steps, env 1's 7: the first 4 episodes to end would be 3 of env 0.
    envs = gym.vector.SyncVectorEnv(
        [lambda: Corridor(length=3), lambda: Corridor(length=8)], autoreset_mode=mode
    )
    policy = GoRight()
    rewards, lengths = evaluate_policy(policy, envs, n_eval_episodes=4, return_episode_rewards=True)
    assert sorted(lengths) == [2, 2, 7, 7]
    assert sorted(rewards) == pytest.approx([0.4, 0.4, 0.9, 0.9])  # 1 - 0.1 * (length - 2)
    # Env 1's two episodes, and in NEXT_STEP mode the step that resets it between them.
    assert policy.calls == (15 if mode == gym.vector.AutoresetMode.NEXT_STEP else 14)
    envs.close()


def test_evaluate_policy_refuses_bad_arguments_in_one_line():
    agent = A2C("CartPole-v1", **QUIET)
    for value in (0, 1.5, True, "3"):
        with pytest.raises(ConfigError, match=rf"^n_eval_episodes={re.escape(repr(value))}: must"):
            evaluate_policy(agent, n_eval_episodes=value)
    with pytest.raises(ConfigError, match=r"^deterministic='yes': must be True or False$"):
        evaluate_policy(agent, deterministic="yes")
    with pytest.raises(ConfigError, match=r"^return_episode_rewards=1: must be True or False$"):
        evaluate_policy(agent, return_episode_rewards=1)
    with pytest.raises(ConfigError, match=r"^env=3: give None \(the agent's env\), a gymnasium"):
        evaluate_policy(agent, 3)
    with pytest.raises(ConfigError, match=r"^model=object: needs predict\("):
        evaluate_policy(object(), "CartPole-v1")
    with pytest.raises(ConfigError, match=r"^env=None plays the agent's env, and model=GoRight"):
        evaluate_policy(GoRight())


# EvalResult unpacks as SB3's pair ---------------------------------------------------------


def test_an_evaluation_unpacks_as_mean_and_std():
    assert tuple(EvalResult(np.array([1.0, 3.0]), None)) == (2.0, 1.0)
    agent = perturbed(A2C("CartPole-v1", **QUIET))
    result = agent.evaluate(episodes=4)
    mean, std = agent.evaluate(episodes=4)
    assert (mean, std) == (result.mean, result.std) and type(mean) is float
    assert result.returns.shape == (4,) and result.threshold == 475.0
    assert result.summary().startswith(f"greedy return over 4 episodes: {mean:.1f} ± {std:.1f}")


# get_env ----------------------------------------------------------------------------------


def test_get_env_runs_sb3s_getting_started_loop_and_does_not_disturb_training(tmp_path):
    agent = A2C(
        "CartPole-v1", num_envs=3, seed=3, save_dir=tmp_path / "a", eval_interval=0, **QUIET
    )
    vec_env = agent.get_env()
    assert isinstance(vec_env, gym.vector.VectorEnv) and vec_env.num_envs == 3
    assert agent.get_env() is vec_env
    obs, info = vec_env.reset(seed=0)
    for _ in range(40):
        action, _ = agent.predict(obs, deterministic=True)
        obs, reward, terminated, truncated, info = vec_env.step(action)
    assert obs.shape == (3, 4) and reward.shape == terminated.shape == (3,)
    agent.learn(600)
    for _ in range(10):  # between learns too
        obs, *_ = vec_env.step(agent.predict(obs)[0])
    agent.learn(300)
    alone = A2C(
        "CartPole-v1", num_envs=3, seed=3, save_dir=tmp_path / "b", eval_interval=0, **QUIET
    )
    alone.learn(600)
    alone.learn(300)
    assert [e.episode_return for e in agent.episodes] == [e.episode_return for e in alone.episodes]
    for mine, other in zip(agent.model.get_weights(), alone.model.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, other)
    # close: closed, and the next get_env makes another; garbage collection closes it too.
    agent.close()
    agent.close()
    assert vec_env.closed and not agent.get_env().closed and agent.get_env() is not vec_env
    last = agent.get_env()
    del agent
    gc.collect()
    assert last.closed


def test_get_env_of_a3c_holds_all_its_workers_envs_as_the_env_gives_them():
    agent = A3C(DiscreteCorridor, workers=2, envs_per_worker=2, **QUIET)
    vec_env = agent.get_env()
    obs, _ = vec_env.reset(seed=0)
    assert vec_env.num_envs == 4 and obs.shape == (4,) and obs.dtype.kind == "i"  # not one-hot
    action, _ = agent.predict(obs)
    assert vec_env.step(action)[0].shape == (4,)
    agent.close()


# Two env objects of one class -------------------------------------------------------------


class Balancer:
    """A hand-made CartPole controller (it balances for thousands of steps), with the config
    of ``agent`` so that ``evaluate_policy(Balancer(agent))`` plays the agent's env."""

    def __init__(self, agent):
        self.config = agent.config

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        x, x_dot, theta, theta_dot = np.asarray(observation).T
        return (theta + 0.5 * theta_dot + 0.05 * x + 0.1 * x_dot > 0).astype(np.int64), state


def test_two_env_objects_of_one_class_keep_their_own_settings(tmp_path):
    first = A2C(gym.make("CartPole-v1", max_episode_steps=200), save_dir=tmp_path, **QUIET)
    second = A2C(gym.make("CartPole-v1", max_episode_steps=300), save_dir=tmp_path, **QUIET)
    assert first.config.env != second.config.env
    for agent in (first, second):
        assert re.fullmatch(r"CartPoleEnv(-\d+)?", agent.config.env), agent.config.env
    # Each agent's env keeps its limit after the other was built.
    _, lengths = evaluate_policy(Balancer(first), n_eval_episodes=2, return_episode_rewards=True)
    assert lengths == [200, 200]
    _, lengths = evaluate_policy(Balancer(second), n_eval_episodes=2, return_episode_rewards=True)
    assert lengths == [300, 300]
    assert max(perturbed(first).evaluate(episodes=3).returns) <= 200
    # The same env again (a notebook's cell run twice) takes its name again.
    again = A2C(gym.make("CartPole-v1", max_episode_steps=200), save_dir=tmp_path, **QUIET)
    assert again.config.env == first.config.env
    # Factories and objects alike: the env each makes is what counts.
    plain, eight = A2C(Corridor, **QUIET), A2C(Corridor(length=8), **QUIET)
    six = A2C(Corridor(length=6), **QUIET)
    assert plain.config.env == eight.config.env != six.config.env
    lengths = [gym.make(a.config.env).unwrapped.length for a in (plain, eight, six)]
    assert lengths == [8, 8, 6]
