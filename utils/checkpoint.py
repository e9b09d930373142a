"""Saving and loading the trained model's weights, with what they were trained for."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import NamedTuple

import h5py
import keras
import numpy as np

from utils.envs import env_record, record_difference, record_name
from utils.errors import CheckpointError, first_line
from utils.files import atomic_write, safe_name
from utils.model_spec import ModelSpec

# HDF5 attribute of the weights file naming the env and the architecture they belong to.
METADATA_KEY = "a3c_keras"


def model_path(save_dir: str | os.PathLike, env_id: str) -> Path:
    """``<save_dir>/model_<env_id>.weights.h5``, the best weights of a run on ``env_id``."""
    return Path(save_dir) / f"model_{safe_name(env_id)}.weights.h5"


def checkpoint_directory(save_dir: str | os.PathLike, env_id: str) -> Path:
    """``<save_dir>/checkpoints_<env_id>/``, where a run's training checkpoints go."""
    return Path(save_dir) / f"checkpoints_{safe_name(env_id)}"


class RunFiles(NamedTuple):
    """Every path a training run on one env writes in its save directory.

    Attributes:
        model: the best weights, ``model_<env>.weights.h5``.
        checkpoints: the directory of the training checkpoints, ``checkpoints_<env>/``.
        episodes: the episode log, ``<env>_episodes.csv``.
        plot: the learning curve, ``<env>_moving_average.png``.
        logs: TensorBoard's run directories, ``logs/``.
    """

    model: Path
    checkpoints: Path
    episodes: Path
    plot: Path
    logs: Path

    @property
    def state_file(self) -> Path:
        """The checkpoints' state file (``tf.train.CheckpointManager``'s ``checkpoint``)."""
        return self.checkpoints / "checkpoint"

    def files(self) -> tuple[Path, ...]:
        """The paths that are files (the rest are directories)."""
        return (self.model, self.episodes, self.plot, self.state_file)


def run_files(save_dir: str | os.PathLike, env_id: str) -> RunFiles:
    """The paths a run on ``env_id`` writes in ``save_dir``."""
    save_dir, name = Path(save_dir), safe_name(env_id)
    return RunFiles(
        model=model_path(save_dir, env_id),
        checkpoints=checkpoint_directory(save_dir, env_id),
        episodes=save_dir / f"{name}_episodes.csv",
        plot=save_dir / f"{name}_moving_average.png",
        logs=save_dir / "logs",
    )


def describe(model: keras.Model, env_id: str) -> dict:
    """What a model file records, so loading it can say what does not match: the env id, the
    env's identity (``env``: ``utils.envs.env_record``, its module for ``module:EnvId``, or
    what a factory or object made), the model's spec (``model.spec.record()``: the spaces and
    the architecture, ``utils.model_spec.ModelSpec``) and its weights' shapes."""
    return {
        "env_id": env_id,
        "env": env_record(env_id),
        **model.spec.record(),
        "shapes": [list(weight.shape) for weight in model.weights],
    }


def saved_env(saved: dict) -> dict | None:
    """The env a model file's record (``describe``'s) names, as an ``env_record``; for a file
    from before the identity was recorded, its id alone (a ``module:EnvId`` written as its id
    then is that id with its module); None where it names none."""
    env_id = saved.get("env_id")
    if not isinstance(env_id, str) or not env_id:
        return None
    recorded = saved.get("env")
    if isinstance(recorded, dict) and recorded.get("id") == env_id:
        return recorded
    module, _, name = env_id.rpartition(":")
    return {"id": name, "module": module} if module else {"id": env_id}


def env_difference(saved: dict, env_id: str) -> tuple[str, str] | None:
    """Whether a model file's record (``describe``'s) is for another env than ``env_id`` is in
    this process: the two envs in words (``record_difference``), or None (the same env, or a
    record that names none). A file from before identities were recorded is compared by its
    id: it cannot tell ``moda:Foo-v0`` from ``modb:Foo-v0``."""
    recorded = saved_env(saved)
    if recorded is None:
        return None
    current = env_record(env_id)
    if "env" not in saved and recorded.get("id") == env_id and not recorded.get("module"):
        return None  # an old file: its id is all it says
    return record_difference(recorded, current)


