"""One training run per save directory: an advisory lock that a crashed run cannot leave stuck."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

from utils.errors import SaveDirInUseError

LOCK_NAME = ".run.lock"


class RunLock:
    """An exclusive lock on ``<save_dir>/.run.lock``, held while a run trains.

    The lock is the operating system's (``fcntl.flock``; ``msvcrt.locking`` on Windows) on an
    open file, so it goes with the process: a run that crashes or is killed (SIGKILL included)
    releases it, and the next run takes it. The file names the holder (process id, host, start
    time, command line), so a second run can say which run is in the way.

    Use as a context manager, or ``acquire`` and ``release``.

    Args:
        save_dir: the run's directory; created by ``acquire`` if missing.

    Raises:
        SaveDirInUseError: from ``acquire``, if another process holds the lock.
        OSError: from ``acquire``, if the directory or the lock file cannot be written.
    """

    def __init__(self, save_dir: str | os.PathLike):
        self.path = Path(save_dir) / LOCK_NAME
        self._handle = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 (held open for the lock's lifetime)
        try:
            _lock(handle)
        except OSError:
            handle.seek(0)
            text = handle.read()
            handle.close()
            raise SaveDirInUseError(in_use(self.path.parent, describe_holder(text))) from None
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join(
                os.path.basename(arg) if i == 0 else arg for i, arg in enumerate(sys.argv)
            ),
        }
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(holder))
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file releases the lock
            self._handle = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()


def in_use(save_dir: str | os.PathLike, holder: str) -> str:
    """The one-line error for a save directory that another run holds."""
    return (
        f"--save_dir={save_dir} is in use by another training run ({holder}); wait for it to "
        "end, or pass another --save_dir"
    )


def holder(save_dir: str | os.PathLike) -> str | None:
    """The run holding ``save_dir``'s lock, in words, or None if it is free. Writes nothing."""
    path = Path(save_dir) / LOCK_NAME
    try:
        handle = open(path)  # noqa: SIM115
    except OSError:
        return None  # no lock file: no run has trained there since it was made
    with handle:
        try:
            _lock(handle)
        except OSError:
            return describe_holder(handle.read())
    return None


def describe_holder(text: str) -> str:
    """The lock file's holder in words: ``pid 123 on host, since 2026-11-23 03:00:00: cmd``."""
    try:
        holder = json.loads(text)
        return (
            f"pid {holder['pid']} on {holder['host']}, since {holder['started']}: "
            f"{holder['command']}"
        )
    except (ValueError, KeyError, TypeError):
        return "a run that has not yet written its name"


if sys.platform == "win32":  # pragma: no cover - the project's CI runs on Linux
    import msvcrt

    def _lock(handle) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

else:
    import fcntl

    def _lock(handle) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
