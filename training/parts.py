"""The parts of a training run: one per program that trained it, across ``--resume``.

A long run (Atari, millions of env steps) outlives a session: it is started in the background,
stopped, and continued with ``--resume``, maybe at another commit. Each checkpoint records
every part so far, so the run itself knows how it was made; ``benchmarks/benchmark.py
--from-runs`` writes them into docs/BENCHMARKS.md.
"""

from __future__ import annotations

import datetime
import json
import time

import tensorflow as tf

from utils.provenance import code_revision

# Where the parts are in a checkpoint (``tf.train.Checkpoint``'s naming).
PARTS_KEY = "parts/.ATTRIBUTES/VARIABLE_VALUE"

# How a part ended, as its last checkpoint says.
RUNNING = "running"  # its last checkpoint was a periodic one: killed, or still running
FINISHED = "finished"  # its budget was used (or the threshold reached)
STOPPED = "stopped"  # stopped before its budget: a signal, a callback, --stop_at_eval_return
FAULT = "fault"  # an env or the backend failed; the run was checkpointed
NOT_RECORDED = "not recorded"  # trained before parts were recorded (2026-12-08)


def utc_now() -> str:
    """The time now, UTC, to the second: ``2026-12-08T03:24:57Z``."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class RunParts:
    """The run's parts, saved with each checkpoint as a JSON list in one string variable.

    Each part is a dict:

    - ``part``: 1, 2, ...
    - ``commit``: the project's commit (``utils.provenance.code_revision``, ``+changes`` if
      the code differed from it), or None (not a git checkout, or not recorded).
    - ``started``, ``ended``: UTC times (``2026-12-08T03:24:57Z``) of the start of its training
      and of its last checkpoint; None where not recorded.
    - ``env_steps_start``, ``env_steps_end``: the run's env steps (agent steps, all envs
      together) when it started and at its last checkpoint.
    - ``train_seconds``: its seconds of training (evaluations and checkpoints excluded).
    - ``wall_seconds``: seconds from ``started`` to ``ended``.
    - ``outcome``: how it ended, by its last checkpoint: ``"finished"`` (the budget used),
      ``"stopped"`` (before it), ``"fault"``, ``"running"`` (a periodic checkpoint was the
      last: the program was killed, or is still running), ``"not recorded"`` (trained before
      parts were recorded: only its env steps and seconds of training are known).

    Attributes:
        variable: the ``tf.Variable`` (string) a ``tf.train.Checkpoint`` saves.
    """

    def __init__(self):
        self.variable = tf.Variable("[]", dtype=tf.string)
        self._current: dict | None = None
        self._began = 0.0  # time.monotonic() at the current part's start

    @property
    def parts(self) -> list[dict]:
        """Every part, the current one included, oldest first."""
        return json.loads(self.variable.numpy().decode())

    def restored_without_parts(self, env_steps: int, train_seconds: float) -> None:
        """After restoring a checkpoint written before parts were recorded: its training is
        one part of ``NOT_RECORDED`` outcome, its env steps and seconds of training known."""
        earlier = {
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
        self.variable.assign(json.dumps([earlier] if env_steps else []))

    def begin(self, env_steps: int, train_seconds: float) -> None:
        """Starts this program's part, at the run's ``env_steps`` and ``train_seconds`` so far
        (a resumed run's). Once per program: a second ``learn`` goes on in the same part."""
        if self._current is not None:
            return
        self._began = time.monotonic()
        self._seconds_at_start = float(train_seconds)
        self._current = {
            "part": len(self.parts) + 1,
            "commit": code_revision(),
            "started": utc_now(),
            "ended": None,
            "env_steps_start": int(env_steps),
            "env_steps_end": int(env_steps),
            "train_seconds": 0.0,
            "wall_seconds": 0.0,
            "outcome": RUNNING,
        }

    def record(self, env_steps: int, train_seconds: float, outcome: str = RUNNING) -> None:
        """Brings the current part up to now before a checkpoint: the run's ``env_steps`` and
        ``train_seconds`` so far, and ``outcome``. Nothing if no part began (a checkpoint
        outside ``train``)."""
        if self._current is None:
            return
        self._current.update(
            ended=utc_now(),
            env_steps_end=int(env_steps),
            train_seconds=round(float(train_seconds) - self._seconds_at_start, 1),
            wall_seconds=round(time.monotonic() - self._began, 1),
            outcome=outcome,
        )
        earlier = [part for part in self.parts if part["part"] != self._current["part"]]
        self.variable.assign(json.dumps([*earlier, self._current]))


def parts_in(reader: tf.train.CheckpointReader) -> list[dict] | None:
    """The parts a checkpoint's ``reader`` holds (``tf.train.load_checkpoint``), or None if it
    was written before parts were recorded."""
    if not reader.has_tensor(PARTS_KEY):
        return None
    text = reader.get_tensor(PARTS_KEY)
    return json.loads(text.decode() if isinstance(text, bytes) else text)