def check_env_match(
    path: Path, saved: dict, env_id: str, flag: str = "--env", make: str = "train"
) -> None:
    """A model file made for another env than ``env_id`` is refused, in one line naming both
    and what to pass (``flag``: ``--env`` on the command line, ``env`` in Python) or what else
    to do (``make``: ``train`` or ``export`` a model for the env).

    Raises:
        CheckpointError: if ``env_difference`` finds one.
    """
    difference = env_difference(saved, env_id)
    if difference is None:
        return
    theirs, mine = difference
    raise CheckpointError(
        f"{path} was trained on {theirs}, not {mine}: {use_hint(saved_env(saved), flag)}, "
        f"or {make} a model for {record_name(env_record(env_id))}"
    )


def use_hint(recorded: dict, flag: str) -> str:
    """How to use a model file with the env it records: its id, or, for an env given to the
    Python API as a factory or object, that env."""
    name = record_name(recorded)
    if recorded.get("made_by"):
        if flag == "env":
            return "pass env= the factory or env object it was trained on"
        return "load it with the Python API and the env it was trained on (A2C.load(path, env=...))"
    return f"pass env={name!r} to use it" if flag == "env" else f"pass --env={name} to use it"


def saved_spec(path: Path, saved: dict, hint: str = "") -> ModelSpec:
    """The ``ModelSpec`` a model file's record (``describe``'s) holds, the settings it lacks at
    the values they had before they were recorded.

    Raises:
        CheckpointError: for a record this program cannot read.
    """
    try:
        return ModelSpec.from_record(saved)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise CheckpointError(
            f"{path} records a model this program cannot read ({type(error).__name__}: "
            f"{first_line(error)}){hint}"
        ) from None


def check_spaces_match(path: Path, saved: ModelSpec, wanted: ModelSpec, env_id: str) -> None:
    """A model file made for other spaces than the env's is refused, in one line naming both.

    Raises:
        CheckpointError: if the recorded actions or observations differ from ``wanted``'s.
    """
    theirs = saved.differences(wanted, only=ModelSpec.SPACES)
    if theirs:
        mine = wanted.differences(saved, only=ModelSpec.SPACES)
        raise CheckpointError(
            f"{path} is for another env's spaces ({', '.join(theirs)}) than {env_id}'s "
            f"({', '.join(mine)}): use it with the env it was trained on"
        )


def all_finite(model: keras.Model) -> bool:
    """Whether every weight of ``model`` is a finite number."""
    return all(np.isfinite(weight).all() for weight in model.get_weights())


def save_weights(model: keras.Model, path: str | os.PathLike, env_id: str) -> Path:
    """Saves ``model``'s weights to ``path`` (ending ``.weights.h5``) atomically; returns the path.

    The file also records ``env_id`` and the architecture, so loading it elsewhere can say what
    does not match. The model must be built; the caller keeps other threads from changing the
    weights meanwhile.

    Raises:
        CheckpointError: if a weight is NaN or infinite (a good file is never replaced by those).
    """
    if not all_finite(model):
        raise CheckpointError(f"refusing to save non-finite weights to {path}")

    def write(temporary: str) -> None:
        model.save_weights(temporary)
        with h5py.File(temporary, "a") as handle:
            handle.attrs[METADATA_KEY] = json.dumps(describe(model, env_id))

    return atomic_write(path, write, size=weights_bytes(model))


def weights_bytes(model: keras.Model) -> int:
    """Bytes of ``model``'s weights (the size of a weights file, less its headers)."""
    return variables_bytes(model.weights)


def variables_bytes(variables) -> int:
    """Bytes of the values of ``variables`` (Keras or TensorFlow variables)."""
    return sum(np.asarray(variable).nbytes for variable in variables)


