"""The parts of a training run in its checkpoints: one per program that trained it, across
``--resume``.

A long run (Atari, millions of env steps) outlives a session: it is started in the background,
stopped, and continued with ``--resume``, maybe at another commit. Each checkpoint records
every part so far (``utils.provenance.PartClock`` says what a part holds), so the run itself
knows how it was made; ``benchmarks/benchmark.py --from-runs`` writes them into
docs/BENCHMARKS.md.
"""

from __future__ import annotations

import json

import tensorflow as tf

from utils.provenance import RUNNING, PartClock, unrecorded_part


class RunParts:
    """The run's parts, saved with each checkpoint as a JSON list in one string variable.

    Attributes:
        variable: the ``tf.Variable`` (string) a ``tf.train.Checkpoint`` saves.
    """

    def __init__(self):
        self.variable = tf.Variable("[]", dtype=tf.string)
        self.clock = PartClock()

    @property
    def parts(self) -> list[dict]:
        """Every part (``utils.provenance.PartClock``), the current one included, oldest
        first."""
        return json.loads(self.variable.numpy().decode())

    @property
    def current(self) -> dict | None:
        """This program's part as the last checkpoint recorded it; None if it recorded none
        (no checkpoint yet, or no env step made)."""
        begun = self.clock.current
        if begun is None:
            return None
        return next((part for part in self.parts if part["part"] == begun["part"]), None)

    def restored_without_parts(self, env_steps: int, train_seconds: float) -> None:
        """After restoring a checkpoint written before parts were recorded: its training is
        one part of outcome "not recorded", its env steps and seconds of training known."""
        self.variable.assign(json.dumps(unrecorded_part(env_steps, train_seconds)))

    def begin(self, env_steps: int, train_seconds: float) -> None:
        """Starts this program's part, at the run's ``env_steps`` and ``train_seconds`` so far
        (a resumed run's). Once per program: a second ``learn`` goes on in the same part."""
        self.clock.begin(self.parts, env_steps, train_seconds)

    def record(self, env_steps: int, train_seconds: float, outcome: str = RUNNING) -> None:
        """Brings the current part up to now before a checkpoint: the run's ``env_steps`` and
        ``train_seconds`` so far, and ``outcome``. Nothing if no part began (a checkpoint
        outside ``train``)."""
        parts = self.clock.record(self.parts, env_steps, train_seconds, outcome)
        self.variable.assign(json.dumps(parts))
