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
from collections.abc import Iterable
from typing import Protocol

import keras
import tensorflow as tf
from absl import logging

from agents.on_policy import UpdateLog
from config.hyperparameters import ActorCriticConfig
from training.callbacks import (
    Callback,
    CallbackList,
    Checkpoints,
    ProgressLogger,
    TensorBoard,
    with_defaults,
)
from training.episode_log import Episode, EpisodeLog
from training.evaluation import Evaluation, evaluate, greedy_policy
from training.state import TrainingState, run_identity
from utils.checkpoint import all_finite, model_path, save_weights
from utils.envs import reward_threshold
from utils.errors import TrainingError
from utils.provenance import FAULT, RUNNING, STOPPED

# Greedy evaluations during training are seeded from here; the report after training uses
# ``seed + REPORT_SEED_OFFSET``, so the model is not chosen on the episodes it is judged on.
EVAL_SEED_OFFSET = 20_000
REPORT_SEED_OFFSET = 10_000


class Algorithm(Protocol):
    """What ``Trainer`` needs of an algorithm.

    Attributes:
        name: "A3C", "A2C": titles and the TensorBoard run's name.
        description: its size for the log, such as "2 workers" or "8 envs".
        config: the run's hyperparameters.
        model: the (global) model that is evaluated, saved and checkpointed.
        optimizer: a built Keras optimizer; its ``iterations`` count the applied updates.
        update_log: the ``agents.on_policy.UpdateLog`` of its updates: their count, the
            newest one's metrics by name (``last``), and each update's metrics appended as it
            is made (``history``, from any thread), which the trainer takes out in order for
            the callbacks.
    """

    name: str
    description: str
    config: ActorCriticConfig
    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    update_log: UpdateLog

    def checkpointables(self) -> dict:
        """Trackables a checkpoint saves besides model and optimizer (random generators, reward
        scalers)."""

    def start(self, episode_log: EpisodeLog) -> None:
        """Begin gathering experience into ``episode_log`` (after a resume, and again after
        ``close`` when training goes on)."""

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
            training checkpoints (``TrainingState``), TensorBoard logs under ``logs/``; None:
            no files (the best model's weights are kept in memory, ``best_weights``).
        resume: continue from the newest checkpoint in ``save_dir``: weights, optimizer, random
            generators, episodes, env steps, training seconds and best evaluation.
        callbacks: ``training.callbacks.Callback``s called during ``train``; with the run's own
            ``ProgressLogger`` (if ``verbose``), ``TensorBoard`` and ``Checkpoints`` (with a
            ``save_dir``) before them, each unless one of its class is given (which replaces
            it).
        verbose: log the progress lines and the evaluations' results.

    Raises:
        NoCheckpointError: with ``resume``, if there is no checkpoint to resume.
        CheckpointError: with ``resume``, if the checkpoint does not fit this run.
        ConfigError: a callback that is not a ``Callback``.

    Nothing is written until ``train``.
    """

    def __init__(
        self,
        algorithm: Algorithm,
        save_dir: str | os.PathLike | None,
        resume: bool = False,
        callbacks: Iterable[Callback] = (),
        verbose: bool = True,
    ):
        config = algorithm.config
        self.algorithm = algorithm
        self.config = config
        self.settings = dataclasses.asdict(config)
        self.save_dir = save_dir
        self.verbose = verbose
        self.title = f"{algorithm.name} on {config.env}"
        self.save_path = model_path(save_dir, config.env) if save_dir is not None else None
        self.best_weights: list | None = None  # without a save_dir: the best model's weights
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
        self.state = (
            None
            if save_dir is None
            else TrainingState(
                save_dir,
                config.env,
                self.episode_log,
                settings={**self.settings, **run_identity(config)},
                model=algorithm.model,
                optimizer=algorithm.optimizer,
                seconds=self.seconds,
                best_evaluation=self.best_evaluation,
                **algorithm.checkpointables(),
            )
        )
        self.default_callbacks = [ProgressLogger()] if verbose else []
        if save_dir is not None:
            self.default_callbacks += [TensorBoard(), Checkpoints()]
        self.set_callbacks(callbacks)
        if resume:
            if self.state is None:
                raise ValueError("resume needs a save_dir")
            self.state.restore()
            self.evaluations = [  # the earlier parts' evaluations, for the plot and callbacks
                Evaluation.from_record(saved, self.threshold)
                for saved in self.state.saved_evaluations()
            ]
            # The optimizer's checkpointed learning rate gives way to this run's (--lr); a
            # schedule goes on from the checkpointed update count.
            if config.lr_schedule == "constant":
                algorithm.optimizer.learning_rate = config.lr
        self._dispatched = len(self.episode_log.episodes)  # episodes the callbacks have seen
        self._updates = 0  # updates the callbacks have seen in this train call
        self._running_since: float | None = None  # the training clock runs while set
        self.running = False  # within train (a learn called from a callback is refused)
        # A callback raised KeyboardInterrupt ("X.on_episode_end raised KeyboardInterrupt"):
        # the run stopped and saved as on Ctrl-C; the caller raises it after its own files.
        self.interrupted: str | None = None
        # A greedy evaluation reached stop_at_eval_return in the current train call: the run
        # stopped early because it is done (its part "finished", not "stopped").
        self.target_reached = False

    def set_callbacks(self, callbacks: Iterable[Callback]) -> None:
        """The callbacks of the next ``train`` call: ``callbacks`` after the run's own, less
        those of a class given (``training.callbacks.with_defaults``). The run's own are the
        same objects each call (one TensorBoard directory a run)."""
        self.callbacks = CallbackList(with_defaults(callbacks, self.default_callbacks), self)

    @property
    def train_seconds(self) -> float:
        """Seconds of training so far, evaluations and checkpoints excluded, resumed parts
        included."""
        running = time.perf_counter() - self._running_since if self._running_since else 0.0
        return float(self.seconds.numpy()) + running

    def request_stop(self) -> None:
        """Ends training after the current step (a signal handler calls this)."""
        self.stop.set()

    def train(self, max_episodes: int | None = None, max_steps: int | None = None) -> list[Episode]:
        """Trains until a budget is used, the threshold is reached (``stop_at_threshold``), a
        greedy evaluation reaches ``stop_at_eval_return``, a callback sets the model's
        ``stop_training``, or ``request_stop``; returns the finished training episodes, in
        order. Called again, training goes on from where it stopped.

        Args:
            max_episodes, max_steps: budgets in episodes and env steps, counting those already
                made (None for both: the config's ``max_eps`` and ``max_steps``; 0 or None for
                one of them: no such budget).

        Along the way: the callbacks (progress lines and TensorBoard scalars each 2% of the
        budget, a checkpoint every ``checkpoint_every`` updates), a greedy evaluation every
        ``eval_interval`` env steps (saving the model when it is the best yet). At the end: the
        final model is evaluated too (or, with ``eval_interval=0``, saved), then a checkpoint
        is written.

        Raises:
            TrainingError: a worker failed, or updates kept being non-finite; no checkpoint is
                written over the last good one. After a fault that left the model intact
                (``EnvFault``, ``BackendLost``) the run is checkpointed first, and the message
                says where.
        """
        config, log, algorithm = self.config, self.episode_log, self.algorithm
        if max_episodes is not None or max_steps is not None:
            log.set_budget(max_episodes or None, max_steps or None)
        self.stop.clear()  # a stop ends one call: this one goes on
        self.target_reached = False
        self.interrupted = None
        algorithm.update_log.history.clear()  # those of a failed call are not this call's
        algorithm.model.stop_training = False
        if self.verbose:
            logging.info(
                "training %s (%s) for %s",
                self.title,
                algorithm.description,
                budget(log, config.stop_at_eval_return),
            )
        interval = config.eval_interval
        next_eval = (log.env_steps // interval + 1) * interval if interval else 0
        self._updates = 0
        callbacks = self.callbacks
        self.running = True
        try:
            try:
                try:
                    callbacks.call(
                        "on_train_begin",
                        {"env_steps": log.env_steps, "episodes": len(log.episodes)},
                    )
                    if self.state is not None:  # this program's part of the run
                        self.state.parts.begin(log.env_steps, self.train_seconds)
                    algorithm.start(log)  # threads compile, processes start: not training time
                    self._running_since = time.perf_counter()
                    while not (log.done.is_set() or self._stopping()):
                        algorithm.advance()
                        self._dispatch()
                        if interval and log.env_steps >= next_eval:
                            with self.clock_paused():
                                self._evaluate()
                            next_eval += interval
                finally:
                    self._stop_clock()  # stopping workers (and Ray) is not training time
                    algorithm.close()
                self._dispatch()  # the last episodes and updates; not after a fault
            except TrainingError as fault:
                if not fault.model_intact or not log.episodes:
                    raise
                # An env or the backend failed, not the model: the run so far is kept.
                prefix = self.save_state(FAULT)
                kept = f"the run was checkpointed ({prefix}; --resume continues it)"
                raise type(fault)(f"{fault}; {kept}" if prefix else str(fault)) from None
            stopped = self._stopping() or not log.done.is_set()
            if log.solved_at is not None:
                logging.info(
                    "the mean return of the last 100 episodes reached %g at episode %d, "
                    "%d env steps",
                    self.threshold,
                    log.solved_at.index,
                    log.solved_at.env_steps,
                )
            if stopped and interval and not self.target_reached:
                # A signal or callback stopped it: checkpointed before the final evaluation
                # (10 Atari games take a while), so a second signal or a killed session keeps it.
                with self.clock_paused():
                    self.save_state(STOPPED)
            if not interval:
                self._save_model()
            elif not self.evaluations or self.evaluations[-1].env_steps != log.env_steps:
                self._evaluate(final=True)  # the final model competes too
            callbacks.call(
                "on_train_end",
                {
                    "env_steps": log.env_steps,
                    "episodes": len(log.episodes),
                    "seconds": self.train_seconds,
                    "stopped": bool(stopped),
                },
            )
        finally:
            self.running = False
            callbacks.close()  # event files flushed, signal handlers back, whatever happened
        return list(log.episodes)

    def _stopping(self) -> bool:
        """Whether a signal (``request_stop``) or a callback (``stop_training``) asked to stop."""
        return self.stop.is_set() or bool(getattr(self.algorithm.model, "stop_training", False))

    def _dispatch(self) -> None:
        """Calls the callbacks for each episode and update since the last call, in order."""
        log, callbacks = self.episode_log, self.callbacks
        episodes = log.episodes
        if not callbacks.wants("on_episode_end"):  # the run's own: no dicts to build
            self._dispatched = len(episodes)
        while self._dispatched < len(episodes):
            episode = episodes[self._dispatched]
            self._dispatched += 1
            callbacks.call(
                "on_episode_end",
                episode.index,
                {
                    "return": episode.episode_return,
                    "length": episode.length,
                    "moving_average": episode.moving_average,
                    "recent_mean": episode.recent_mean,
                    "env_steps": episode.env_steps,
                    "worker": episode.worker,
                    "seconds": episode.seconds,
                },
            )
        updates = self.algorithm.update_log.history
        while updates:
            metrics = updates.popleft()
            self._updates += 1
            callbacks.call("on_update_end", self._updates, {**metrics, "env_steps": log.env_steps})

    def _stop_clock(self) -> None:
        """Adds the seconds since the clock last started to the training time."""
        if self._running_since is not None:
            self.seconds.assign_add(time.perf_counter() - self._running_since)
            self._running_since = None

    @contextlib.contextmanager
    def clock_paused(self):
        """The training clock stops within (evaluations, checkpoints), and runs again after
        if it ran before."""
        running = self._running_since is not None
        self._stop_clock()
        try:
            yield
        finally:
            if running:
                self._running_since = time.perf_counter()

    def save_state(self, outcome: str = RUNNING) -> str | None:
        """Checkpoints the training state, no update running; returns its path prefix (None
        if a weight is not finite, or the run has no save_dir: nothing is written then).
        ``outcome``: how this program's part of the run stands (``training.parts``: "running"
        for a periodic checkpoint, "finished", "stopped" or "fault" for the last)."""
        if self.state is None:
            return None
        with self.algorithm.paused():
            self.state.parts.record(self.episode_log.env_steps, self.train_seconds, outcome)
            self.state.set_evaluations([e.record() for e in self.evaluations])
            return self.state.save()

    def _save_model(self) -> None:
        """Saves the model's weights as the run's model (in memory without a save_dir),
        unless one is not finite."""
        model = self.algorithm.model
        if all_finite(model) and self.save_path is None:
            self.best_weights = model.get_weights()
        elif all_finite(model):
            save_weights(model, self.save_path, self.config.env)
        else:
            logging.warning("not saving the model: a weight is NaN or infinite")

    def _evaluate(self, final: bool = False) -> None:
        """Greedy evaluation of the model as it is now (updates paused); saves it when its mean
        return is the best so far or ties it. Episodes seeded from ``seed + EVAL_SEED_OFFSET``.
        ``final``: the final model's, after training stopped."""
        log, config = self.episode_log, self.config
        with self.algorithm.paused():
            result = evaluate(
                self.algorithm.model,
                config.env,
                config.eval_episodes,
                seed=config.seed + EVAL_SEED_OFFSET,
                policy=self.eval_policy,
            )
            best = result.mean >= self.best_evaluation.numpy()
            if best and all_finite(self.algorithm.model):
                self.best_evaluation.assign(result.mean)
                self._save_model()
        self.evaluations.append(Evaluation(log.env_steps, len(log.episodes), result))
        if self.verbose:
            logging.info("%d env steps: %s", log.env_steps, result.summary())
        self.callbacks.call(
            "on_evaluation_end",
            len(self.evaluations),
            {
                "mean_return": result.mean,
                "std_return": result.std,
                "min_return": float(result.returns.min()),
                "max_return": float(result.returns.max()),
                "episodes": len(result.returns),
                "env_steps": log.env_steps,
                "best": bool(best),
                "final": final,
            },
        )
        target = config.stop_at_eval_return
        if target > float("-inf") and result.mean >= target:
            logging.info(
                "the greedy evaluation reached %g (--stop_at_eval_return): stopping",
                target,
            )
            self.target_reached = True
            self.stop.set()


def budget(log: EpisodeLog, stop_at_eval_return: float = float("-inf")) -> str:
    """The run's budgets in words: "1000 episodes", "500000 env steps", or both (totals,
    counting a resumed run's)."""
    parts = []
    if log.max_episodes:
        parts.append(f"{log.max_episodes} episodes")
    if log.max_steps:
        parts.append(f"{log.max_steps} env steps")
    text = " or ".join(parts)
    if log.stop_at is not None:
        text += ", or until solved"
    if stop_at_eval_return > float("-inf"):
        text += f", or until a greedy evaluation reaches {stop_at_eval_return:g}"
    return text
