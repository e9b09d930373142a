"""What the command line prints: its own lines, plainly, and no library's start-up notices.

- Log lines carry no prefix: progress and results read ``episode 500/1000 (50%) | ...``;
  warnings and errors say ``warning: ...`` and ``error: ...``.
- Other libraries' informational log lines (TensorFlow's checkpoint notices through absl) are
  dropped; their warnings and errors stay.
- TensorFlow's C++ start-up notices are caught while it imports, as the Python API catches
  them (``utils.logs.import_tensorflow``); any other line it writes there is passed on.
- gymnasium's warnings and relayed tracebacks are off (``utils/env_contract.py`` names an
  env's fault in one line).
- pygame's greeting and SDL's complaints about a missing audio or session directory are
  silenced where the run does not open a window.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

from absl import logging as absl_logging

from utils.logs import OwnInformation

PREFIXES = {logging.WARNING: "warning: ", logging.ERROR: "error: ", logging.CRITICAL: "error: "}


class PlainFormatter(logging.Formatter):
    """``message`` for information, ``warning: message`` and ``error: message`` otherwise."""

    def format(self, record: logging.LogRecord) -> str:
        return PREFIXES.get(record.levelno, "") + record.getMessage()


def plain_log_lines() -> None:
    """Formats absl's log lines plainly and drops other libraries' information (call after
    ``absl.app`` has set up logging)."""
    handler = absl_logging.get_absl_handler()
    handler.setFormatter(PlainFormatter())
    handler.addFilter(OwnInformation())
    # TensorFlow's own Python loggers (tf.get_logger()) stay at warnings.
    logging.getLogger("tensorflow").setLevel(logging.WARNING)


def quiet_gymnasium() -> None:
    """gymnasium's own log lines off (warnings issued through ``warnings``, in colour, and the
    tracebacks an ``async`` env's process sends back): ``utils.env_contract`` names an env's
    fault in one line instead."""
    import gymnasium

    gymnasium.logger.min_level = gymnasium.logger.ERROR + 1  # above every level it logs at


def quiet_media_libraries(window: bool) -> None:
    """pygame's greeting off; without a window, SDL on its dummy video and audio drivers (a
    recording renders off screen and plays no sound), so it does not look for a session."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    if not window:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


class MarkedOutput:
    """``sys.stdout`` whose write errors say they are its own (``from_output``): the command
    line reports them as the output's ("cannot write the output", or nothing for a closed
    pipe) and any other ``OSError`` as what it is."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as error:
            error.from_output = True
            raise

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as error:
            error.from_output = True
            raise

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


@contextlib.contextmanager
def output_errors_marked():
    """Within, ``sys.stdout`` is a ``MarkedOutput`` of what it was (put back on leaving)."""
    stream = sys.stdout
    sys.stdout = MarkedOutput(stream)
    try:
        yield
    finally:
        if isinstance(sys.stdout, MarkedOutput) and sys.stdout._stream is stream:
            sys.stdout = stream


def from_output(error: OSError) -> bool:
    """Whether ``error`` was raised writing ``sys.stdout`` (``MarkedOutput``)."""
    return bool(getattr(error, "from_output", False))
