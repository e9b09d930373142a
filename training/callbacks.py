"""Callbacks in the Keras style: user code the training loop calls at episode ends, after each
update and after each greedy evaluation, with the numbers it already has.

A callback subclasses ``Callback`` and overrides the methods it needs; each gets an index and a
``logs`` dict of plain Python numbers, as ``keras.callbacks.Callback`` does. ``self.trainer`` is
the running ``training.trainer.Trainer`` and ``self.model`` the model being trained. Setting
``self.model.stop_training = True`` (as in Keras) stops the run cleanly after the current step:
the final evaluation, the checkpoint and the files are written as after Ctrl-C.

The trainer's own progress lines (``ProgressLogger``), TensorBoard scalars (``TensorBoard``)
and checkpoints (``Checkpoints``) are callbacks too. A run gets one of each unless the list it
is given holds an instance of that class (or a subclass), which then takes its place: the rule
of ``keras.Model.fit`` for its progress bar and history.

All callbacks run on the thread that called ``Trainer.train`` (never on an A3C worker thread),
in the order of the list, the run's own before the user's. On A3C the workers go on updating
the global model meanwhile: a callback that reads or saves its weights does so within
``self.trainer.algorithm.paused()``, as ``Checkpoints`` does. Update indices count from 1 in
each ``train`` call (episode and evaluation indices over the whole run), and an update's
``env_steps`` are those when the trainer took it (on A3C, up to 0.2 s after it was made).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence

from absl import logging

from training.summaries import Summaries, format_return, progress_line, run_directory
from utils.errors import ConfigError
from utils.interrupts import STOP_SIGNALS
from utils.provenance import FINISHED, STOPPED

# Progress lines and TensorBoard points a run: one each time another 1/REPORTS of the budget is
# used, and one at the end.
REPORTS = 50


class Callback:
    """The base class: every method does nothing.

    Attributes:
        trainer: the ``Trainer`` running the callback (set by ``set_trainer``; None before).

    The ``logs`` each method receives (plain ``int``, ``float`` and ``bool`` values):

    - ``on_train_begin``: ``env_steps``, ``episodes`` (so far: more than 0 after a resume).
    - ``on_episode_end(index)`` (``index`` counts episodes from 1 in the run): ``return``,
      ``length`` (env steps), ``moving_average`` (0.99/0.01), ``recent_mean`` (of the last 100
      episodes), ``env_steps`` (all envs' steps when it ended), ``worker`` (the A3C worker or A2C
      env that played it), ``seconds`` (since the run started).
    - ``on_update_end(index)`` (``index`` counts updates from 1 in this ``train`` call):
      ``loss``, ``policy_loss``, ``value_loss``, ``entropy``, ``grad_norm`` (before
      clipping), ``applied`` (False for a skipped non-finite update), ``env_steps``.
    - ``on_evaluation_end(index)`` (from 1): ``mean_return``, ``std_return``, ``min_return``,
      ``max_return``, ``episodes`` (greedy episodes played), ``env_steps`` (of training before
      it), ``best`` (whether it is the best so far, and so the saved model), ``final`` (the
      final model's, after training stopped between two evaluations).
    - ``on_train_end``: ``env_steps``, ``episodes``, ``seconds`` (training time, evaluations
      excluded), ``stopped`` (whether ``stop_training`` or a signal ended it before a budget).
    """

    def __init__(self):
        self.trainer = None

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer

    @property
    def model(self):
        """The (global) Keras model being trained."""
        return self.trainer.algorithm.model

    def on_train_begin(self, logs: dict) -> None:
        """Called once ``train`` starts, before the first step."""

    def on_episode_end(self, index: int, logs: dict) -> None:
        """Called for every finished training episode, in order."""

    def on_update_end(self, index: int, logs: dict) -> None:
        """Called for every update of the model (applied or skipped), in order."""

    def on_evaluation_end(self, index: int, logs: dict) -> None:
        """Called after each greedy evaluation (during training and of the final model)."""

    def on_train_end(self, logs: dict) -> None:
        """Called once training stopped, the final evaluation made, the model saved; not after
        a fault."""

    def close(self) -> None:
        """Called at the end of each ``train`` call, after a fault too: release what the
        callback holds (an event file, signal handlers)."""


class CallbackList:
    """The run's callbacks, called in order; ``Trainer`` holds one."""

    def __init__(self, callbacks: Sequence[Callback], trainer):
        self.trainer = trainer
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            callback.set_trainer(trainer)

    def wants(self, method: str) -> bool:
        """Whether a callback overrides ``method`` (else the trainer need not build its logs:
        Keras skips its batch hooks alike)."""
        base = getattr(Callback, method)
        return any(getattr(type(c), method) is not base for c in self.callbacks)

    def __iter__(self):
        return iter(self.callbacks)

    def call(self, method: str, *args) -> None:
        """Calls ``method`` of each callback in order. One that returns False (SB3's way)
        stops the run after the current step, as ``stop_training`` does; from
        ``on_train_end``, when nothing is left to stop, that is a warning. One that raises
        ``KeyboardInterrupt`` (a notebook's interrupt, or its own) stops the run as Ctrl-C does:
        it is saved, and ``learn`` raises ``KeyboardInterrupt`` after (``Trainer.interrupted``
        says which callback); a second one, while the run stops, goes through at once."""
        trainer = self.trainer
        for callback in self.callbacks:
            try:
                result = getattr(callback, method)(*args)
            except KeyboardInterrupt:
                if getattr(trainer, "interrupted", None) or any(
                    isinstance(c, SignalStop) and c.received for c in self.callbacks
                ):
                    raise  # a second interrupt, while the run stops: not held back
                name = f"{type(callback).__name__}.{method}"
                logging.warning("%s raised KeyboardInterrupt: stopping after this step", name)
                trainer.interrupted = f"{name} raised KeyboardInterrupt"
                trainer.request_stop()
                continue
            if result is False:
                name = f"{type(callback).__name__}.{method}"
                if method == "on_train_end":
                    logging.warning("%s returned False: the run has ended already", name)
                elif not self.trainer.stop.is_set():
                    logging.info("%s returned False: stopping after the current step", name)
                    self.trainer.request_stop()

    def close(self) -> None:
        """Calls each callback's ``close``, whatever happened (and whatever one of them
        raises: the first error is raised after all were called)."""
        errors = []
        for callback in self.callbacks:
            try:
                callback.close()
            except Exception as error:  # noqa: BLE001 - raised below, after the others
                errors.append(error)
        if errors:
            raise errors[0]


def as_callbacks(callbacks) -> list[Callback]:
    """``callbacks`` as a list of ``Callback``s: None (none), one callback, or an iterable of
    them; each a ``Callback``, or a ``keras.callbacks.Callback`` (wrapped in
    ``KerasCallback``).

    Raises:
        ConfigError: an item that is neither, in one line.
    """
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback) or is_keras_callback(callbacks):
        callbacks = [callbacks]
    try:
        items = list(callbacks)
    except TypeError:
        items = [callbacks]
    for callback in items:
        if not (isinstance(callback, Callback) or is_keras_callback(callback)):
            raise ConfigError(
                f"callbacks: {type(callback).__name__} {callback!r:.60} is not a callback: "
                "subclass a3c_keras.Callback (on_episode_end, on_update_end, "
                "on_evaluation_end, ...), a3c_keras.BaseCallback (SB3's _on_step) or "
                "keras.callbacks.Callback"
            )
    return [c if isinstance(c, Callback) else KerasCallback(c) for c in items]


