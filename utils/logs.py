"""Which log lines a user sees, from the Python API and the command line alike: this project's,
and every library's warnings and errors; not TensorFlow's start-up notices or its information.

- TensorFlow's C++ start-up notices (written straight to the process's stderr while it loads:
  "oneDNN custom operations are on", "All log messages before absl::InitializeLog()") are
  caught while it imports (``import_tensorflow``); any other line it writes there is passed on.
  Its C++ information after that (XLA's "Compiled cluster using XLA!") is below
  ``TF_CPP_MIN_LOG_LEVEL``, 2 unless the user set it.
- Libraries' Python information is dropped where ours is shown (``OwnInformation``): among it
  TensorFlow's "Sharding callback duration: N microseconds", logged through absl at INFO by
  each checkpoint save (``tensorflow/python/checkpoint/functional_saver.py``), wherever the
  libraries are installed (a virtual environment inside the clone included). TensorFlow's
  own logger stays at warnings unless its level was set.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the project: its own log lines are shown
# What of ROOT is ours: not a library installed inside the clone (a .venv there), nor, where the
# packages are installed, the other libraries beside them in site-packages.
OWN_NAMES = frozenset(
    {"a3c_keras", "agents", "cli", "config", "models", "training", "utils"}
    | {"a2c_cartpole.py", "a3c_cartpole.py", "benchmarks", "examples", "tests"}
)

# Lines TensorFlow writes to stderr while it loads, none of which needs the user.
START_UP_NOTICES = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions:",
    "Unable to register cuDNN factory",
    "Unable to register cuFFT factory",
    "Unable to register cuBLAS factory",
    "computation placer already registered",
    "TF-TRT Warning",
)


@functools.lru_cache(maxsize=1024)
def own_file(pathname: str) -> bool:
    """Whether ``pathname`` (a log record's) is one of this project's files: in one of its
    packages or an entry point, once links are resolved."""
    try:
        inside = Path(pathname).resolve().relative_to(ROOT)
    except (ValueError, OSError):  # elsewhere
        return False
    return bool(inside.parts) and inside.parts[0] in OWN_NAMES


class OwnInformation(logging.Filter):
    """Lets through this project's records and every library's warnings and errors (not
    TensorFlow's or Keras's information, which absl would show beside ours)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or own_file(str(record.pathname))


@contextlib.contextmanager
def start_up_notices_caught():
    """Within, what C code writes to the process's stderr (file descriptor 2) is held back; on
    leaving, every held line but TensorFlow's start-up notices is written out, so an error
    printed while loading is never lost."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            text = held.read().decode(errors="replace")
            kept = [
                line
                for line in text.splitlines()
                if line.strip() and not any(notice in line for notice in START_UP_NOTICES)
            ]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()


def import_tensorflow():
    """Imports TensorFlow and Keras with their start-up notices caught (C++ logging below
    errors off, unless ``TF_CPP_MIN_LOG_LEVEL`` says otherwise) and TensorFlow's Python
    information off (unless its logger's level was set); returns ``tensorflow``. A second call
    finds them loaded."""
    if not {"tensorflow", "keras"} <= sys.modules.keys():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with start_up_notices_caught():
            import keras  # noqa: F401 - loaded now, under the catch
            import tensorflow  # noqa: F401
    tensorflow_logger = logging.getLogger("tensorflow")
    if tensorflow_logger.level == logging.NOTSET:
        tensorflow_logger.setLevel(logging.WARNING)
    return sys.modules["tensorflow"]
