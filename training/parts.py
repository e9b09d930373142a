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

# Where the parts are in a checkpoint (``tf.train.Checkpoint``'s naming).
PARTS_KEY = "parts/.ATTRIBUTES/VARIABLE_VALUE"


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


def parts_in(reader: tf.train.CheckpointReader) -> list[dict] | None:
    """The parts a checkpoint's ``reader`` holds (``tf.train.load_checkpoint``), or None if it
    was written before parts were recorded."""
    if not reader.has_tensor(PARTS_KEY):
        return None
    text = reader.get_tensor(PARTS_KEY)
    return json.loads(text.decode() if isinstance(text, bytes) else text)
