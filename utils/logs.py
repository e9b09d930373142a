"""Which log lines a user sees: this project's, and every library's warnings and errors."""

from __future__ import annotations

import logging
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the project: its own log lines are shown


class OwnInformation(logging.Filter):
    """Lets through this project's records and every library's warnings and errors (not
    TensorFlow's or Keras's information, which absl would show beside ours)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or str(record.pathname).startswith(str(ROOT))
