"""Collecting rollouts from a gymnasium vector env with a model's sampled actions.

One collector serves A2C (its vector env), each A3C worker thread and each A3C Ray worker (their
``--envs_per_worker`` envs): the envs step together with one batched forward pass, and every
``t_max`` steps the stored steps become a ``Rollout`` of shape ``(t_max, num_envs)``.

gymnasium 1.x vector envs reset an env on the step *after* its episode ended (``NEXT_STEP``): that
step returns the reset observation with reward 0 and ignores the action. It is stored with
``valid`` 0, so it enters no loss and no advantage; the step before it, which ended the episode,
bootstraps from 0 if it terminated and from V(final observation) if it was truncated.

Atari games (whose steps report ``lives``): a step that loses a life is stored as terminated, so
the loss bootstraps from 0 there (the "episodic life" of Mnih et al. 2015, for training only),
while the game goes on and its episode, return and length are whole games.

A recurrent model's state is carried from step to step and zeroed, per env, after the reset
step (so an episode's first observation meets a zero state). The rollout keeps the state it
began with; ``compute_loss`` replays the rollout from it, zeroing the state after each step
with ``valid`` 0, which is what acting did.
"""

from __future__ import annotations

from typing import NamedTuple

import gymnasium as gym
import numpy as np
import tensorflow as tf

from agents.memory import Memory, Rollout, rollout_spec
from agents.updates import flatten
from models.acting import acting_policy
from utils.envs import action_clipper


class FinishedEpisode(NamedTuple):
    """An episode that ended during a rollout: which env, its return and its length (steps)."""

    env: int
    episode_return: float
    length: int


