"""The rollout buffer shared by A3C, A2C and the random baseline."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Rollout(NamedTuple):
    """One rollout of ``T`` steps from ``N`` environments, time-major, as ``compute_loss`` takes it.

    Attributes:
        states: float32 ``(T + 1, N, obs_dim)``; ``states[t]`` is the observation acted on at
            step t and ``states[T]`` the one after the last step, whose value is the bootstrap.
        actions: int32 ``(T, N)``.
        rewards: float32 ``(T, N)``.
        terminated: float32 ``(T, N)``, 1.0 where step t reached a terminal state (bootstrap 0).
        truncated: float32 ``(T, N)``, 1.0 where step t hit a time limit (bootstrap V(s_{t+1})).
        valid: float32 ``(T, N)``, 0.0 for transitions that must not enter the loss (the reset
            step of a gymnasium 1.x vector env), else 1.0.
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    valid: np.ndarray


class Memory:
    """Collects transitions from ``num_envs`` environments stepped together, one step at a time.

    A3C workers use ``num_envs=1`` and pass one observation, action and reward per step; A2C
    passes arrays with a leading ``num_envs`` axis. Either way ``to_rollout`` returns time-major
    arrays of shape ``(T, num_envs, ...)``.

    Raises:
        ValueError: from ``store`` if an item does not have ``num_envs`` entries, or an
            observation has a shape other than the first one stored.
    """

    def __init__(self, num_envs: int = 1):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = num_envs
        self.clear()

    def __len__(self) -> int:
        """Number of steps stored since the last ``clear``."""
        return len(self.actions)

    def clear(self) -> None:
        """Forgets every stored step."""
        self.states: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []
        self.rewards: list[np.ndarray] = []
        self.terminated: list[np.ndarray] = []
        self.truncated: list[np.ndarray] = []
        self.valid: list[np.ndarray] = []

    def store(self, state, action, reward, terminated, truncated, valid=True) -> None:
        """Appends one step: the observation acted on, the action, and what ``env.step`` returned.

        Args:
            state: observation(s), ``(obs_dim,)`` or ``(num_envs, obs_dim)``.
            action, reward, terminated, truncated, valid: scalars or ``(num_envs,)`` arrays.
        """
        n = self.num_envs
        state = np.asarray(state, np.float32).reshape(n, -1)
        if self.states and state.shape != self.states[0].shape:
            raise ValueError(
                f"observation shape {state.shape} differs from the first stored "
                f"{self.states[0].shape}"
            )
        self.states.append(state)
        self.actions.append(_per_env(action, np.int32, n, "action"))
        self.rewards.append(_per_env(reward, np.float32, n, "reward"))
        self.terminated.append(_per_env(terminated, np.float32, n, "terminated"))
        self.truncated.append(_per_env(truncated, np.float32, n, "truncated"))
        self.valid.append(_per_env(valid, np.float32, n, "valid"))

    def to_rollout(self, next_state, pad_to: int | None = None) -> Rollout:
        """Stacks the stored steps into a time-major ``Rollout``.

        Args:
            next_state: the observation(s) after the last stored step, ``(obs_dim,)`` or
                ``(num_envs, obs_dim)``; its value is the bootstrap of the n-step return.
            pad_to: if given, the rollout is padded to this many steps with invalid steps
                (``valid`` 0, zero reward and action, ``next_state`` as state), so a compiled
                update sees one shape whatever the rollout's length. ``compute_loss`` ignores them.

        Raises:
            ValueError: if nothing is stored, or more than ``pad_to`` steps are.
        """
        steps = len(self.actions)
        if not steps:
            raise ValueError("the memory is empty: store at least one step before to_rollout")
        padding = 0 if pad_to is None else pad_to - steps
        if padding < 0:
            raise ValueError(f"cannot pad {steps} stored steps to {pad_to}")
        next_state = np.asarray(next_state, np.float32).reshape(self.num_envs, -1)
        zeros = [np.zeros(self.num_envs, np.float32)] * padding

        def stack(items, dtype=np.float32):
            return np.stack(items + zeros).astype(dtype, copy=False)

        return Rollout(
            states=np.stack(self.states + [next_state] * (1 + padding)),
            actions=stack(self.actions, np.int32),
            rewards=stack(self.rewards),
            terminated=stack(self.terminated),
            truncated=stack(self.truncated),
            valid=stack(self.valid),
        )


def _per_env(value, dtype, num_envs: int, name: str) -> np.ndarray:
    array = np.asarray(value, dtype)
    if array.size != num_envs:
        raise ValueError(
            f"{name} must have {num_envs} entries (one per env), got shape {array.shape}"
        )
    return array.reshape(num_envs)
