"""How the command line ends on a signal, at any moment: one line, status 128 + the signal's
number, files cleaned up.

- SIGINT (Ctrl-C) before the mode's own handling (while Python or TensorFlow imports, say)
  prints ``<program>: error: interrupted`` and no traceback; Python then ends the process as
  by SIGINT (status 130).
- SIGTERM and SIGHUP (a closed terminal or ssh session) raise ``Interrupted`` in the main thread
  while the program plays, evaluates or exports, so a recording being written is discarded
  (its temporary file and encoder process) on the way out.
- Training catches SIGINT, SIGTERM and SIGHUP itself (``training.callbacks.SignalStop``):
  it stops after the current step and saves.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

from utils.errors import Interrupted
from utils.interrupts import STOP_SIGNALS


def one_line_interrupts() -> None:
    """An uncaught ``KeyboardInterrupt`` prints one line (``<program>: error: interrupted``)
    instead of a traceback; other exceptions print as before."""
    previous = sys.excepthook

    def hook(kind, value, traceback):
        if issubclass(kind, KeyboardInterrupt):
            program = os.path.basename(sys.argv[0]) if sys.argv else "program"
            sys.stderr.write(f"{program}: error: interrupted\n")
            return
        previous(kind, value, traceback)

    sys.excepthook = hook


@contextlib.contextmanager
def signals_raise_interrupted():
    """Within, SIGTERM and SIGHUP raise ``Interrupted`` (status 128 + the signal's number) in
    the main thread, as Ctrl-C raises ``KeyboardInterrupt``, so ``finally`` blocks and
    ``except BaseException`` clean-ups run. Does nothing off the main thread."""

    def handler(signum, frame):
        name = signal.Signals(signum).name
        raise Interrupted(f"interrupted by {name}", 128 + signum)

    catch = [signum for signum in STOP_SIGNALS if signum != signal.SIGINT]
    try:
        previous = {signum: signal.signal(signum, handler) for signum in catch}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for signum, handler_before in previous.items():
            signal.signal(signum, handler_before)