def is_keras_callback(value) -> bool:
    """Whether ``value`` is a ``keras.callbacks.Callback`` (Keras is not loaded for this)."""
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.callbacks.Callback)


def with_defaults(callbacks, defaults: Sequence[Callback]) -> list[Callback]:
    """``defaults`` followed by ``callbacks`` (``as_callbacks``), less each default whose class
    (or a subclass of it) is among ``callbacks``: given ones replace the run's own, as in
    ``keras.Model.fit``.

    Raises:
        ConfigError: for an item that is not a ``Callback``.
    """
    callbacks = as_callbacks(callbacks)
    kept = [d for d in defaults if not any(isinstance(c, type(d)) for c in callbacks)]
    return kept + callbacks


class Pace:
    """Env steps a second and the time left, measured from the first report after the first
    update, so start-up and compilation do not count."""

    def __init__(self):
        self.start: tuple[int, float, float] | None = None  # env steps, seconds, progress

    def measure(self, env_steps: int, seconds: float, progress: float, final: bool):
        """``(steps_per_second, eta_seconds)``, or None at the first call (the pace starts
        there), unless ``final``."""
        if self.start is None:
            self.start = (env_steps, seconds, progress)
            if not final:
                return None
        from_steps, from_seconds, from_progress = self.start
        elapsed = seconds - from_seconds
        if env_steps > from_steps and elapsed > 0:
            steps_per_second = (env_steps - from_steps) / elapsed
        else:  # only the end, right after the first update: the whole run's pace
            steps_per_second = env_steps / max(seconds, 1e-9)
        done = progress - from_progress
        eta = (1.0 - progress) * elapsed / done if done > 0 else float("inf")
        return steps_per_second, eta


