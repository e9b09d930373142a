"""Which code made a run, and when: the project's git commit and the record of a run's parts
(one per program that trained it, across ``--resume``), as plain JSON-able dicts.

``training.parts.RunParts`` keeps the parts in the run's checkpoints; the peer's script
(``benchmarks/sb3_a2c.py``) keeps them in its own state file, in the same form, so that
``benchmarks/benchmark.py --from-runs`` reads either.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import time
from pathlib import Path

# The project's root: the checkout whose commit a run records.
ROOT = Path(__file__).resolve().parent.parent

# How a part ended, as its last checkpoint says.
RUNNING = "running"  # its last checkpoint was a periodic one: killed, or still running
FINISHED = "finished"  # its budget was used (or the threshold reached)
STOPPED = "stopped"  # stopped before its budget: a signal, a callback, --stop_at_eval_return
FAULT = "fault"  # an env or the backend failed; the run was checkpointed
NOT_RECORDED = "not recorded"  # trained before parts were recorded (2026-12-08)


def code_revision(root: str | os.PathLike = ROOT) -> str | None:
    """The commit checked out in ``root`` (short hash), with ``+changes`` if its code differs
    from it (changed Markdown files do not count: benchmarks write one), or None if ``root`` is
    not a git checkout or git is not installed. Takes two ``git`` calls (milliseconds)."""

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


def utc_now() -> str:
    """The time now, UTC, to the second: ``2026-12-08T03:24:57Z``."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def unrecorded_part(env_steps: int, train_seconds: float) -> list[dict]:
    """The parts of a run checkpointed before parts were recorded: one part of outcome
    ``NOT_RECORDED``, its env steps and seconds of training known (none for a run of 0 steps)."""
    if not env_steps:
        return []
    return [
        {
            "part": 1,
            "commit": None,
            "started": None,
            "ended": None,
            "env_steps_start": 0,
            "env_steps_end": int(env_steps),
            "train_seconds": round(float(train_seconds), 1),
            "wall_seconds": None,
            "outcome": NOT_RECORDED,
        }
    ]


class PartClock:
    """This program's part of a run: begun once, brought up to date before each checkpoint.

    A part is a dict:

    - ``part``: 1, 2, ...
    - ``commit``: the project's commit (``code_revision``, ``+changes`` if the code differed
      from it), or None (not a git checkout, or not recorded).
    - ``started``, ``ended``: UTC times (``2026-12-08T03:24:57Z``) of the start of its training
      and of its last checkpoint; None where not recorded.
    - ``env_steps_start``, ``env_steps_end``: the run's env steps (agent steps, all envs
      together) when it started and at its last checkpoint.
    - ``train_seconds``: its seconds of training (evaluations and checkpoints excluded).
    - ``wall_seconds``: seconds from ``started`` to ``ended``.
    - ``outcome``: how it ended, by its last checkpoint: ``"finished"`` (the budget used),
      ``"stopped"`` (before it), ``"fault"``, ``"running"`` (a periodic checkpoint was the
      last: the program was killed, or is still running), ``"not recorded"``
      (``unrecorded_part``).
    """

    def __init__(self):
        self.current: dict | None = None
        self._began = 0.0  # time.monotonic() at the start
        self._seconds_at_start = 0.0

    def begin(self, earlier: list[dict], env_steps: int, train_seconds: float) -> None:
        """Starts the part after the ``earlier`` ones, at the run's ``env_steps`` and
        ``train_seconds`` so far (a resumed run's). Once: a second call changes nothing (a
        second ``learn`` goes on in the same part)."""
        if self.current is not None:
            return
        self._began = time.monotonic()
        self._seconds_at_start = float(train_seconds)
        self.current = {
            "part": len(earlier) + 1,
            "commit": code_revision(),
            "started": utc_now(),
            "ended": None,
            "env_steps_start": int(env_steps),
            "env_steps_end": int(env_steps),
            "train_seconds": 0.0,
            "wall_seconds": 0.0,
            "outcome": RUNNING,
        }

    def record(
        self, parts: list[dict], env_steps: int, train_seconds: float, outcome: str = RUNNING
    ) -> list[dict]:
        """``parts`` with this part brought up to now: the run's ``env_steps`` and
        ``train_seconds`` so far, and ``outcome``; ``parts`` as they are if none began or it
        has made no env step yet (a resumed run whose budget was used adds no part)."""
        if self.current is None or int(env_steps) == self.current["env_steps_start"]:
            return parts
        self.current.update(
            ended=utc_now(),
            env_steps_end=int(env_steps),
            train_seconds=round(float(train_seconds) - self._seconds_at_start, 1),
            wall_seconds=round(time.monotonic() - self._began, 1),
            outcome=outcome,
        )
        earlier = [part for part in parts if part["part"] != self.current["part"]]
        return [*earlier, dict(self.current)]
