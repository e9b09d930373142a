"""The one training loop: budgets, progress, TensorBoard, evaluations, the best model,
checkpoints, the threshold and signal stops, and the training clock, for every algorithm.

An algorithm (``MasterAgent`` for A3C, ``A2CAgent``) only gathers experience and updates its
model; it does that through the small ``Algorithm`` interface below, and ``Trainer`` does the
rest. The best-model rule is the same for all: the weights that scored best in a greedy
evaluation are the saved model (ties go to the later one); with ``eval_interval=0``, the final
weights are.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from typing import Protocol

import keras
import tensorflow as tf
from absl import logging

from agents.updates import UpdateInfo
from config.hyperparameters import ActorCriticConfig
from training.episode_log import Episode, EpisodeLog
from training.evaluation import Evaluation, evaluate, greedy_policy
from training.state import TrainingState
from training.summaries import Summaries, progress_line, run_directory
from utils.checkpoint import all_finite, model_path, save_weights
from utils.envs import reward_threshold
from utils.errors import TrainingError

# Greedy evaluations during training are seeded from here; the report after training uses
# ``seed + REPORT_SEED_OFFSET``, so the model is not chosen on the episodes it is judged on.
EVAL_SEED_OFFSET = 20_000
REPORT_SEED_OFFSET = 10_000
# Progress lines a run: one each time another 1/REPORTS of the budget is used.
REPORTS = 50


class Algorithm(Protocol):
    """What ``Trainer`` needs of an algorithm.

    Attributes:
        name: "A3C", "A2C": titles and the TensorBoard run's name.
        description: its size for the log, such as "2 workers" or "8 envs".
        config: the run's hyperparameters.
        model: the (global) model that is evaluated, saved and checkpointed.
        optimizer: a built Keras optimizer; its ``iterations`` count the applied updates.
        last_update: the newest update's ``agents.updates.UpdateInfo``, or None.
        updates: updates made since ``start`` (a plain int: cheaper to read than the
            optimizer's ``iterations`` after every A2C rollout).
    """

    name: str
    description: str
    config: ActorCriticConfig
    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    last_update: UpdateInfo | None
    updates: int

    def checkpointables(self) -> dict:
        """Trackables a checkpoint saves besides model and optimizer (random generators, reward
        scalers)."""

    def start(self, episode_log: EpisodeLog) -> None:
        """Called once, after a resume: begin gathering experience into ``episode_log``."""

    def advance(self) -> None:
        """Make some progress, returning within about 0.2 s: A2C runs one rollout and update,
        A3C waits while its workers train. Raises ``TrainingError`` on a fault."""

    def paused(self) -> contextlib.AbstractContextManager:
        """A context within which no update reaches ``model`` (for evaluations and saving)."""

    def close(self) -> None:
        """Stop gathering and release envs and threads; raises ``TrainingError`` if a worker
        failed."""


class Trainer:
    """Runs an algorithm to the end of its budget and keeps what a run leaves behind.

    Args:
        algorithm: an ``Algorithm``, not yet started.
        save_dir: the run's directory: the best model (``model_path(save_dir, env)``), the
            training checkpoints (``TrainingState``), TensorBoard logs under ``logs/``.
        resume: continue from the newest checkpoint in ``save_dir``: weights, optimizer, random
            generators, episodes, env steps, training seconds and best evaluation.

    Raises:
        NoCheckpointError: with ``resume``, if there is no checkpoint to resume.
        CheckpointError: with ``resume``, if the checkpoint does not fit this run.

    Nothing is written until ``train``.
    """

    def __init__(self, algorithm: Algorithm, save_dir: str | os.PathLike, resume: bool = False):
        config = algorithm.config
        self.algorithm = algorithm
        self.config = config
        self.title = f"{algorithm.name} on {config.env}"
        self.save_path = model_path(save_dir, config.env)
        self.threshold = reward_threshold(config.env)
        self.episode_log = EpisodeLog(
            max_episodes=config.max_eps or None,
            max_steps=config.max_steps or None,
            stop_at=self.threshold if config.stop_at_threshold else None,
        )
        self.evaluations: list[Evaluation] = []
        self.eval_policy = greedy_policy(algorithm.model)
        self.stop = threading.Event()
        # Checkpointed: seconds of training (evaluations and checkpoints excluded) and the best
        # greedy evaluation so far, so a resumed run keeps counting and keeps its best model.
        self.seconds = tf.Variable(0.0, dtype=tf.float64)
        self.best_evaluation = tf.Variable(float("-inf"), dtype=tf.float64)
        self.state = TrainingState(
            save_dir,
            config.env,
            self.episode_log,
            settings=dataclasses.asdict(config),
            model=algorithm.model,
            optimizer=algorithm.optimizer,
            seconds=self.seconds,
            best_evaluation=self.best_evaluation,
            **algorithm.checkpointables(),
        )
        if resume:
            self.state.restore()
            # The optimizer's checkpointed learning rate gives way to this run's (--lr); a
            # schedule goes on from the checkpointed update count.
            if config.lr_schedule == "constant":
                algorithm.optimizer.learning_rate = config.lr
        self.summaries = Summaries(run_directory(save_dir, algorithm.name.lower()))
        self._reported = len(self.episode_log.episodes)  # episodes in TensorBoard so far
        self._next_report = 0.0  # the budget's fraction at which the next progress line is due
        self._reported_steps = -1  # env steps at the last progress line
        # (env steps, seconds, budget units done) at the first report after an update: the pace
        # of the progress lines is measured from there, past start-up and compilation.
        self._pace_from: tuple[int, float, int] | None = None
        self._running_since: float | None = None  # the training clock runs while set

    @property
    def train_seconds(self) -> float:
        """Seconds of training so far, evaluations and checkpoints excluded, resumed parts
        included."""
        running = time.perf_counter() - self._running_since if self._running_since else 0.0
        return float(self.seconds.numpy()) + running

    def request_stop(self) -> None:
        """Ends training after the current step (a signal handler calls this)."""
        self.stop.set()

    def train(self) -> list[Episode]:
        """Trains until a budget is used, the threshold is reached (``stop_at_threshold``), a
        greedy evaluation reaches ``stop_at_eval_return``, or ``request_stop``; returns the
        finished training episodes, in order.

        Along the way: a progress line and TensorBoard scalars each 2% of the budget, a greedy
        evaluation every ``eval_interval`` env steps (saving the model when it is the best yet),
        a checkpoint every ``checkpoint_every`` updates. At the end: the final model is evaluated
        too (or, with ``eval_interval=0``, saved), then a checkpoint is written.

        Raises:
            TrainingError: a worker failed, or updates kept being non-finite; no checkpoint is
                written over the last good one. After a fault that left the model intact
                (``EnvFault``, ``BackendLost``) the run is checkpointed first, and the message
                says where.
        """
        config, log, algorithm = self.config, self.episode_log, self.algorithm
        logging.info("training %s (%s) for %s", self.title, algorithm.description, budget(config))
        self.summaries.hyperparameters(dataclasses.asdict(config))
        interval = config.eval_interval
        next_eval = (log.env_steps // interval + 1) * interval if interval else 0
        next_checkpoint = config.checkpoint_every  # counted in updates since start
        try:
            try:
                try:
                    algorithm.start(log)  # threads compile, processes start: not training time
                    self._running_since = time.perf_counter()
                    while not (log.done.is_set() or self.stop.is_set()):
                        algorithm.advance()
                        self._report()
                        if interval and log.env_steps >= next_eval:
                            with self._clock_paused():
                                self._evaluate()
                            next_eval += interval
                        if algorithm.updates >= next_checkpoint:
                            with self._clock_paused():
                                self._save_state()
                            next_checkpoint += config.checkpoint_every
                finally:
                    self._stop_clock()  # stopping workers (and Ray) is not training time
                    try:
                        algorithm.close()
                    finally:
                        self._report(final=True)
            except TrainingError as fault:
                if not fault.model_intact or not log.episodes:
                    raise
                # An env or the backend failed, not the model: the run so far is kept.
                prefix = self._save_state()
                kept = f"the run was checkpointed ({prefix}; --resume continues it)"
                raise type(fault)(f"{fault}; {kept}" if prefix else str(fault)) from None
            if log.solved_at is not None:
                logging.info(
                    "the mean return of the last 100 episodes reached %g at episode %d, "
                    "%d env steps",
                    self.threshold,
                    log.solved_at.index,
                    log.solved_at.env_steps,
                )
            if not interval:
                self._save_model()
            elif not self.evaluations or self.evaluations[-1].env_steps != log.env_steps:
                self._evaluate()  # the final model competes too
        finally:
            self.summaries.close()  # one event file a run, flushed whatever happened
        self._save_state()
        return list(log.episodes)

    def _stop_clock(self) -> None:
        """Adds the seconds since the clock last started to the training time."""
        if self._running_since is not None:
            self.seconds.assign_add(time.perf_counter() - self._running_since)
            self._running_since = None

    @contextlib.contextmanager
    def _clock_paused(self):
        """The training clock stops within."""
        self._stop_clock()
        try:
            yield
        finally:
            self._running_since = time.perf_counter()

    def _save_state(self) -> str:
        """Checkpoints the training state, no update running; returns its path prefix."""
        with self.algorithm.paused():
            return self.state.save()

    def _save_model(self) -> None:
        """Saves the model's weights as the run's model, unless one is not finite."""
        model = self.algorithm.model
        if all_finite(model):
            save_weights(model, self.save_path, self.config.env)
        else:
            logging.warning("not saving the model: a weight is NaN or infinite")

    def _evaluate(self) -> None:
        """Greedy evaluation of the model as it is now (updates paused); saves it when its mean
        return is the best so far or ties it. Episodes seeded from ``seed + EVAL_SEED_OFFSET``."""
        log, config = self.episode_log, self.config
        with self.algorithm.paused():
            result = evaluate(
                self.algorithm.model,
                config.env,
                config.eval_episodes,
                seed=config.seed + EVAL_SEED_OFFSET,
                policy=self.eval_policy,
            )
            if result.mean >= self.best_evaluation.numpy() and all_finite(self.algorithm.model):
                self.best_evaluation.assign(result.mean)
                self._save_model()
        self.evaluations.append(Evaluation(log.env_steps, len(log.episodes), result))
        self.summaries.evaluation(log.env_steps, result)
        logging.info("%d env steps: %s", log.env_steps, result.summary())
        target = config.stop_at_eval_return
        if target > float("-inf") and result.mean >= target:
            logging.info(
                "the greedy evaluation reached %g (--stop_at_eval_return): stopping",
                target,
            )
            self.stop.set()

    def _report(self, final: bool = False) -> None:
        """Each 2% of the budget (and at the end): TensorBoard scalars of the episodes since the
        last report and of the newest update, and a progress line. Waits for a first episode;
        the first report after the first update sets the point the pace (env steps/s, ETA) is
        measured from, so compilation does not count, and prints no line (but at the end)."""
        log, config = self.episode_log, self.config
        progress = log.progress
        due = progress >= self._next_report or (final and log.env_steps != self._reported_steps)
        if not log.episodes or not due:
            return
        episodes, env_steps = log.snapshot()
        self._next_report = (int(progress * REPORTS) + 1) / REPORTS
        self._reported_steps = env_steps
        seconds = self.train_seconds
        self.summaries.episodes(episodes[self._reported :], env_steps)
        self._reported = len(episodes)
        # Progress is counted in the unit of the budget that is nearer its end.
        by_steps = bool(config.max_steps) and (
            not config.max_eps or env_steps * config.max_eps >= len(episodes) * config.max_steps
        )
        if by_steps:
            done, total, unit = env_steps, config.max_steps, "env step"
        else:
            done, total, unit = len(episodes), config.max_eps, "episode"
        update = self.algorithm.last_update
        if self._pace_from is None:
            if update is None and not final:
                return  # nothing compiled and run yet: no pace to measure
            self._pace_from = (env_steps, seconds, done)
            if not final:
                return
        from_steps, from_seconds, from_done = self._pace_from
        elapsed = seconds - from_seconds
        if env_steps > from_steps and elapsed > 0:
            steps_per_second = (env_steps - from_steps) / elapsed
        else:  # only the end, right after the first update: the whole run's pace
            steps_per_second = env_steps / max(seconds, 1e-9)
        eta = (total - done) * elapsed / (done - from_done) if done > from_done else float("inf")
        if update is not None:
            learning_rate = self.algorithm.optimizer.learning_rate
            self.summaries.update(env_steps, update, learning_rate, steps_per_second)
        last = episodes[-1]
        line = progress_line(done, total, unit, last.moving_average, steps_per_second, eta)
        if by_steps:
            line += f" | {len(episodes)} episodes"
        line += f" | return {last.episode_return:.1f} | mean(100) {last.recent_mean:.1f}"
        if update is not None:
            line += f" | entropy {update.entropy:.3f}"
        logging.info("%s", line)


def budget(config: ActorCriticConfig) -> str:
    """The run's budgets in words: "1000 episodes", "500000 env steps", or both."""
    parts = []
    if config.max_eps:
        parts.append(f"{config.max_eps} episodes")
    if config.max_steps:
        parts.append(f"{config.max_steps} env steps")
    text = " or ".join(parts)
    if config.stop_at_threshold:
        text += ", or until solved"
    if config.stop_at_eval_return > float("-inf"):
        text += f", or until a greedy evaluation reaches {config.stop_at_eval_return:g}"
    return text
