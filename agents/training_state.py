"""The state of a training run on disk, for ``--resume``: ``tf.train.Checkpoint`` files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from agents.episode_log import Episode, EpisodeLog
from utils.checkpoint import CheckpointError, first_line
from utils.files import safe_name


class NoCheckpointError(FileNotFoundError):
    """``--resume`` found no checkpoint to continue from."""


class TrainingState:
    """Checkpoints of the model, the optimizer, random generators and the episode log.

    The files live in ``<save_dir>/checkpoints_<env>/`` and are written by
    ``tf.train.CheckpointManager``, which writes a checkpoint completely before it names it the
    latest: a run killed at any moment leaves the previous checkpoint readable. The newest
    ``max_to_keep`` are kept.

    Envs are not saved (gymnasium envs cannot be): a resumed run starts new episodes, and so
    does not repeat an uninterrupted run step for step.

    Args:
        save_dir: the run's ``--save_dir``.
        env_id: the env, naming the directory.
        episode_log: the log whose episodes and env steps are saved and restored.
        **trackables: what else to save: model, optimizer, ``tf.random.Generator``s.
    """

    def __init__(
        self,
        save_dir: str | os.PathLike,
        env_id: str,
        episode_log: EpisodeLog,
        max_to_keep=2,
        **trackables,
    ):
        self.directory = Path(save_dir) / f"checkpoints_{safe_name(env_id)}"
        self.episode_log = episode_log
        self.env_steps = tf.Variable(0, dtype=tf.int64)
        # One row of Episode fields per episode; the number of rows changes, so the shape is open.
        self.episodes = tf.Variable(
            tf.zeros((0, len(Episode._fields)), tf.float64), shape=tf.TensorShape([None, None])
        )
        self.checkpoint = tf.train.Checkpoint(
            env_steps=self.env_steps, episodes=self.episodes, **trackables
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.directory, max_to_keep=max_to_keep
        )

    @property
    def latest(self) -> str | None:
        """Path prefix of the newest checkpoint, or None."""
        return self.manager.latest_checkpoint

    def save(self) -> str:
        """Writes a checkpoint of everything now; returns its path prefix.

        The caller keeps other threads from changing the model and optimizer meanwhile.
        """
        episodes, env_steps = self.episode_log.snapshot()
        self.env_steps.assign(env_steps)
        self.episodes.assign(np.asarray(episodes, np.float64).reshape(-1, len(Episode._fields)))
        return self.manager.save()

    def restore(self) -> None:
        """Loads the newest checkpoint into the trackables and the episode log.

        Raises:
            NoCheckpointError: if there is none (nothing changes).
            CheckpointError: if it holds another model, optimizer or number of workers than
                this run builds (resume with the flags the run was started with).
        """
        if self.latest is None:
            raise NoCheckpointError(f"no checkpoint to resume in {self.directory}")
        try:
            self.checkpoint.restore(self.latest).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            raise CheckpointError(
                f"cannot resume from {self.latest}: it was written by a run with other flags "
                f"(env, workers or architecture); resume with the same ones ({first_line(error)})"
            ) from None
        episodes = [Episode.from_values(row) for row in self.episodes.numpy()]
        self.episode_log.restore(episodes, int(self.env_steps.numpy()))
