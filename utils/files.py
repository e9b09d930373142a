"""Files written so that a crash never leaves a broken one in place of a good one."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Writes ``path`` through ``write(temporary_path)``, then renames it into place.

    The temporary file sits in the same directory and keeps ``path``'s suffixes (Keras wants
    ``.weights.h5``), so the rename is atomic (POSIX ``rename``, Windows ``MoveFileEx``): readers
    see the old file or the new one, never a half-written one. If ``write`` raises, the old file
    is untouched and the temporary one removed.

    Returns:
        ``path`` as a ``Path``.
    """
    path = Path(path)
    suffix = "".join(path.suffixes)
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    # A fresh name, not a file made in advance: ``write`` creates it, with the permissions any
    # new file gets (mkstemp's would be owner-only).
    temporary = str(path.parent / f".{stem}.{secrets.token_hex(6)}.tmp{suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def safe_name(env_id: str) -> str:
    """``env_id`` made fit for a file name: every character but letters, digits, ``.-_`` becomes
    ``_`` (``phys2d/CartPole-v1`` -> ``phys2d_CartPole-v1``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", env_id)
