"""A2C: the synchronous, batched variant of A3C (OpenAI Baselines, 2017).

All envs of a gymnasium vector env step together with one batched forward pass; every
``update_freq`` steps the rollout of ``update_freq x num_envs`` transitions gives one gradient
step of the same ``compute_loss`` as A3C. The same seed gives the same run.

gymnasium 1.x vector envs reset an env on the step *after* its episode ended (``NEXT_STEP``): that
step returns the reset observation with reward 0 and ignores the action. It is stored with
``valid`` 0, so it enters no loss and no advantage; the step before it, which ended the episode,
bootstraps from 0 if it terminated and from V(final observation) if it was truncated.

``A2CAgent`` is an algorithm for ``agents.trainer.Trainer``, which runs it.
"""

from __future__ import annotations

import contextlib

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from agents.config import A2CConfig
from agents.episode_log import EpisodeLog
from agents.memory import Memory, Rollout, rollout_spec
from agents.updates import NonFiniteCounter, apply_if_finite, compute_gradients
from models import ActorCriticModel
from utils.envs import make_vector_env


class A2CAgent:
    """One ``ActorCriticModel`` trained on a vector env with synchronous batched updates.

    Args:
        config: the run's hyperparameters.
        envs: a ready vector env of ``config.num_envs`` envs in ``NEXT_STEP`` autoreset mode to
            train on instead of ``make_vector_env(config.env, ...)`` (evaluation still uses
            ``config.env``); the agent closes it.

    Raises:
        utils.envs.EnvError: if the env is unknown or unsupported.
    """

    name = "A2C"

    def __init__(self, config: A2CConfig, envs: gym.vector.VectorEnv | None = None):
        self.config = config
        self.description = f"{config.num_envs} envs"
        keras.utils.set_random_seed(config.seed)
        if envs is None:
            envs = make_vector_env(config.env, config.num_envs, config.vector_mode)
        self.envs = envs
        obs_dim = int(np.prod(envs.single_observation_space.shape))
        num_actions = int(envs.single_action_space.n)
        self.model = ActorCriticModel(num_actions, config.hidden_units).build_for(obs_dim)
        self.optimizer = keras.optimizers.Adam(config.lr)
        self.optimizer.build(self.model.trainable_variables)
        self.rng = tf.random.Generator.from_seed(config.seed)
        self.nonfinite = NonFiniteCounter(config.max_nonfinite_updates)
        self.last_update = None  # (LossInfo, gradient norm) of the newest update
        compiled = tf.function(jit_compile=config.jit_compile)
        self.act = compiled(self._act).get_concrete_function(
            tf.TensorSpec([config.num_envs, obs_dim], tf.float32)
        )
        self.update = compiled(self._update).get_concrete_function(
            rollout_spec(config.update_freq, config.num_envs, obs_dim, self.model.distribution)
        )
        self.memory = Memory(config.num_envs, capacity=config.update_freq)
        self.episode_log: EpisodeLog | None = None

    def checkpointables(self) -> dict:
        """What a checkpoint saves besides the model and optimizer: the sampling generator."""
        return {"rng": self.rng}

    def _act(self, states):
        """Samples a ~ pi(.|s) for every env: float32 ``(num_envs, obs_dim)`` -> ``(num_envs,)``."""
        params, _ = self.model(states)
        return self.model.distribution.sample(params, self.rng)

    def _update(self, rollout):
        """One gradient step on ``rollout``, skipped if the loss or gradient is not finite.

        Returns:
            ``(LossInfo, gradient norm before clipping, whether it was applied)``.
        """
        gradients, loss, norm = compute_gradients(self.model, rollout, self.config)
        variables = self.model.trainable_variables
        return loss, norm, apply_if_finite(self.optimizer, gradients, variables, loss, norm)

    def start(self, episode_log: EpisodeLog) -> None:
        """Resets the envs (seeded ``seed + env steps so far``, so a resumed run plays new
        episodes) and records finished episodes in ``episode_log`` from now on."""
        self.episode_log = episode_log
        num_envs = self.config.num_envs
        # Per env: the observation to act on, whether its last step ended an episode (so the
        # next step is a reset step), and the running return and length of its episode.
        self.states, _ = self.envs.reset(seed=self.config.seed + episode_log.env_steps)
        self.ended = np.zeros(num_envs, bool)
        self.episode_returns = np.zeros(num_envs)
        self.episode_lengths = np.zeros(num_envs, np.int64)

    def collect_rollout(self) -> Rollout:
        """Steps all envs ``update_freq`` times with sampled actions; returns the rollout.

        Finished episodes are recorded in the episode log given to ``start``.
        """
        memory, log, num_envs = self.memory, self.episode_log, self.config.num_envs
        memory.clear()
        for _ in range(self.config.update_freq):
            actions = self.act(self.states).numpy()
            next_states, rewards, terminated, truncated, _ = self.envs.step(actions)
            valid = ~self.ended  # False on the reset step that follows an episode's end
            memory.store(self.states, actions, rewards, terminated, truncated, valid)
            log.add_steps(num_envs)
            self.episode_returns += rewards * valid
            self.episode_lengths += valid
            self.ended = terminated | truncated
            for env in np.flatnonzero(self.ended):
                log.record(env, self.episode_returns[env], self.episode_lengths[env])
            self.episode_returns[self.ended] = 0.0
            self.episode_lengths[self.ended] = 0
            self.states = next_states
        return memory.to_rollout(self.states)

    def advance(self) -> None:
        """One rollout and one update.

        Raises:
            TrainingError: after more than ``max_nonfinite_updates`` non-finite updates.
        """
        loss, norm, applied = self.update(self.collect_rollout())
        self.nonfinite.add(applied, loss)
        self.last_update = (loss, norm)

    def paused(self) -> contextlib.AbstractContextManager:
        """Nothing to pause: updates only happen inside ``advance``, on the caller's thread."""
        return contextlib.nullcontext()

    def close(self) -> None:
        """Closes the envs."""
        self.envs.close()