def next_report(progress: float) -> float:
    """The progress (a fraction of the budget) at which the report after one made at
    ``progress`` is due: the next multiple of 1/``REPORTS`` above it. Rounded first, so that
    progress on a multiple (4.06M of 7M steps: 0.58, which is 28.999... fiftieths in floating
    point) is not due again at once."""
    return (int(round(progress * REPORTS, 6)) + 1) / REPORTS


class Reports(Callback):
    """A callback that reports each 1/``REPORTS`` of the budget (or each ``log_interval``
    updates) and at the end, once an update has been made and an episode has ended:
    ``report(final)`` in subclasses.

    Args:
        log_interval: updates between reports (SB3's ``log_interval``); None: 1/``REPORTS``
            of the budget.

    Raises:
        ConfigError: a ``log_interval`` that is not an int >= 1 or None.
    """

    def __init__(self, log_interval: int | None = None):
        super().__init__()
        if log_interval is not None and (
            isinstance(log_interval, bool) or not isinstance(log_interval, int) or log_interval < 1
        ):
            raise ConfigError(f"log_interval={log_interval!r}: must be an integer >= 1 or None")
        self.log_interval = log_interval
        self.pace = Pace()
        self._next = 0.0

    def on_train_begin(self, logs: dict) -> None:
        self._next = 0.0
        self._reported_steps = -1  # env steps at the last report
        self._reported_progress = 0.0  # the budget's fraction at the last report
        self.pace = Pace()  # another train call: compilation again

    def on_update_end(self, index: int, logs: dict) -> None:
        log = self.trainer.episode_log
        if self.log_interval:
            due = index % self.log_interval == 0
        else:
            due = log.progress >= self._next
        if due and log.episodes:
            self._next = next_report(log.progress)
            self._measure_and_report(final=False)

    def on_train_end(self, logs: dict) -> None:
        log = self.trainer.episode_log
        # Not again where the end of the budget was reported already (A3C's workers may step
        # on while the others stop: the same line, once more).
        if log.episodes and log.env_steps != self._reported_steps and self._reported_progress < 1:
            self._measure_and_report(final=True)

    def _measure_and_report(self, final: bool) -> None:
        trainer = self.trainer
        log = trainer.episode_log
        pace = self.pace.measure(log.env_steps, trainer.train_seconds, log.progress, final)
        if pace is not None:
            self._reported_steps, self._reported_progress = log.env_steps, log.progress
            self.report(*pace, final)

    def report(self, steps_per_second: float, eta: float, final: bool) -> None:
        """Called at each report; ``eta`` in seconds (``inf``: unknown)."""


