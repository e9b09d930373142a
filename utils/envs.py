"""Making gymnasium environments and checking that the agents support them."""

from __future__ import annotations

import difflib

import gymnasium as gym
import numpy as np


class EnvError(ValueError):
    """An env id that gymnasium does not know, or an env whose spaces the agents cannot handle."""


def make_env(env_id: str, render_mode: str | None = None) -> gym.Env:
    """``gymnasium.make(env_id)`` with its registered wrappers (time limit included), checked.

    Raises:
        EnvError: if ``env_id`` is not registered (naming close ids), or its spaces are not
            supported (see ``check_spaces``).
    """
    if env_id not in gym.registry:
        close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
        hint = (
            f"; did you mean {', '.join(close)}?" if close else "; see gymnasium.pprint_registry()"
        )
        raise EnvError(f"unknown env id {env_id!r}{hint}")
    env = gym.make(env_id, render_mode=render_mode)
    try:
        check_spaces(env.observation_space, env.action_space, env_id)
    except EnvError:
        env.close()
        raise
    return env


def check_spaces(
    observation_space: gym.Space, action_space: gym.Space, env_id: str = "env"
) -> None:
    """Checks for a ``Discrete`` action space and a flat (1-D) ``Box`` observation space.

    Raises:
        EnvError: naming the unsupported space and what is supported.
    """
    if not isinstance(action_space, gym.spaces.Discrete):
        raise EnvError(
            f"{env_id} has action space {action_space}; only Discrete action spaces are supported"
        )
    if not (isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) == 1):
        raise EnvError(
            f"{env_id} has observation space {observation_space}; only flat (1-D) Box "
            "observation spaces are supported"
        )


def env_dims(env: gym.Env) -> tuple[int, int]:
    """``(obs_dim, num_actions)`` of a checked env."""
    return int(np.prod(env.observation_space.shape)), int(env.action_space.n)


def reward_threshold(env_id: str) -> float | None:
    """The return at which gymnasium counts ``env_id`` solved (mean over 100 episodes), or None."""
    return gym.spec(env_id).reward_threshold
