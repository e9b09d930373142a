"""Saving and loading the trained model's weights."""

from __future__ import annotations

import os
from pathlib import Path

import keras

from utils.files import atomic_write


class CheckpointError(ValueError):
    """A saved model that is missing or cannot be loaded into the model asked for."""


def model_path(save_dir: str | os.PathLike, env_id: str) -> Path:
    """``<save_dir>/model_<env_id>.weights.h5``, the best weights of a run on ``env_id``."""
    return Path(save_dir) / f"model_{env_id}.weights.h5"


def save_weights(model: keras.Model, path: str | os.PathLike) -> Path:
    """Saves ``model``'s weights to ``path`` (ending ``.weights.h5``) atomically; returns the path.

    The model must be built. The caller keeps other threads from changing the weights meanwhile.
    """
    return atomic_write(path, model.save_weights)


def load_weights(model: keras.Model, path: str | os.PathLike, train_hint: str = "") -> None:
    """Loads weights saved by ``save_weights`` into the built ``model``.

    Raises:
        CheckpointError: if ``path`` does not exist (with ``train_hint``, how to make one), or
            cannot be read as weights of this model's architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"no saved model at {path}" + (f"; {train_hint}" if train_hint else "")
        )
    try:
        model.load_weights(path)
    except Exception as error:  # h5py, Keras and TF raise many kinds here
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(
            f"cannot load {path}: it is corrupt or was saved from another env or architecture "
            f"({reason})"
        ) from error
