"""A2C: the synchronous, batched variant of A3C (OpenAI Baselines, 2017).

All envs of a gymnasium vector env step together with one batched forward pass; every
``update_freq`` steps the rollout of ``update_freq x num_envs`` transitions gives one gradient
step of the same ``compute_loss`` as A3C. The same seed gives the same run.

gymnasium 1.x vector envs reset an env on the step *after* its episode ended (``NEXT_STEP``): that
step returns the reset observation with reward 0 and ignores the action. It is stored with
``valid`` 0, so it enters no loss and no advantage; the step before it, which ended the episode,
bootstraps from 0 if it terminated and from V(final observation) if it was truncated.
"""

from __future__ import annotations

import os
import threading
import time

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf
from absl import logging

from agents.config import A2CConfig
from agents.episode_log import Episode, EpisodeLog, solved
from agents.evaluation import Evaluation, evaluate, greedy_policy
from agents.memory import Memory, Rollout
from agents.summaries import Summaries, progress_line, run_directory
from agents.training import (
    NonFiniteCounter,
    apply_if_finite,
    compute_gradients,
    rollout_spec,
    sample_actions,
)
from agents.training_state import NoCheckpointError, TrainingState
from models import ActorCriticModel
from utils.checkpoint import all_finite, model_path, save_weights
from utils.envs import make_vector_env, reward_threshold