class RolloutCollector:
    """Steps ``envs`` with actions sampled from ``model``, ``t_max`` steps a rollout.

    Acting runs in NumPy (``models.acting.NumpyPolicy``, which takes the model's weights at the
    start of each rollout) or, for image models, in a compiled TensorFlow function. An update
    that has just changed the model hands the collector the new weights with its results
    (``weights_for_acting`` inside it, ``use_weights`` after it), which spares the next rollout
    a read of each variable. Actions are
    sampled with a NumPy generator seeded from ``rng`` at each ``reset`` (a rollout's noise
    drawn at once, ``distribution.noise``), so the same seed gives the same actions and a
    resumed run, whose ``rng`` comes from its checkpoint, new ones. Box actions go to the envs
    clipped to the action space's bounds; the rollout keeps the unclipped samples, whose
    log-probabilities the loss takes. A distribution that ``holds_noise`` (gSDE) draws its noise
    at the rollout's start and every ``sde_sample_freq`` steps of it, and each env keeps its
    draw between (Stable-Baselines3's ``collect_rollouts``, and Raffin et al. 2021, section 3).

    Args:
        envs: a vector env in ``NEXT_STEP`` autoreset mode; the caller closes it.
        model: an ``ActorCriticModel`` built for the envs' spaces (a worker's local model).
        rng: the ``tf.random.Generator`` that seeds the sampling at each ``reset``.
        t_max: steps a rollout (``update_freq``), >= 1.
        jit_compile: compile the TensorFlow acting pass (image models) with XLA.
        sde_sample_freq: with gSDE, steps between fresh noise within a rollout; 0: only at its
            start.

    Call ``reset(seed)`` once before the first ``collect``.
    """

    def __init__(
        self,
        envs: gym.vector.VectorEnv,
        model,
        rng: tf.random.Generator,
        t_max: int,
        jit_compile: bool = True,
        sde_sample_freq: int = 0,
    ):
        self.envs = envs
        self.model = model
        self.rng = rng
        self.t_max = t_max
        self.num_envs = envs.num_envs
        self.recurrent = bool(model.recurrent_units)
        # The states of one step, as a rollout holds them (uint8 images stay bytes): what a
        # compiled acting pass is traced for.
        states = rollout_spec(1, self.num_envs, envs.single_observation_space, model).states
        states = tf.TensorSpec(states.shape[1:], states.dtype)
        state = tf.TensorSpec([self.num_envs, model.recurrent_units], tf.float32)
        self.policy = acting_policy(
            model, states, (state, state) if self.recurrent else (), jit_compile
        )
        self.distribution = model.distribution
        # Steps each draw of the noise serves: 1 (fresh at each step) unless the distribution
        # holds it (gSDE), then until the next resample.
        self.noise_every = 1
        if self.distribution.holds_noise:
            self.noise_every = min(sde_sample_freq or t_max, t_max)
        self.memory = Memory(
            self.num_envs,
            capacity=t_max,
            action_shape=self.distribution.action_shape,
            action_dtype=self.distribution.action_dtype.as_numpy_dtype,
        )
        env_id = getattr(getattr(envs, "spec", None), "id", None) or "env"
        self.to_env = action_clipper(envs.single_action_space, env_id)
        self._handed_weights = None  # from the update before the next rollout, if any

    def weights_for_acting(self) -> tf.Tensor:
        """Graph code for a compiled update, after it changed the model: the weights the acting
        pass reads, as one float32 vector (``(0,)`` if it reads none)."""
        return flatten(self.policy.variables)

    def use_weights(self, values) -> None:
        """The next rollout acts with ``values`` (what ``weights_for_acting`` returned) as the
        model's weights, instead of reading them."""
        self._handed_weights = values

    def reset(self, seed: int) -> None:
        """Resets the envs, env ``i`` with seed ``seed + i``, and forgets running episodes."""
        # Per env: the observation to act on, whether its last step ended an episode (so the
        # next step is a reset step), and the running return and length of its episode.
        self.states, info = self.envs.reset(seed=seed)
        self.generator = np.random.default_rng(self.rng.uniform_full_int([2]).numpy())
        # Atari's lives (ale-py reports them): a life lost is terminal for the loss.
        self.lives = info.get("lives")
        self.ended = np.zeros(self.num_envs, bool)
        self.episode_returns = np.zeros(self.num_envs)
        self.episode_lengths = np.zeros(self.num_envs, np.int64)
        # A recurrent model's state, and per env 1.0 unless the last step was a reset step.
        self.recurrent_state = self.policy.initial_state(self.num_envs)
        self.keep = np.ones(self.num_envs, np.float32)

    def collect(self) -> tuple[Rollout, list[FinishedEpisode]]:
        """Steps all envs ``t_max`` times with sampled actions, acting with the model's weights
        as they are now (handed over by ``use_weights`` since the last rollout, or read).

        Returns:
            The rollout (``t_max * num_envs`` env steps) and the episodes that ended in it, in
            the order they ended.
        """
        memory, finished, policy, distribution = self.memory, [], self.policy, self.distribution
        memory.clear()
        policy.sync(self._handed_weights)
        self._handed_weights = None
        every = self.noise_every
        noise = distribution.noise(self.generator, (-(-self.t_max // every), self.num_envs))
        recurrent_state = self.recurrent_state
        for t in range(self.t_max):
            if self.recurrent:  # the state goes on, zeroed after a reset step
                keep = self.keep[:, None]
                recurrent_state = tuple(np.asarray(part) * keep for part in recurrent_state)
                if t == 0:
                    initial = recurrent_state  # the state the rollout begins with
            params, recurrent_state = policy(self.states, recurrent_state)
            actions = distribution.sample(params, noise[t // every])
            next_states, rewards, terminated, truncated, info = self.envs.step(self.to_env(actions))
            valid = ~self.ended  # False on the reset step that follows an episode's end
            ends_life = terminated
            if self.lives is not None:  # fewer lives than the last step (not a new game)
                ends_life = terminated | ((info["lives"] < self.lives) & valid)
                self.lives = info["lives"]
            if self.recurrent:  # the state goes on unless this was a reset step
                self.keep = valid.astype(np.float32)
            memory.store(self.states, actions, rewards, ends_life, truncated, valid)
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
        rollout = memory.to_rollout(self.states)
        if self.recurrent:
            self.recurrent_state = recurrent_state
            rollout = rollout._replace(recurrent_state=initial)
        return rollout, finished