class ProgressLogger(Reports):
    """The progress line, logged (absl, INFO) each 2% of the budget and at the end::

        env step 102400/500000 (20%) | moving avg 98.3 | 35100 steps/s | ETA 11s | 940 episodes
        | return 211.0 | mean(100) 150.2 | entropy 0.541

    Progress is counted in the unit of the budget that is nearer its end. With
    ``log_interval``, a line each that many updates instead."""

    def report(self, steps_per_second: float, eta: float, final: bool) -> None:
        trainer = self.trainer
        log = trainer.episode_log
        episodes, env_steps = log.snapshot()
        max_steps, max_episodes = log.max_steps, log.max_episodes
        by_steps = bool(max_steps) and (
            not max_episodes or env_steps * max_episodes >= len(episodes) * max_steps
        )
        if by_steps:
            done, total, unit = env_steps, max_steps, "env step"
        else:
            done, total, unit = len(episodes), max_episodes, "episode"
        last = episodes[-1]
        line = progress_line(done, total, unit, last.moving_average, steps_per_second, eta)
        if by_steps:
            line += f" | {len(episodes)} episodes"
        line += (
            f" | return {format_return(last.episode_return)} | mean(100) "
            f"{format_return(last.recent_mean)}"
        )
        update = trainer.algorithm.update_log.last
        if update is not None:
            line += f" | entropy {update['entropy']:.3f}"
        logging.info("%s", line)


