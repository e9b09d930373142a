"""Blocks of work that a Ctrl-C must not cut in half."""

from __future__ import annotations

import contextlib
import signal
import threading

# The signals that end a run gracefully: Ctrl-C, a kill, a terminal that closed.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextlib.contextmanager
def signals_deferred():
    """Within, a first SIGINT (Ctrl-C) waits until the block ends and is then raised again, to
    the handler that was there before (``KeyboardInterrupt``, or the trainer's stop); a second
    one goes to that handler at once, so Ctrl-C Ctrl-C never waits.

    For what a ``KeyboardInterrupt`` must not cut in half: ``ray.init`` and ``ray.shutdown`` (a
    half-started Ray crashed the interpreter at exit: segfault, exit status 139), a checkpoint
    being written (``training.state.TrainingState.save``: a second Ctrl-C while a stopped run
    saves left a half-written one). Outside the main thread (where Python runs no signal
    handler) nothing changes.
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield
        return
    received: list[int] = []

    def hold(signum, frame):
        received.append(signum)
        signal.signal(signum, previous)  # the next one is not held

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            signal.raise_signal(signal.SIGINT)