class A2CAgent:
    """Trains one ``ActorCriticModel`` on a vector env with synchronous batched updates.

    Args:
        config: the run's hyperparameters.
        save_dir: where the best weights go, as ``model_path(save_dir, env_id)``.
        envs: a ready vector env of ``config.num_envs`` envs in ``NEXT_STEP`` autoreset mode to
            train on instead of ``make_vector_env(config.env_id, ...)`` (evaluation still uses
            ``config.env_id``); the agent closes it.
        resume: continue from the newest checkpoint in ``save_dir``: weights, optimizer, random
            generator, episode and step counts, best evaluation.

    Raises:
        utils.envs.EnvError: if the env is unknown or unsupported.
        NoCheckpointError: with ``resume``, if there is no checkpoint to resume.
    """

    def __init__(
        self,
        config: A2CConfig,
        save_dir: str | os.PathLike,
        envs: gym.vector.VectorEnv | None = None,
        resume: bool = False,
    ):
        self.config = config
        self.title = f"A2C on {config.env_id}"
        self.save_path = model_path(save_dir, config.env_id)
        self.threshold = reward_threshold(config.env_id)
        keras.utils.set_random_seed(config.seed)
        if envs is None:
            envs = make_vector_env(config.env_id, config.num_envs, config.vector_mode)
        self.envs = envs
        obs_dim = int(np.prod(self.envs.single_observation_space.shape))
        num_actions = int(self.envs.single_action_space.n)
        self.model = ActorCriticModel(num_actions, config.hidden_units).build_for(obs_dim)
        self.optimizer = keras.optimizers.Adam(config.lr)
        self.optimizer.build(self.model.trainable_variables)
        self.rng = tf.random.Generator.from_seed(config.seed)
        compiled = tf.function(jit_compile=config.jit_compile)
        self.act = compiled(self._act).get_concrete_function(
            tf.TensorSpec([config.num_envs, obs_dim], tf.float32)
        )
        self.update = compiled(self._update).get_concrete_function(
            rollout_spec(config.update_freq, config.num_envs, obs_dim)
        )
        self.memory = Memory(config.num_envs, capacity=config.update_freq)
        self.episode_log = EpisodeLog(max_episodes=None)
        self.evaluations: list[Evaluation] = []
        self.eval_policy = greedy_policy(self.model)
        self.summaries = Summaries(run_directory(save_dir, "a2c"))
        self.stop = threading.Event()
        self.interrupted = False
        self.nonfinite = NonFiniteCounter(config.max_nonfinite_updates)
        # Checkpointed with the model: seconds of training (evaluations excluded) and the best
        # greedy evaluation so far, so a resumed run keeps counting and keeps the best model.
        self.seconds = tf.Variable(0.0, dtype=tf.float64)
        self.best_evaluation = tf.Variable(float("-inf"), dtype=tf.float64)
        self.state = TrainingState(
            save_dir,
            config.env_id,
            self.episode_log,
            model=self.model,
            optimizer=self.optimizer,
            rng=self.rng,
            seconds=self.seconds,
            best_evaluation=self.best_evaluation,
        )
        if resume:
            try:
                self.state.restore()
            except NoCheckpointError:
                self.envs.close()
                raise
        self._reported = len(self.episode_log.episodes)
        # Per env: the observation to act on, whether its last step ended an episode (so the
        # next step is a reset step), and the running return and length of its episode.
        self.states, _ = self.envs.reset(seed=config.seed + self.episode_log.env_steps)
        self.ended = np.zeros(config.num_envs, bool)
        self.episode_returns = np.zeros(config.num_envs)
        self.episode_lengths = np.zeros(config.num_envs, np.int64)

    def _act(self, states):
        return sample_actions(self.model, self.rng, states)

    def _update(self, rollout):
        """One gradient step on ``rollout``, skipped if the loss or gradient is not finite.

        Returns:
            ``(LossInfo, gradient norm before clipping, whether it was applied)``.
        """
        gradients, loss, norm = compute_gradients(self.model, rollout, self.config)
        variables = self.model.trainable_variables
        return loss, norm, apply_if_finite(self.optimizer, gradients, variables, loss, norm)

    @property
    def train_seconds(self) -> float:
        """Seconds of training, evaluations excluded, over all resumed parts of the run."""
        return float(self.seconds.numpy())

    def request_stop(self) -> None:
        """Asks ``train`` to stop after the current rollout (a signal handler calls this)."""
        self.interrupted = True
        self.stop.set()

    def collect_rollout(self) -> Rollout:
        """Steps all envs ``update_freq`` times with sampled actions; returns the rollout.

        Finished episodes are recorded in ``episode_log``.
        """
        memory = self.memory
        memory.clear()
        for _ in range(self.config.update_freq):
            actions = self.act(self.states).numpy()
            next_states, rewards, terminated, truncated, _ = self.envs.step(actions)
            valid = ~self.ended  # False on the reset step that follows an episode's end
            memory.store(self.states, actions, rewards, terminated, truncated, valid)
            self.episode_log.add_steps(self.config.num_envs)
            self.episode_returns += rewards * valid
            self.episode_lengths += valid
            self.ended = terminated | truncated
            for env in np.flatnonzero(self.ended):
                self.episode_log.record(env, self.episode_returns[env], self.episode_lengths[env])
            self.episode_returns[self.ended] = 0.0
            self.episode_lengths[self.ended] = 0
            self.states = next_states
        return memory.to_rollout(self.states)

    def train(self) -> list[Episode]:
        """Trains until ``max_steps`` env steps, the threshold with ``stop_at_threshold``, or
        ``request_stop``; checkpoints every ``checkpoint_every`` updates and at the end.

        Returns:
            The finished training episodes, in order.

        Raises:
            TrainingError: after more than ``max_nonfinite_updates`` non-finite updates; no
                checkpoint is written over the last good one.
        """
        config, log = self.config, self.episode_log
        interval = config.eval_interval
        next_eval = (log.env_steps // interval + 1) * interval if interval else 0
        next_report = log.env_steps
        updates = 0
        start = time.perf_counter()
        try:
            while log.env_steps < config.max_steps and not self.stop.is_set():
                loss, norm, applied = self.update(self.collect_rollout())
                self.nonfinite.add(applied, loss)
                updates += 1
                if log.env_steps >= next_report:
                    self._report(loss, norm, start)
                    next_report += max(config.max_steps // 50, 1)
                if interval and log.env_steps >= next_eval:
                    start = self._pause_clock(start)
                    self._evaluate()
                    next_eval += interval
                if updates % config.checkpoint_every == 0:
                    start = self._pause_clock(start)
                    self.state.save()
                if (
                    config.stop_at_threshold
                    and log.episodes
                    and solved(log.episodes[-1], self.threshold, log.window)
                ):
                    logging.info(
                        "mean return of the last 100 episodes reached %g at %d env steps",
                        self.threshold,
                        log.env_steps,
                    )
                    break
            self._pause_clock(start)
        finally:
            self.envs.close()
            self.summaries.close()
        if not config.eval_interval:
            if all_finite(self.model):
                save_weights(self.model, self.save_path, config.env_id)
        elif not self.evaluations or self.evaluations[-1].env_steps != log.env_steps:
            self._evaluate()  # the final model competes too
        self.summaries.close()
        self.state.save()
        return list(log.episodes)

    def _pause_clock(self, start: float) -> float:
        """Adds the seconds since ``start`` to the training time; returns a new start."""
        self.seconds.assign_add(time.perf_counter() - start)
        return time.perf_counter()

    def _evaluate(self) -> None:
        """Greedy evaluation; saves the model when its mean return is the best so far (or tied).

        Its episodes are seeded from ``seed + 20_000``, apart from those of the report after
        training (``seed + 10_000``), so the model is not chosen on the episodes it is judged on.
        """
        log = self.episode_log
        result = evaluate(
            self.model,
            self.config.env_id,
            self.config.eval_episodes,
            seed=self.config.seed + 20_000,
            policy=self.eval_policy,
        )
        self.evaluations.append(Evaluation(log.env_steps, len(log.episodes), result))
        self.summaries.evaluation(log.env_steps, result)
        if result.mean >= self.best_evaluation.numpy() and all_finite(self.model):
            self.best_evaluation.assign(result.mean)
            save_weights(self.model, self.save_path, self.config.env_id)
        logging.info("%d env steps: %s", log.env_steps, result.summary())

    def _report(self, loss, norm, start: float) -> None:
        """TensorBoard scalars of the new episodes and this update; the progress line."""
        log = self.episode_log
        seconds = self.train_seconds + time.perf_counter() - start
        steps_per_second = log.env_steps / max(seconds, 1e-9)
        self.summaries.episodes(log.episodes[self._reported :], log.env_steps)
        self._reported = len(log.episodes)
        self.summaries.update(
            log.env_steps, loss, norm, self.optimizer.learning_rate, steps_per_second
        )
        last = log.episodes[-1] if log.episodes else None
        logging.info(
            "%s | %d episodes | mean(100) %.1f | entropy %.3f",
            progress_line(
                log.env_steps,
                self.config.max_steps,
                "env step",
                last.moving_average if last else float("nan"),
                steps_per_second,
                seconds,
            ),
            len(log.episodes),
            last.recent_mean if last else float("nan"),
            float(loss.entropy),
        )
