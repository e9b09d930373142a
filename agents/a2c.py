"""A2C: the synchronous, batched variant of A3C (OpenAI Baselines, 2017).

The loop, in ``A2CAgent.advance``: all ``num_envs`` envs of a gymnasium vector env act together
for t_max (``update_freq``) steps, one batched forward pass a step (``RolloutCollector``, which
also masks the reset steps of gymnasium's autoreset); then the rollout of ``t_max x num_envs``
transitions gives one gradient step of the one model (``_update``): the returns and advantages
inside ``compute_loss`` under ``tf.GradientTape``, the gradient clipped to ``max_grad_norm``,
and applied by the optimizer. The same seed gives the same run.

``A2CAgent`` is an algorithm for ``training.trainer.Trainer``, which runs it.
"""

from __future__ import annotations

import contextlib

import gymnasium as gym
import keras
import tensorflow as tf

from agents.compiled import compiled
from agents.losses import compute_loss
from agents.memory import Rollout, rollout_spec
from agents.on_policy import (
    UpdateLog,
    collector_for,
    loss_settings,
    model_for,
    only_if_finite,
    rewards_for_loss,
    update_metrics,
    update_xla,
)
from agents.optimizers import make_optimizer
from agents.reward_scaling import RewardScaler
from config.hyperparameters import A2CConfig
from utils.envs import make_vector_env


class A2CAgent:
    """One ``ActorCriticModel`` trained on a vector env with synchronous batched updates.

    Args:
        config: the run's hyperparameters.
        envs: a ready vector env of ``config.num_envs`` envs in ``NEXT_STEP`` autoreset mode to
            train on instead of ``make_vector_env(config.env, ...)`` (evaluation still uses
            ``config.env``); the agent closes it.
        model: the ``ActorCriticModel`` to train, built for the env (``a3c_keras``'s agents
            build it first, to act before training); None: a new one, seeded ``config.seed``.

    Raises:
        utils.errors.EnvError: if the env is unknown or unsupported.
    """

    name = "A2C"

    def __init__(
        self,
        config: A2CConfig,
        envs: gym.vector.VectorEnv | None = None,
        model: keras.Model | None = None,
    ):
        self.config = config
        self.description = f"{config.num_envs} envs"
        keras.utils.set_random_seed(config.seed)
        if envs is None:
            envs = make_vector_env(config.env, config.num_envs, config.vector_mode)
        self.envs = envs
        self.envs_closed = False
        self.model = model if model is not None else model_for(config, envs)
        self.reward_scaler = (
            RewardScaler(config.num_envs, config.gamma) if config.normalize_rewards else None
        )
        self.optimizer = make_optimizer(config, self.model, config.update_freq * config.num_envs)
        self.rng = tf.random.Generator.from_seed(config.seed)
        self.update_log = UpdateLog(config.max_nonfinite_updates)
        self.collector = collector_for(config, envs, self.model, self.rng)
        spec = rollout_spec(
            config.update_freq, config.num_envs, envs.single_observation_space, self.model
        )
        self.update = compiled(self._update, spec, jit_compile=update_xla(config, spec))
        self.episode_log = None  # a training.episode_log.EpisodeLog, given by start

    def checkpointables(self) -> dict:
        """What a checkpoint saves besides the model and optimizer: the sampling generator, and
        the reward scaler's statistics with ``normalize_rewards``."""
        extra = {"reward_scaler": self.reward_scaler} if self.reward_scaler else {}
        return {"rng": self.rng, **extra}

    def start(self, episode_log) -> None:
        """Resets the envs (seeded ``seed + env steps so far``, so a resumed run plays new
        episodes; made anew if ``close`` closed them) and records finished episodes in
        ``episode_log`` (a ``training.episode_log.EpisodeLog``) from now on."""
        self.episode_log = episode_log
        if self.envs_closed:  # training goes on after a close: new envs, new episodes
            config = self.config
            self.envs = make_vector_env(config.env, config.num_envs, config.vector_mode)
            self.collector.envs = self.envs
            self.envs_closed = False
        self.collector.reset(seed=self.config.seed + episode_log.env_steps)

    def advance(self) -> None:
        """One A2C iteration: every env acts for t_max steps with the current policy, then one
        batched update on the whole rollout.

        Raises:
            TrainingError: after more than ``max_nonfinite_updates`` non-finite updates.
        """
        rollout = self.collect_rollout()
        metrics, acting_weights = self.update(rollout)
        self.collector.use_weights(acting_weights)
        self.update_log.record(metrics)

    def collect_rollout(self) -> Rollout:
        """Steps all envs ``update_freq`` times; records the episodes that ended (the ``worker``
        of an episode is its env's index); returns the rollout."""
        rollout, finished = self.collector.collect()
        self.episode_log.add_steps(self.config.update_freq * self.config.num_envs)
        for episode in finished:
            self.episode_log.record(episode.env, episode.episode_return, episode.length)
        return rollout

    def _update(self, rollout: Rollout):
        """One A2C update on ``rollout`` (graph code, compiled once): the loss under the tape,
        its gradient clipped, ``apply_gradients`` if finite, with the observation statistics
        (``normalize_observations``) taking in the rollout's states after it, so acting and
        the update of a rollout see the same ones.

        Returns:
            ``(metrics, acting weights)``: the update's metrics by name
            (``agents.on_policy.METRICS``), and the weights the acting pass reads as this update
            leaves them (the next rollout acts with them).
        """
        model, config = self.model, self.config
        rollout = rewards_for_loss(rollout, config, self.reward_scaler)
        with tf.GradientTape() as tape:
            loss = compute_loss(model, rollout, **loss_settings(config))
        gradients = tape.gradient(loss.total, model.trainable_variables)
        gradients, norm = tf.clip_by_global_norm(gradients, config.max_grad_norm)
        metrics = update_metrics(loss, norm)

        def update():
            self.optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
            model.update_statistics(rollout.states[:-1])  # nothing without normalisation

        applied = only_if_finite(metrics, update)
        return {**metrics, "applied": applied}, self.collector.acting_variables()

    def paused(self) -> contextlib.AbstractContextManager:
        """Nothing to pause: updates only happen inside ``advance``, on the caller's thread."""
        return contextlib.nullcontext()

    def close(self) -> None:
        """Closes the envs (``start`` makes new ones)."""
        self.envs_closed = True
        self.envs.close()
