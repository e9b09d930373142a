"""Collecting rollouts from a gymnasium vector env with a model's sampled actions.

One collector serves A2C (its vector env), each A3C worker thread and each A3C Ray worker (their
``--envs_per_worker`` envs): the envs step together with one batched forward pass, and every
``t_max`` steps the stored steps become a ``Rollout`` of shape ``(t_max, num_envs)``.

gymnasium 1.x vector envs reset an env on the step *after* its episode ended (``NEXT_STEP``): that
step returns the reset observation with reward 0 and ignores the action. It is stored with
``valid`` 0, so it enters no loss and no advantage; the step before it, which ended the episode,
bootstraps from 0 if it terminated and from V(final observation) if it was truncated.
"""

from __future__ import annotations

from typing import NamedTuple

import gymnasium as gym
import numpy as np
import tensorflow as tf

from agents.memory import Memory, Rollout
from utils.envs import action_clipper


class FinishedEpisode(NamedTuple):
    """An episode that ended during a rollout: which env, its return and its length (steps)."""

    env: int
    episode_return: float
    length: int


class RolloutCollector:
    """Steps ``envs`` with actions sampled from ``model``, ``t_max`` steps a rollout.

    Box actions go to the envs clipped to the action space's bounds; the rollout keeps the
    unclipped samples, whose log-probabilities the loss takes.

    Args:
        envs: a vector env in ``NEXT_STEP`` autoreset mode; the caller closes it.
        model: an ``ActorCriticModel`` built for the envs' spaces (a worker's local model).
        rng: the ``tf.random.Generator`` actions are sampled with.
        t_max: steps a rollout (``update_freq``), >= 1.
        jit_compile: compile acting with XLA.

    Call ``reset(seed)`` once before the first ``collect``.
    """

    def __init__(
        self,
        envs: gym.vector.VectorEnv,
        model,
        rng: tf.random.Generator,
        t_max: int,
        jit_compile: bool = True,
    ):
        self.envs = envs
        self.model = model
        self.rng = rng
        self.t_max = t_max
        self.num_envs = envs.num_envs
        obs_dim = int(np.prod(envs.single_observation_space.shape))
        # A concrete function: calling one skips tf.function's signature matching, which costs
        # more than the tiny network itself (measured: 76 us against 173 us a call).
        self.act = tf.function(self._act, jit_compile=jit_compile).get_concrete_function(
            tf.TensorSpec([self.num_envs, obs_dim], tf.float32)
        )
        distribution = model.distribution
        self.memory = Memory(
            self.num_envs,
            capacity=t_max,
            action_shape=distribution.action_shape,
            action_dtype=distribution.action_dtype.as_numpy_dtype,
        )
        self.to_env = action_clipper(envs.single_action_space)

    def _act(self, states):
        """a ~ pi(.|s) for every env: float32 ``(num_envs, obs_dim)`` -> ``(num_envs, ...)``."""
        params, _ = self.model(states)
        return self.model.distribution.sample(params, self.rng)

    def reset(self, seed: int) -> None:
        """Resets the envs, env ``i`` with seed ``seed + i``, and forgets running episodes."""
        # Per env: the observation to act on, whether its last step ended an episode (so the
        # next step is a reset step), and the running return and length of its episode.
        self.states, _ = self.envs.reset(seed=seed)
        self.ended = np.zeros(self.num_envs, bool)
        self.episode_returns = np.zeros(self.num_envs)
        self.episode_lengths = np.zeros(self.num_envs, np.int64)

    def collect(self) -> tuple[Rollout, list[FinishedEpisode]]:
        """Steps all envs ``t_max`` times with sampled actions.

        Returns:
            The rollout (``t_max * num_envs`` env steps) and the episodes that ended in it, in
            the order they ended.
        """
        memory, finished = self.memory, []
        memory.clear()
        for _ in range(self.t_max):
            actions = self.act(self.states).numpy()
            next_states, rewards, terminated, truncated, _ = self.envs.step(self.to_env(actions))
            valid = ~self.ended  # False on the reset step that follows an episode's end
            memory.store(self.states, actions, rewards, terminated, truncated, valid)
            self.episode_returns += rewards * valid
            self.episode_lengths += valid
            self.ended = terminated | truncated
            if self.ended.any():
                for env in np.flatnonzero(self.ended):
                    returned, length = self.episode_returns[env], self.episode_lengths[env]
                    finished.append(FinishedEpisode(int(env), float(returned), int(length)))
                self.episode_returns[self.ended] = 0.0
                self.episode_lengths[self.ended] = 0
            self.states = next_states
        return memory.to_rollout(self.states), finished
