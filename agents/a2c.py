"""A2C: the synchronous, batched variant of A3C (OpenAI Baselines, 2017).

The loop, in ``A2CAgent.advance``: all ``num_envs`` envs of a gymnasium vector env act together
for t_max (``update_freq``) steps, one batched forward pass a step (``RolloutCollector``, which
also masks the reset steps of gymnasium's autoreset); then the rollout of ``t_max x num_envs``
transitions gives the returns, the advantages and the same ``compute_loss`` as A3C, and one
gradient step of the one model (``learn``). The same seed gives the same run.

``A2CAgent`` is an algorithm for ``training.trainer.Trainer``, which runs it.
"""

from __future__ import annotations

import collections
import contextlib

import gymnasium as gym
import keras
import tensorflow as tf

from agents.memory import Rollout, rollout_spec
from agents.optimizers import make_optimizer
from agents.reward_scaling import RewardScaler
from agents.rollouts import RolloutCollector
from agents.updates import (
    HISTORY,
    NonFiniteCounter,
    RolloutFunction,
    UpdateInfo,
    apply_if_finite,
    compute_gradients,
    loss_stats,
)
from config.hyperparameters import A2CConfig
from models import build_model
from utils.envs import env_dims_of, make_vector_env


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
        if model is None:
            dims = env_dims_of(envs)
            model = build_model(dims, **config.model_options())
        self.model = model
        self.reward_scaler = (
            RewardScaler(config.num_envs, config.gamma) if config.normalize_rewards else None
        )
        self.optimizer = make_optimizer(config, self.model, config.update_freq * config.num_envs)
        self.rng = tf.random.Generator.from_seed(config.seed)
        self.nonfinite = NonFiniteCounter(config.max_nonfinite_updates)
        self.last_update: UpdateInfo | None = None
        self.updates = 0
        self.update_history: collections.deque[UpdateInfo] = collections.deque(maxlen=HISTORY)
        self.collector = RolloutCollector(
            envs,
            self.model,
            self.rng,
            config.update_freq,
            config.jit_compile,
            config.sde_sample_freq,
        )
        spec = rollout_spec(
            config.update_freq, config.num_envs, envs.single_observation_space, self.model
        )
        self._learn = RolloutFunction(self._update_graph, spec, config.jit_compile)
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
        update = self.learn(rollout)
        self.nonfinite.add(update)
        self.last_update = update
        self.updates += 1
        self.update_history.append(update)

    def collect_rollout(self) -> Rollout:
        """Steps all envs ``update_freq`` times; records the episodes that ended (the ``worker``
        of an episode is its env's index); returns the rollout."""
        rollout, finished = self.collector.collect()
        self.episode_log.add_steps(self.config.update_freq * self.config.num_envs)
        for episode in finished:
            self.episode_log.record(episode.env, episode.episode_return, episode.length)
        return rollout

    def learn(self, rollout: Rollout) -> UpdateInfo:
        """Returns, advantages, the loss of ``rollout``, its gradient and one optimizer step,
        compiled (``_update_graph``); the next rollout acts with the weights it leaves."""
        stats, applied, acting_weights = self._learn(rollout)
        self.collector.use_weights(acting_weights)
        return UpdateInfo.of(stats, applied)

    def _update_graph(self, rollout: Rollout):
        """One gradient step on ``rollout``; then the observation statistics
        (``normalize_observations``) take in its states, so acting and the update of a rollout
        see the same ones. An update whose loss or gradient is not finite changes nothing.

        Returns:
            ``(loss_stats, whether it was applied, the weights the acting pass reads as they
            are after it)``.
        """
        model = self.model
        gradients, loss, norm = compute_gradients(model, rollout, self.config, self.reward_scaler)
        variables = model.trainable_variables
        applied = apply_if_finite(self.optimizer, gradients, variables, loss.total, norm)
        if model.normalizer is not None:

            def take_in_states():
                model.update_statistics(rollout.states[:-1])
                return tf.constant(True)

            tf.cond(applied, take_in_states, lambda: tf.constant(False))
        acting_weights = self.collector.weights_for_acting()
        return loss_stats(loss, norm), applied, acting_weights

    def paused(self) -> contextlib.AbstractContextManager:
        """Nothing to pause: updates only happen inside ``advance``, on the caller's thread."""
        return contextlib.nullcontext()

    def close(self) -> None:
        """Closes the envs (``start`` makes new ones)."""
        self.envs_closed = True
        self.envs.close()
