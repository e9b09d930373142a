"""A2C: the synchronous, batched variant of A3C (OpenAI Baselines, 2017).

All envs of a gymnasium vector env step together with one batched forward pass
(``RolloutCollector``, which also masks the reset steps of gymnasium's autoreset); every
``update_freq`` steps the rollout of ``update_freq x num_envs`` transitions gives one gradient
step of the same ``compute_loss`` as A3C. The same seed gives the same run.

``A2CAgent`` is an algorithm for ``training.trainer.Trainer``, which runs it.
"""

from __future__ import annotations

import contextlib

import gymnasium as gym
import keras
import tensorflow as tf

from agents.memory import Rollout, as_tensors, rollout_spec
from agents.reward_scaling import RewardScaler
from agents.rollouts import RolloutCollector
from agents.updates import (
    NonFiniteCounter,
    apply_if_finite,
    compute_gradients,
    make_optimizer,
)
from config.hyperparameters import A2CConfig
from models import build_model
from utils.envs import env_dims, make_vector_env


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
        dims = env_dims(envs.single_observation_space, envs.single_action_space)
        self.model = build_model(dims, **config.model_options())
        self.reward_scaler = (
            RewardScaler(config.num_envs, config.gamma) if config.normalize_rewards else None
        )
        self.optimizer = make_optimizer(config, self.model, config.update_freq * config.num_envs)
        self.rng = tf.random.Generator.from_seed(config.seed)
        self.nonfinite = NonFiniteCounter(config.max_nonfinite_updates)
        self.last_update = None  # (LossInfo, gradient norm) of the newest update
        self.updates = 0
        self.acting_weights = None  # the newest update's weights for the acting pass
        self.collector = RolloutCollector(
            envs, self.model, self.rng, config.update_freq, config.jit_compile
        )
        self.update = tf.function(self._update, jit_compile=config.jit_compile)
        self.update = self.update.get_concrete_function(
            rollout_spec(
                config.update_freq, config.num_envs, envs.single_observation_space, self.model
            )
        )
        self.episode_log = None  # a training.episode_log.EpisodeLog, given by start

    def checkpointables(self) -> dict:
        """What a checkpoint saves besides the model and optimizer: the sampling generator, and
        the reward scaler's statistics with ``normalize_rewards``."""
        extra = {"reward_scaler": self.reward_scaler} if self.reward_scaler else {}
        return {"rng": self.rng, **extra}

    def _update(self, rollout):
        """One gradient step on ``rollout``, skipped if the loss or gradient is not finite;
        then the observation statistics (``normalize_observations``) take in its states, so
        acting and the update of a rollout see the same ones.

        Returns:
            ``(LossInfo, gradient norm before clipping, whether it was applied, the weights the
            acting pass reads as they are after it)``: handing them back with the update's
            results spares the next rollout a read of each (``RolloutCollector.collect``).
        """
        model = self.model
        gradients, loss, norm = compute_gradients(model, rollout, self.config, self.reward_scaler)
        variables = model.trainable_variables
        applied = apply_if_finite(self.optimizer, gradients, variables, loss.total, norm)
        with tf.control_dependencies([applied]):
            model.update_statistics(rollout.states[:-1])
        acting = [tf.convert_to_tensor(weight) for weight in self.collector.policy.variables]
        return loss, norm, applied, acting

    def start(self, episode_log) -> None:
        """Resets the envs (seeded ``seed + env steps so far``, so a resumed run plays new
        episodes) and records finished episodes in ``episode_log`` from now on."""
        self.episode_log = episode_log
        self.collector.reset(seed=self.config.seed + episode_log.env_steps)

    def collect_rollout(self) -> Rollout:
        """Steps all envs ``update_freq`` times; records the episodes that ended (the ``worker``
        of an episode is its env's index); returns the rollout."""
        acting_weights, self.acting_weights = self.acting_weights, None
        rollout, finished = self.collector.collect(acting_weights)
        self.episode_log.add_steps(self.config.update_freq * self.config.num_envs)
        for episode in finished:
            self.episode_log.record(episode.env, episode.episode_return, episode.length)
        return rollout

    def advance(self) -> None:
        """One rollout and one update.

        Raises:
            TrainingError: after more than ``max_nonfinite_updates`` non-finite updates.
        """
        rollout = as_tensors(self.collect_rollout())
        loss, norm, applied, self.acting_weights = self.update(rollout)
        self.nonfinite.add(applied, loss)
        self.last_update = (loss, norm)
        self.updates += 1

    def paused(self) -> contextlib.AbstractContextManager:
        """Nothing to pause: updates only happen inside ``advance``, on the caller's thread."""
        return contextlib.nullcontext()

    def close(self) -> None:
        """Closes the envs."""
        self.envs.close()