def weights_metadata(path: str | os.PathLike) -> dict:
    """What a weights file written by ``save_weights`` records (``describe``: the env id and
    identity, the architecture); ``{}`` for a file from before it recorded them. Only read:
    nothing it names is imported.

    Raises:
        CheckpointError: no file at ``path``, not a readable weights file, or a record that
            is not a JSON object.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no saved model at {path}")
    try:
        with h5py.File(path, "r") as handle:
            saved = json.loads(handle.attrs.get(METADATA_KEY, "{}"))
    except (OSError, ValueError) as error:
        raise CheckpointError(
            f"{path} is corrupt or truncated: not a readable weights file ({first_line(error)})"
        ) from None
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path} records a model this program cannot read")
    return saved


def load_weights(
    model: keras.Model,
    path: str | os.PathLike,
    env_id: str,
    train_hint: str = "",
    flag: str = "--env",
) -> None:
    """Loads weights saved by ``save_weights`` into the built ``model``. Nothing the file
    records is imported or run: it is only compared.

    Args:
        flag: how the messages name the env's setting: ``--env`` (the command line) or
            ``env`` (the Python API).

    Raises:
        CheckpointError: one line saying what is wrong: no file at ``path`` (with
            ``train_hint``, how to make one); a file that is not a readable weights file
            (corrupt or truncated); weights trained on another env (another id, another
            module's env of the id, another factory's or object's env: ``env_difference``);
            or another architecture.
    """
    path = Path(path)
    hint = f"; {train_hint}" if train_hint else ""
    if not path.is_file():
        raise CheckpointError(f"no saved model at {path}{hint}")
    try:
        with h5py.File(path, "r") as handle:
            saved = json.loads(handle.attrs.get(METADATA_KEY, "{}"))
    except (OSError, ValueError) as error:
        raise CheckpointError(
            f"{path} is corrupt or truncated: not a readable weights file ({first_line(error)})"
            f"{hint}"
        ) from None
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path} records a model this program cannot read{hint}")
    check_env_match(path, saved, env_id, flag)
    if saved:
        check_spaces_match(path, saved_spec(path, saved, hint), model.spec, env_id)
    wanted = describe(model, env_id)
    different_shapes = saved.get("shapes", wanted["shapes"]) != wanted["shapes"]
    if saved and (architecture(saved, wanted) or different_shapes):
        units = saved_spec(path, saved).recurrent_units
        recurrence = ""
        if units != model.spec.recurrent_units:
            recurrence = (
                f": pass --recurrent --lstm_units={units}" if units else ": drop --recurrent"
            )
        raise CheckpointError(
            f"{path} holds another architecture ({architecture(saved, wanted) or shapes(saved)}) "
            f"than this program builds ({architecture(wanted, saved) or shapes(wanted)})"
            f"{recurrence}"
        )
    try:
        model.load_weights(path)
    except Exception as error:  # h5py, Keras and TF raise many kinds here
        raise CheckpointError(f"cannot load {path}: {first_line(error)}{hint}") from None


def architecture(description: dict, other: dict) -> str:
    """The architecture settings of ``description`` (a record, ``describe``'s) that differ
    from ``other``'s, in words (``"hidden units (32, 16), activation tanh"``); ``""`` if
    none do (the spaces are ``check_spaces_match``'s)."""
    mine, theirs = ModelSpec.from_record(description), ModelSpec.from_record(other)
    return ", ".join(mine.differences(theirs, exclude=ModelSpec.SPACES))


def shapes(description: dict) -> str:
    """The weight shapes of a record, in words."""
    return f"weight shapes {[tuple(shape) for shape in description.get('shapes', [])]}"


# The entry of a ``.keras`` file (a zip archive) that records what it was trained for; Keras
# reads the entries it knows and leaves this one alone.
KERAS_METADATA_ENTRY = "a3c_keras.json"


def export_model(
    model: keras.Model, path: str | os.PathLike, description: dict | None = None
) -> Path:
    """Saves the whole model (architecture and weights) as a Keras ``.keras`` file, atomically.

    Args:
        description: what the model was trained for (``describe(trained_model, env_id)``),
            written into the file as ``KERAS_METADATA_ENTRY`` so ``load_model_file`` can refuse
            it for another env.

    Raises:
        CheckpointError: if ``path`` does not end in ``.keras``.
    """
    if Path(path).suffix != ".keras":
        raise CheckpointError(f"--export={path}: a Keras model file must end in .keras")

    def write(temporary: str) -> None:
        model.save(temporary)
        if description is not None:
            with zipfile.ZipFile(temporary, "a") as archive:
                archive.writestr(KERAS_METADATA_ENTRY, json.dumps(description))

    return atomic_write(path, write, size=weights_bytes(model))


def keras_metadata(path: str | os.PathLike) -> dict:
    """What ``export_model`` recorded in a ``.keras`` file, or ``{}`` (a file from before it
    did, or from elsewhere; no file at ``path``: loading it says so).

    Raises:
        CheckpointError: the file is there but no readable ``.keras`` file (a ``.keras`` file
            is a zip archive): corrupt or truncated.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            saved = json.loads(archive.read(KERAS_METADATA_ENTRY))
    except (KeyError, ValueError, FileNotFoundError):
        return {}
    except Exception as error:  # noqa: BLE001 - zip, zlib and I/O errors alike
        raise CheckpointError(
            f"{path} is corrupt or truncated: not a readable .keras file "
            f"({type(error).__name__}: {first_line(error)})"
        ) from None
    return saved if isinstance(saved, dict) else {}


def load_model_file(
    path: str | os.PathLike,
    obs_shape: int | tuple[int, ...],
    params_size: int,
    env_id: str = "",
    spec: ModelSpec | None = None,
    flag: str = "--env",
) -> keras.Model:
    """Loads a ``.keras`` file written by ``export_model`` and checks it fits the env: it takes
    observations of ``obs_shape`` (a number of floats, or an image's shape) and gives
    ``params_size`` policy outputs (one logit per discrete action, a mean and a log sigma
    per Box dimension, or with gSDE a mean and a noise scale per feature and Box dimension).
    With ``env_id``, a file that records another env (``export_model``'s description) is
    refused first: the sizes alone cannot tell CartPole's two logits from a
    one-dimensional Box action's mean and log sigma (nor ``moda:Foo-v0`` from
    ``modb:Foo-v0``: ``env_difference``); with ``spec`` (the model the env needs), so is one
    that records other spaces. ``flag`` names the env's setting in messages, as
    ``load_weights``'.

    Raises:
        CheckpointError: if the file is missing, unreadable, trained on another env, or made
            for other spaces.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no saved model at {path}")
    saved = keras_metadata(path)
    if env_id:
        check_env_match(path, saved, env_id, flag, make="export")
    if spec is not None and saved:
        check_spaces_match(path, saved_spec(path, saved), spec, env_id or "the env")
    try:
        model = keras.saving.load_model(path)
    except Exception as error:  # zip, JSON and h5 errors all end here
        message = f"{path} is not a readable .keras model: {first_line(error)}"
        raise CheckpointError(message) from None
    obs_shape = (obs_shape,) if isinstance(obs_shape, int) else tuple(obs_shape)
    takes = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    found = None
    if takes == obs_shape:
        # Zeros of each input's shape and dtype: the observations, then a recurrent state.
        inputs = [np.zeros((1, *i.shape[1:]), i.dtype) for i in model.inputs]
        params = model(inputs)[0]
        found = int(params.shape[-1])
    if found != params_size:
        outputs = model.outputs[0].shape[-1] if getattr(model, "outputs", None) else "?"
        raise CheckpointError(
            f"{path} takes observations of shape {takes} and gives {outputs} policy outputs; "
            f"the env has observations of shape {obs_shape} and needs {params_size}"
        )
    return model
