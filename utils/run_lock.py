"""One training run per save directory: an advisory lock that a crashed run cannot leave stuck."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import stat
import sys
import time
from pathlib import Path

from utils.errors import SaveDirInUseError, UsageError

LOCK_NAME = ".run.lock"
# The lock file is never opened through a symbolic link (O_NOFOLLOW), nor a FIFO left waiting
# for a writer (O_NONBLOCK); 0 where the platform has no such flag.
OPEN_FLAGS = (
    os.O_RDWR
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


class RunLock:
    """An exclusive lock on ``<save_dir>/.run.lock``, held while a run checks and trains.

    The lock is the operating system's (``fcntl.flock``; ``msvcrt.locking`` on Windows) on an
    open file, so it goes with the process: a run that crashes or is killed (SIGKILL included)
    releases it, and the next run takes it. The file names the holder (process id, host, start
    time, command line), so a second run can say which run is in the way.

    The file is opened without following a symbolic link and must be a regular file with one
    name (a link would have the lock's JSON written into a file elsewhere). It is created with
    ``O_EXCL``; once locked, it is checked to be still the file at ``.run.lock`` (a run that
    removed it meanwhile is retried), so two processes never both hold the save directory.

    ``acquire(record=False)`` takes the lock and writes nothing into an existing lock file:
    ``a3c_keras.checks`` takes it so before it looks at what the save directory holds, and
    records the holder once the checks pass. ``release`` of a lock whose acquiring made the
    lock file (and the save directory) removes them again while the directory holds nothing
    else: a run refused by its checks, or one that failed before training, leaves nothing.

    Use as a context manager, or ``acquire`` and ``release``; ``acquire`` of a lock this object
    holds already only records the holder if asked (the command line takes the lock for its
    checks and hands it to ``learn``).

    Args:
        save_dir: the run's directory; created by ``acquire`` if missing.

    Raises:
        SaveDirInUseError: from ``acquire``, if another process holds the lock.
        UsageError: from ``acquire``, if ``.run.lock`` is a symbolic link, a hard link to a
            file with another name, or not a regular file.
        OSError: from ``acquire``, if the directory or the lock file cannot be written.
    """

    def __init__(self, save_dir: str | os.PathLike):
        self.path = Path(save_dir) / LOCK_NAME
        self._fd: int | None = None
        self._recorded = False
        self._made: list[Path] = []  # what acquiring made: directories, then the lock file

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self, record: bool = True) -> RunLock:
        """Takes the lock (or keeps it, if held) and, with ``record``, writes the holder into
        the file; returns ``self``. The errors: the class docstring."""
        if self._fd is None:
            self._fd = self._open_and_lock()
        if record and not self._recorded:
            self.record()
        return self

    def _open_and_lock(self) -> int:
        made = missing_directories(self.path.parent)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._made = made
        while True:
            created = True
            try:
                fd = os.open(self.path, OPEN_FLAGS | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                created = False
                try:
                    fd = os.open(self.path, OPEN_FLAGS)
                except FileNotFoundError:
                    continue  # removed by a run that released it meanwhile: create it
                except OSError as error:
                    self._forget_made()
                    if error.errno == errno.ELOOP:
                        raise UsageError(
                            self._refusal(f"a symbolic link to {link(self.path)}")
                        ) from None
                    raise
            except OSError:
                self._forget_made()
                raise
            try:
                refusal = self._not_a_lock_file(os.fstat(fd))
                if refusal:
                    raise UsageError(self._refusal(refusal))
                try:
                    _lock(fd)
                except OSError:
                    text = read_text(fd)
                    raise SaveDirInUseError(
                        in_use(self.path.parent, describe_holder(text))
                    ) from None
                if not same_file(fd, self.path):
                    os.close(fd)  # unlinked by its last holder before we locked it: again
                    continue
            except BaseException:
                os.close(fd)
                if created:
                    with contextlib.suppress(OSError):
                        os.unlink(self.path)
                self._forget_made()
                raise
            if created:
                self._made = [*self._made, self.path]
            return fd

    def _not_a_lock_file(self, status: os.stat_result) -> str | None:
        if not stat.S_ISREG(status.st_mode):
            return "not a regular file"
        if status.st_nlink != 1:
            return f"a file with {status.st_nlink} names (a hard link to a file elsewhere)"
        return None

    def _refusal(self, what: str) -> str:
        return (
            f"--save_dir={self.path.parent}: {self.path} is {what}; the run's lock is never "
            "written through a link or into another file: remove it, or give another --save_dir"
        )

    def _forget_made(self) -> None:
        for directory in reversed(self._made):
            with contextlib.suppress(OSError):
                directory.rmdir()  # only if empty
        self._made = []

    def record(self) -> None:
        """Writes this process as the holder (pid, host, start time, command line) into the
        held lock file: from now on, a second run refused names it."""
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join(
                os.path.basename(arg) if i == 0 else arg for i, arg in enumerate(sys.argv)
            ),
        }
        data = json.dumps(holder).encode()
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.write(self._fd, data)
        self._recorded = True

    def release(self) -> None:
        """Releases the lock (if held). Where acquiring made the lock file and the save
        directory holds nothing else, the file and the directories acquiring made are removed
        first, while the lock is still held."""
        if self._fd is None:
            return
        try:
            if self.path in self._made and os.listdir(self.path.parent) == [LOCK_NAME]:
                os.unlink(self.path)
                self._made.remove(self.path)
                self._forget_made()
        except OSError:
            pass
        finally:
            os.close(self._fd)  # closing the file releases the lock
            self._fd = None
            self._recorded = False
            self._made = []

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()


def missing_directories(directory: Path) -> list[Path]:
    """``directory`` and its parents that do not exist yet, outermost first."""
    missing = []
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    return list(reversed(missing))


def same_file(fd: int, path: Path) -> bool:
    """Whether the open file ``fd`` is still the file at ``path`` (not a symbolic link)."""
    try:
        now = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    opened = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (opened.st_dev, opened.st_ino)


def read_text(fd: int) -> str:
    """The start of the open file ``fd`` (a lock file's holder) as text."""
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 4096).decode("utf-8", "replace")


def link(path: Path) -> str:
    """Where the symbolic link ``path`` points, for a message."""
    try:
        return os.readlink(path)
    except OSError:
        return "somewhere"


def in_use(save_dir: str | os.PathLike, holder: str) -> str:
    """The one-line error for a save directory that another run holds."""
    return (
        f"--save_dir={save_dir} is in use by another training run ({holder}); wait for it to "
        "end, or pass another --save_dir"
    )


def holder(save_dir: str | os.PathLike) -> str | None:
    """The run holding ``save_dir``'s lock, in words, or None if it is free. Writes nothing and
    follows no symbolic link."""
    path = Path(save_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | (OPEN_FLAGS & ~os.O_RDWR))
    except OSError:
        return None  # no lock file (or no regular one): no run has trained there
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        try:
            _lock(fd)
        except OSError:
            return describe_holder(read_text(fd))
    finally:
        os.close(fd)
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
        return "a run that is still checking its input and has not yet written its name"


if sys.platform == "win32":  # pragma: no cover - the project's CI runs on Linux
    import msvcrt

    def _lock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
