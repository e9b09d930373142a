"""Which code a run ran: the project's git commit, for the record each run keeps of its parts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# The project's root: the checkout whose commit a run records.
ROOT = Path(__file__).resolve().parent.parent


def code_revision(root: str | os.PathLike = ROOT) -> str | None:
    """The commit checked out in ``root`` (short hash), with ``+changes`` if its code differs
    from it (changed Markdown files do not count: benchmarks write one), or None if ``root`` is
    not a git checkout or git is not installed. Takes one or two ``git`` calls (milliseconds)."""

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=30
        )
        result.check_returncode()
        return result.stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!*.md")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+changes" if changed else "")