class KerasCallback(Callback):
    """A ``keras.callbacks.Callback`` in a run, called as ``Model.fit`` calls it: its
    ``model`` is the (global) Keras model being trained, and setting
    ``self.model.stop_training = True`` stops the run.

    - ``on_train_begin(logs)``, ``on_train_end(logs)``: as the run begins and ends.
    - ``on_epoch_begin(epoch)``, ``on_epoch_end(epoch, logs)``: an epoch ends at each greedy
      evaluation (every ``eval_interval`` env steps, and the final model's, unless a callback
      stopped the run: that one's results go to ``on_train_end``'s logs); in a run without
      evaluations (``eval_interval=0``), at each 1/50 of the budget. ``logs``:
      ``eval_return`` (the evaluation's mean return), ``eval_return_std``, ``eval_return_min``,
      ``eval_return_max`` (at evaluations), ``episode_return_mean`` (the last 100 training
      episodes), ``episode_return`` (the last one), ``episodes``, ``env_steps``, and the newest
      update's ``loss``, ``policy_loss``, ``value_loss``, ``entropy``, ``grad_norm``.
    - ``on_train_batch_end(batch, logs)``: after each update (``batch`` from 0 in each
      epoch), ``logs`` its ``loss``, ``policy_loss``, ``value_loss``, ``entropy``,
      ``grad_norm`` (``TerminateOnNaN`` reads ``loss``); only if the callback overrides it.

    So ``EarlyStopping(monitor="eval_return", mode="max", patience=3)``, ``TerminateOnNaN``,
    ``CSVLogger`` and ``ModelCheckpoint(..., save_weights_only=True)`` work as in Keras
    (``mode="max"``: Keras cannot tell that a return is better higher).
    """

    UPDATE_LOGS = ("loss", "policy_loss", "value_loss", "entropy", "grad_norm")

    def __init__(self, callback):
        super().__init__()
        import keras

        self.callback = callback
        base = keras.callbacks.Callback
        kind = type(callback)
        self._batches = (
            kind.on_train_batch_end is not base.on_train_batch_end
            or kind.on_batch_end is not base.on_batch_end
        )
        self._epoch, self._batch, self._open = 0, 0, False
        self._next = 0.0
        self._final: dict = {}  # the final evaluation's results, after a stop

    def on_train_begin(self, logs: dict) -> None:
        trainer = self.trainer
        interval = trainer.config.eval_interval
        log = trainer.episode_log
        epochs = -(-log.max_steps // interval) if interval and log.max_steps else REPORTS
        self.callback.set_model(trainer.algorithm.model)
        self.callback.set_params({"verbose": int(trainer.verbose), "epochs": epochs, "steps": None})
        self._next = next_report(log.progress)
        self._epoch, self._open, self._final = 0, False, {}  # each learn from epoch 0, as fit
        self.callback.on_train_begin(dict(logs))

    def _begin_epoch(self) -> None:
        if not self._open:
            self._open, self._batch = True, 0
            self.callback.on_epoch_begin(self._epoch)

    def _end_epoch(self, extra: dict) -> None:
        self._begin_epoch()
        trainer = self.trainer
        episodes, env_steps = trainer.episode_log.snapshot()
        logs = {"env_steps": env_steps, "episodes": len(episodes)}
        if episodes:
            logs["episode_return"] = episodes[-1].episode_return
            logs["episode_return_mean"] = episodes[-1].recent_mean
        update = trainer.algorithm.update_log.last
        if update is not None:
            logs.update({name: float(update[name]) for name in self.UPDATE_LOGS})
        self.callback.on_epoch_end(self._epoch, {**logs, **extra})
        self._epoch += 1
        self._open = False

    def on_update_end(self, index: int, logs: dict) -> None:
        self._begin_epoch()
        if self._batches:
            self.callback.on_train_batch_end(
                self._batch, {name: float(logs[name]) for name in self.UPDATE_LOGS}
            )
        self._batch += 1
        log = self.trainer.episode_log
        if not self.trainer.config.eval_interval and log.progress >= self._next:
            self._next = next_report(log.progress)
            self._end_epoch({})

    def on_evaluation_end(self, index: int, logs: dict) -> None:
        results = {
            "eval_return": logs["mean_return"],
            "eval_return_std": logs["std_return"],
            "eval_return_min": logs["min_return"],
            "eval_return_max": logs["max_return"],
        }
        if logs.get("final") and getattr(self.trainer.algorithm.model, "stop_training", False):
            self._final = results  # no epoch after a stop, as in Keras
        else:
            self._end_epoch(results)

    def on_train_end(self, logs: dict) -> None:
        self.callback.on_train_end({**logs, **self._final})


class ProgressBar(ProgressLogger):
    """A progress bar of the budget (Keras's ``keras.utils.Progbar``, as ``Model.fit`` shows
    it): env steps (or episodes) done of the budget, the time an env step takes, the ETA, and
    the mean return of the last 100 episodes and the entropy; in place of the progress lines
    (a ``ProgressLogger``, which it replaces in a run's callbacks). ``learn(progress_bar=True)``,
    and the command line on a terminal. It writes to standard output."""

    def on_train_begin(self, logs: dict) -> None:
        self.bar = None  # made at the first update: compiling is not an env step's time
        self._finalized = False

    def _done_total(self) -> int:
        log = self.trainer.episode_log
        return log.env_steps if self._by_steps else len(log.episodes)

    def _values(self) -> list:
        log, update = self.trainer.episode_log, self.trainer.algorithm.update_log.last
        values = [("mean(100)", log.episodes[-1].recent_mean)] if log.episodes else []
        return values + ([("entropy", update["entropy"])] if update is not None else [])

    def on_update_end(self, index: int, logs: dict) -> None:
        if self.bar is None:
            import keras

            log = self.trainer.episode_log
            self._by_steps = bool(log.max_steps)
            self._start = self._done_total()
            total = log.max_steps if self._by_steps else log.max_episodes
            self.bar = keras.utils.Progbar(
                max(total - self._start, 1),
                unit_name="env step" if self._by_steps else "episode",
                stateful_metrics=["mean(100)", "entropy"],
            )
            return
        done = min(self._done_total() - self._start, self.bar.target)
        self._finalized = done >= self.bar.target  # Progbar ends its line there itself
        self.bar.update(done, self._values())

    def on_train_end(self, logs: dict) -> None:
        if self.bar is not None and not self._finalized:
            done = min(self._done_total() - self._start, self.bar.target)
            self.bar.update(done, self._values(), finalize=True)


class TensorBoard(Reports):
    """TensorBoard scalars (``training.summaries.Summaries``): the episodes and the newest
    update each 2% of the budget and at the end, every greedy evaluation, and the run's
    settings (HPARAMS).

    Args:
        log_dir: the event files' directory; by default a new
            ``<save_dir>/logs/<algorithm>-<date>-<time>`` for each run (each ``train`` call
            of one ``Trainer`` writes to the same one).
    """

    def __init__(self, log_dir: str | None = None):
        super().__init__()
        self.log_dir = log_dir
        self.summaries: Summaries | None = None
        self._written = 0  # episodes written so far

    def on_train_begin(self, logs: dict) -> None:
        super().on_train_begin(logs)
        trainer = self.trainer
        if self.summaries is None:
            name = trainer.algorithm.name.lower()
            self.summaries = Summaries(self.log_dir or run_directory(trainer.save_dir, name))
            self.summaries.hyperparameters(trainer.settings)
            self._written = logs["episodes"]

    def report(self, steps_per_second: float, eta: float, final: bool) -> None:
        trainer = self.trainer
        episodes, env_steps = trainer.episode_log.snapshot()
        self.summaries.episodes(episodes[self._written :], env_steps)
        self._written = len(episodes)
        update = trainer.algorithm.update_log.last
        if update is not None:
            learning_rate = trainer.algorithm.optimizer.learning_rate
            self.summaries.update(env_steps, update, learning_rate, steps_per_second)

    def on_evaluation_end(self, index: int, logs: dict) -> None:
        self.summaries.evaluation(logs["env_steps"], self.trainer.evaluations[-1].result)

    def on_train_end(self, logs: dict) -> None:
        try:
            super().on_train_end(logs)
        finally:
            self.summaries.close()  # flushed; a later train call opens a new event file

    def close(self) -> None:
        """Flushes and closes the event file (after a fault, say)."""
        if self.summaries is not None:
            self.summaries.close()


class Checkpoints(Callback):
    """Checkpoints of the whole training state (``training.state.TrainingState``, for
    ``--resume``) every ``every`` updates and at the end of training.

    Args:
        every: updates between checkpoints; None: the config's ``checkpoint_every``.
    """

    def __init__(self, every: int | None = None):
        super().__init__()
        if every is not None and (isinstance(every, bool) or not isinstance(every, int)):
            raise TypeError(f"Checkpoints(every={every!r}): every must be an int")
        if every is not None and every < 1:
            raise ValueError(f"Checkpoints(every={every}): every must be >= 1")
        self.every = every
        self._next = 0

    def on_train_begin(self, logs: dict) -> None:
        self._next = self.every or self.trainer.config.checkpoint_every

    def on_update_end(self, index: int, logs: dict) -> None:
        if index >= self._next:
            with self.trainer.clock_paused():
                self.trainer.save_state()
            self._next += self.every or self.trainer.config.checkpoint_every

    def on_train_end(self, logs: dict) -> None:
        trainer = self.trainer
        stopped = logs.get("stopped") and not trainer.target_reached
        trainer.save_state(STOPPED if stopped else FINISHED)


class SignalStop(Callback):
    """While training runs, SIGINT (Ctrl-C, a notebook's interrupt), SIGTERM and SIGHUP (a
    closed terminal) stop it after the current step instead of killing
    (``Trainer.request_stop``): it is then evaluated, saved and checkpointed as at the end of
    its budget. ``received`` lists the signals. After the first signal the previous handler is
    back, so a second Ctrl-C interrupts at once: a stop never hangs. Python runs signal
    handlers in the main thread only: elsewhere it does nothing."""

    def __init__(self):
        super().__init__()
        self.received: list[int] = []
        self.previous: dict = {}

    def on_train_begin(self, logs: dict) -> None:
        self.received = []
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum, frame):
            self.received.append(signum)
            signal.signal(signum, self.previous[signum])
            logging.warning("%s: stopping after the current step", signal.Signals(signum).name)
            self.trainer.request_stop()

        self.previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}

    def close(self) -> None:
        """Puts the previous handlers back (``CallbackList.close``, whatever happened)."""
        for signum, previous in self.previous.items():
            signal.signal(signum, previous)
        self.previous = {}
