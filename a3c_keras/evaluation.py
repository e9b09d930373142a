"""``evaluate_policy``, as Stable-Baselines3's ``stable_baselines3.common.evaluation`` has it.

Usage::

    from a3c_keras.evaluation import evaluate_policy

    mean_reward, std_reward = evaluate_policy(agent, n_eval_episodes=10)
    mean_reward, std_reward = evaluate_policy(agent, agent.get_env())
    rewards, lengths = evaluate_policy(agent, "CartPole-v1", return_episode_rewards=True)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from training.evaluation import EVAL_BATCH
from training.trainer import REPORT_SEED_OFFSET
from utils.envs import env_creation, make_env, make_vector_env
from utils.errors import ConfigError, EnvError

AutoresetMode = gym.vector.AutoresetMode


def evaluate_policy(
    model: Any,
    env: str | Callable[[], gym.Env] | gym.Env | gym.vector.VectorEnv | None = None,
    n_eval_episodes: int = 10,
    deterministic: bool = True,
    return_episode_rewards: bool = False,
) -> tuple[float, float] | tuple[list[float], list[int]]:
    """Plays ``n_eval_episodes`` episodes with ``model.predict`` and returns their returns'
    mean and standard deviation, as Stable-Baselines3's ``evaluate_policy``.

    Each step takes ``model.predict(obs, state, episode_start, deterministic)``; a recurrent
    model's state is carried from step to step and zeroed where an episode starts.

    Args:
        model: an ``A2C`` or ``A3C`` agent, or anything with that ``predict``.
        env: where to play:

            - None: the agent's env (``model.config.env``), made afresh and seeded as
              ``model.evaluate`` seeds it (episode ``i`` reset with seed
              ``model.config.seed + 10000 + i``), one episode per env of a vector env: with
              ``deterministic=True`` the returns are ``model.evaluate(n_eval_episodes)``'s.
            - a gymnasium env id, or a factory (called once, with no arguments): one env, made
              here, unseeded, closed after; episodes one after another.
            - a ``gymnasium.Env``: the same, in that env (not closed).
            - a ``gymnasium.vector.VectorEnv`` (``model.get_env()``, say; not closed): all its
              envs step together, and each counts its episodes up to its share,
              ``(n_eval_episodes + i) // num_envs`` for env ``i`` (SB3's rule, so short
              episodes are not over-counted). In gymnasium's ``NEXT_STEP`` autoreset mode
              (its default) the step after an episode ends only resets that env: it is not a
              transition and is not counted; ``SAME_STEP`` and ``DISABLED`` (reset here, by
              ``reset_mask``) are taken too.
        n_eval_episodes: episodes to play, an int >= 1.
        deterministic: greedy actions (True) or sampled ones.
        return_episode_rewards: return each episode's return and length instead.

    Returns:
        ``(mean_reward, std_reward)``: floats, over the episodes' undiscounted returns; or,
        with ``return_episode_rewards``, ``(episode_rewards, episode_lengths)``: lists of
        ``n_eval_episodes`` floats and ints (steps), in the order the episodes ended.

    Raises:
        ConfigError: one line, for an argument of the wrong type or value (naming it).
        EnvError: the env cannot be made, or breaks gymnasium's contract (env ids and the
            agent's env are checked as in training).
    """
    check_arguments(model, env, n_eval_episodes, deterministic, return_episode_rewards)
    n_eval_episodes = int(n_eval_episodes)
    if env is None:
        rewards, lengths = agent_env_episodes(model, n_eval_episodes, deterministic)
    elif isinstance(env, gym.vector.VectorEnv):
        rewards, lengths = vector_episodes(model, env, n_eval_episodes, deterministic)
    elif isinstance(env, gym.Env):
        rewards, lengths = episodes_one_by_one(model, env, n_eval_episodes, deterministic)
    else:
        made = made_env(env)
        try:
            rewards, lengths = episodes_one_by_one(model, made, n_eval_episodes, deterministic)
        finally:
            with contextlib.suppress(Exception):
                made.close()
    if return_episode_rewards:
        return rewards, lengths
    return float(np.mean(rewards)), float(np.std(rewards))


def check_arguments(model, env, n_eval_episodes, deterministic, return_episode_rewards) -> None:
    """Raises ``ConfigError`` (one line, naming the keyword) for arguments
    ``evaluate_policy`` does not take."""
    if not callable(getattr(model, "predict", None)):
        raise ConfigError(
            f"model={type(model).__name__}: needs predict(observation, state, episode_start, "
            "deterministic), as an A2C or A3C agent has"
        )
    if env is None and not hasattr(getattr(model, "config", None), "env"):
        raise ConfigError(
            f"env=None plays the agent's env, and model={type(model).__name__} is not an A2C "
            "or A3C agent: pass env= (an id, a factory, a gymnasium.Env or a VectorEnv)"
        )
    if not (env is None or isinstance(env, str | gym.Env | gym.vector.VectorEnv) or callable(env)):
        raise ConfigError(
            f"env={env!r}: give None (the agent's env), a gymnasium env id, a factory, a "
            "gymnasium.Env or a gymnasium.vector.VectorEnv"
        )
    if (
        isinstance(n_eval_episodes, bool)
        or not isinstance(n_eval_episodes, int | np.integer)
        or n_eval_episodes < 1
    ):
        raise ConfigError(f"n_eval_episodes={n_eval_episodes!r}: must be an integer >= 1")
    for name, value in (
        ("deterministic", deterministic),
        ("return_episode_rewards", return_episode_rewards),
    ):
        if not isinstance(value, bool | np.bool_):
            raise ConfigError(f"{name}={value!r}: must be True or False")


def made_env(env: str | Callable[[], gym.Env]) -> gym.Env:
    """The env an id (made as in training: checked, with its time limit) or a factory
    makes, its observations as the env gives them.

    Raises:
        EnvError: the id is unknown, or the factory raises or returns no ``gymnasium.Env``.
    """
    if isinstance(env, str):
        return make_env(env, encoded=False)
    what = f"the env factory {getattr(env, '__qualname__', repr(env))}"
    with env_creation(what):
        made = env()
    if not isinstance(made, gym.Env):
        raise EnvError(f"{what} returned {type(made).__name__}, not a gymnasium.Env")
    return made


def agent_env_episodes(agent, episodes: int, deterministic: bool):
    """``episodes`` episodes of the agent's env, seeded as ``agent.evaluate`` seeds them: up
    to ``EVAL_BATCH`` envs at once, env ``j`` of the batch from ``start`` reset with seed
    ``seed + start + j`` and playing its first episode only."""
    config = agent.config
    seed = config.seed + REPORT_SEED_OFFSET
    rewards, lengths = [], []
    for start in range(0, episodes, EVAL_BATCH):
        batch = min(EVAL_BATCH, episodes - start)
        envs = make_vector_env(config.env, batch, encoded=False)
        try:
            done = vector_episodes(agent, envs, batch, deterministic, seed=seed + start)
        finally:
            envs.close()
        rewards += done[0]
        lengths += done[1]
    return rewards, lengths


def vector_episodes(
    model, envs: gym.vector.VectorEnv, episodes: int, deterministic: bool, seed: int | None = None
) -> tuple[list[float], list[int]]:
    """Plays ``episodes`` episodes in ``envs``, env ``i`` counting up to
    ``(episodes + i) // num_envs`` of them (Stable-Baselines3's rule); returns their returns
    and lengths, in the order they ended. The step of gymnasium's ``NEXT_STEP`` autoreset is
    skipped (not a transition); ``DISABLED`` envs are reset here by ``reset_mask``.

    Raises:
        ConfigError: an autoreset mode this does not know.
    """
    count = envs.num_envs
    mode = envs.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    if mode not in tuple(AutoresetMode):
        raise ConfigError(
            f"env: a vector env in autoreset mode {mode!r}; gymnasium's NEXT_STEP, SAME_STEP "
            "or DISABLED are taken"
        )
    targets = np.array([(episodes + i) // count for i in range(count)])
    counts = np.zeros(count, int)
    returns, steps = np.zeros(count), np.zeros(count, int)
    rewards, lengths = [], []
    observations, _ = envs.reset(seed=seed)
    state = None
    starts = np.ones(count, bool)  # the observation is an episode's first: zero the state
    resetting = np.zeros(count, bool)  # NEXT_STEP: this step only resets these envs
    while (counts < targets).any():
        actions, state = model.predict(
            observations, state=state, episode_start=starts, deterministic=deterministic
        )
        observations, reward, terminated, truncated, _ = envs.step(actions)
        moved = ~resetting
        returns[moved] += np.asarray(reward, np.float64)[moved]
        steps[moved] += 1
        ended = (np.asarray(terminated) | np.asarray(truncated)) & moved
        for i in np.flatnonzero(ended):
            if counts[i] < targets[i]:
                rewards.append(float(returns[i]))
                lengths.append(int(steps[i]))
                counts[i] += 1
            returns[i], steps[i] = 0.0, 0
        if mode == AutoresetMode.NEXT_STEP:
            starts, resetting = resetting, ended
        elif mode == AutoresetMode.SAME_STEP:
            starts = ended
        else:  # DISABLED: the ended envs are reset now
            starts = ended
            if ended.any():
                observations, _ = envs.reset(options={"reset_mask": ended})
    return rewards, lengths


def episodes_one_by_one(
    model, env: gym.Env, episodes: int, deterministic: bool
) -> tuple[list[float], list[int]]:
    """Plays ``episodes`` episodes in one env, one after another (reset unseeded); returns
    their returns and lengths."""
    rewards, lengths = [], []
    for _ in range(episodes):
        observation, _ = env.reset()
        state, start, over = None, True, False
        episode_return, length = 0.0, 0
        while not over:
            action, state = model.predict(
                observation,
                state=state,
                episode_start=np.array([start]),
                deterministic=deterministic,
            )
            observation, reward, terminated, truncated, _ = env.step(action)
            episode_return += float(reward)
            length += 1
            start, over = False, bool(terminated or truncated)
        rewards.append(episode_return)
        lengths.append(length)
    return rewards, lengths
