"""Files written so that a crash never leaves a broken one in place of a good one."""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from utils.errors import DiskFullError, WriteError

# Free space kept besides a file's own size (file-system blocks, HDF5 and zip headers).
FREE_SPACE_MARGIN = 256 * 1024


def require_free_space(path: str | os.PathLike, size: int) -> None:
    """Raises ``DiskFullError`` unless the file system of ``path`` (a file to write, or a
    directory) has ``size`` bytes free, with a margin.

    Some writers crash in native code on a full disk (h5py, writing Keras weights) rather than
    raising, so the space is checked before they are called.
    """
    free = free_space(path)
    if free < size + FREE_SPACE_MARGIN:
        raise DiskFullError(
            errno.ENOSPC,
            f"no space left to write {path}: it needs about {kib(size)}, {kib(free)} is free "
            "(the last good files are kept)",
        )


def free_space(path: str | os.PathLike) -> int:
    """Bytes free on the file system where ``path`` is or would be made."""
    directory = Path(path)
    while not directory.is_dir():
        directory = directory.parent
    return shutil.disk_usage(directory).free


def kib(size: float) -> str:
    return f"{size / 1024:,.0f} KiB"


def atomic_write(path: str | os.PathLike, write: Callable[[str], None], size: int = 0) -> Path:
    """Writes ``path`` through ``write(temporary_path)``, then renames it into place; creates
    ``path``'s directory if needed.

    The temporary file sits in the same directory and keeps ``path``'s suffixes (Keras wants
    ``.weights.h5``), so the rename is atomic (POSIX ``rename``, Windows ``MoveFileEx``): readers
    see the old file or the new one, never a half-written one. If ``write`` raises, the old file
    is untouched and the temporary one removed.

    Args:
        size: the file's expected size in bytes: less free space than that raises
            ``DiskFullError`` before ``write`` is called.

    Raises:
        WriteError: the file could not be written (disk full, say): one line in ``strerror``.

    Returns:
        ``path`` as a ``Path``.
    """
    path = Path(path)
    require_free_space(path, size)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WriteError(error.errno, f"cannot create {path.parent}: {error.strerror}") from None
    # A fresh name, not a file made in advance: ``write`` creates it, with the permissions any
    # new file gets (mkstemp's would be owner-only).
    temporary = str(temporary_path(path))
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException as error:
        if os.path.exists(temporary):
            os.remove(temporary)
        if isinstance(error, OSError) and not isinstance(error, WriteError):
            reason = error.strerror or str(error)
            raise WriteError(
                error.errno or errno.EIO,
                f"cannot write {path}: {reason} (the last good file is kept)",
            ) from None
        raise
    return path


def temporary_path(path: str | os.PathLike) -> Path:
    """A fresh temporary name beside ``path`` that keeps its suffixes (Keras wants
    ``.weights.h5``): ``dir/.model.weights.h5`` -> ``dir/.model.<12 hex digits>.tmp.weights.h5``.
    Its name is ``TEMPORARY_NAME_EXTRA`` bytes longer than ``path``'s."""
    path = Path(path)
    suffix = "".join(path.suffixes)
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    return path.parent / f".{stem}.{secrets.token_hex(6)}.tmp{suffix}"


# Bytes a temporary name adds to its file's name: the dots, 12 hex digits and ".tmp".
TEMPORARY_NAME_EXTRA = 18
# The longest file name most file systems take (ext4, XFS, APFS, NTFS: 255 bytes).
NAME_MAX = 255


def long_name(path: str | os.PathLike, extra: int = 0) -> str | None:
    """The first component of ``path`` whose name, ``extra`` bytes longer for the last one (a
    temporary name), passes what its file system takes (``NAME_MAX`` bytes, or the system's
    ``PC_NAME_MAX`` where it says), or None if every name fits."""
    parts = Path(path).parts
    for index, part in enumerate(parts):
        size = len(os.fsencode(part)) + (extra if index == len(parts) - 1 else 0)
        existing = Path(*parts[:index]) if index else Path(".")
        while not existing.is_dir() and existing != existing.parent:
            existing = existing.parent
        try:
            limit = os.pathconf(existing, "PC_NAME_MAX")
        except (OSError, ValueError, AttributeError):
            limit = NAME_MAX
        if size > limit:
            return part
    return None


def safe_name(env_id: str) -> str:
    """``env_id`` made fit for a file name: every character but letters, digits, ``.-_`` becomes
    ``_`` (``phys2d/CartPole-v1`` -> ``phys2d_CartPole-v1``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", env_id)
