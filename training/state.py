"""The state of a training run on disk, for ``--resume``: ``tf.train.Checkpoint`` files."""

from __future__ import annotations

import errno
import glob
import json
import logging as logging_module
import os
import re
import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf
from absl import logging

from training.episode_log import Episode, EpisodeLog
from training.parts import RunParts
from utils.checkpoint import all_finite, checkpoint_directory, variables_bytes
from utils.envs import env_record
from utils.errors import CheckpointError, NoCheckpointError, WriteError, first_line
from utils.files import require_free_space
from utils.interrupts import signals_deferred
from utils.provenance import unrecorded_part


class TrainingState:
    """Checkpoints of the model, the optimizer, random generators and the episode log.

    The files live in ``<save_dir>/checkpoints_<env>/`` and are written by
    ``tf.train.CheckpointManager``, which writes a checkpoint completely before it names it the
    latest: a run killed at any moment leaves the previous checkpoint readable. The newest
    ``max_to_keep`` are kept.

    Envs are not saved (gymnasium envs cannot be): a resumed run starts new episodes, and so
    does not repeat an uninterrupted run step for step.

    A state file that names checkpoints outside the directory is refused
    (``foreign_checkpoints``): the manager prunes only files the run wrote or resumed.

    Each checkpoint also records the run's parts (``training.parts.RunParts``, ``parts``):
    which program trained which env steps, at which commit, for how long.

    Args:
        save_dir: the run's ``--save_dir``.
        env_id: the env, naming the directory.
        episode_log: the log whose episodes and env steps are saved and restored.
        settings: the run's config as a JSON-able dict, with its ``run_identity``, saved with
            each checkpoint (``saved_settings`` reads it back).
        **trackables: what else to save: model, optimizer, ``tf.random.Generator``s.

    Raises:
        CheckpointError: the state file names checkpoints outside the directory.
    """

    def __init__(
        self,
        save_dir: str | os.PathLike,
        env_id: str,
        episode_log: EpisodeLog,
        max_to_keep=2,
        settings: dict | None = None,
        **trackables,
    ):
        self.directory = checkpoint_directory(save_dir, env_id)
        # The run's settings (its config as JSON), so --resume can continue with them.
        self.settings = tf.Variable(json.dumps(settings or {}, sort_keys=True), dtype=tf.string)
        self.episode_log = episode_log
        self.env_steps = tf.Variable(0, dtype=tf.int64)
        # One row of Episode fields per episode; the number of rows changes, so the shape is open.
        self.episodes = tf.Variable(
            tf.zeros((0, len(Episode._fields)), tf.float64), shape=tf.TensorShape([None, None])
        )
        self.parts = RunParts()
        # The greedy evaluations during training, as JSON: [{"env_steps", "episodes",
        # "returns"}], so a resumed run's plot and callbacks keep the earlier ones.
        self.evaluations = tf.Variable("[]", dtype=tf.string)
        self.model = trackables.get("model")
        self.trackables = trackables
        # Entries added after runs were first checkpointed: a checkpoint without them
        # restores the rest (``_checkpoint_for``).
        self.later_entries = {"parts": self.parts.variable, "evaluations": self.evaluations}
        self.checkpoint = self._checkpoint_of(self.later_entries)
        repair_state_file(self.directory)
        foreign = foreign_checkpoints(self.directory)
        if foreign:  # never resumed from, nor pruned: another run's files
            raise CheckpointError(foreign)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.directory, max_to_keep=max_to_keep
        )

    @property
    def latest(self) -> str | None:
        """Path prefix of the newest checkpoint, or None."""
        return self.manager.latest_checkpoint

    def save(self) -> str | None:
        """Writes a checkpoint of everything now; returns its path prefix, or None (with a
        warning) if a weight of the model is not finite: such weights are never written.

        The caller keeps other threads from changing the model and optimizer meanwhile.

        Raises:
            utils.errors.DiskFullError: too little free space (checked first; a write that
                fails anyway leaves no partial files and the previous checkpoints intact).
        """
        if self.model is not None and not all_finite(self.model):
            logging.warning("not writing a checkpoint: a weight is NaN or infinite")
            return None
        episodes, env_steps = self.episode_log.snapshot()
        self.env_steps.assign(env_steps)
        self.episodes.assign(np.asarray(episodes, np.float64).reshape(-1, len(Episode._fields)))
        self.directory.mkdir(parents=True, exist_ok=True)
        require_free_space(self.directory, self._size())
        try:
            with signals_deferred():  # a Ctrl-C now waits until the checkpoint is whole
                return self.manager.save()
        except BaseException as error:
            for temporary in glob.glob(str(self.directory / "*_temp*")):
                shutil.rmtree(temporary, ignore_errors=True)
            if not isinstance(error, (OSError, tf.errors.OpError)):
                raise
            raise WriteError(
                errno.EIO, f"cannot write a checkpoint in {self.directory}: {first_line(error)}"
            ) from None

    def _size(self) -> int:
        """Bytes a checkpoint takes, about: every variable of what it saves."""
        variables = [self.env_steps, self.episodes]
        for trackable in self.trackables.values():
            variables += list(getattr(trackable, "variables", []))
        return variables_bytes(variables)

    def _checkpoint_of(self, later_entries: dict) -> tf.train.Checkpoint:
        """A ``tf.train.Checkpoint`` of what every checkpoint holds and ``later_entries``."""
        return tf.train.Checkpoint(
            env_steps=self.env_steps,
            episodes=self.episodes,
            settings=self.settings,
            **later_entries,
            **self.trackables,
        )

    def _checkpoint_for(self, reader: tf.train.CheckpointReader) -> tf.train.Checkpoint:
        """What restores the checkpoint ``reader`` reads: all it holds of ``later_entries``
        (none for a checkpoint from before the first of them, 2026-12-08)."""
        held = {
            name: variable
            for name, variable in self.later_entries.items()
            if reader.has_tensor(entry_key(name))
        }
        return self._checkpoint_of(held)

    def set_evaluations(self, evaluations: list[dict]) -> None:
        """The greedy evaluations so far (``{"env_steps", "episodes", "returns"}`` each),
        saved with the next checkpoint."""
        self.evaluations.assign(json.dumps(evaluations))

    def saved_evaluations(self) -> list[dict]:
        """The greedy evaluations the restored checkpoint holds (none if it was written
        before they were saved)."""
        return json.loads(self.evaluations.numpy().decode())

    def restore(self) -> None:
        """Loads the newest checkpoint into the trackables and the episode log.

        Raises:
            NoCheckpointError: if there is none (nothing changes).
            CheckpointError: if it holds a model or optimizer of other shapes than this run
                builds, or every checkpoint is damaged. A damaged newest checkpoint is skipped
                with a warning naming it; the newest intact one is restored.
        """
        if not self.manager.checkpoints:
            raise NoCheckpointError(f"no checkpoint to resume in {self.directory}")
        damaged = []
        for prefix in reversed(self.manager.checkpoints):  # the newest first
            problem = damage(prefix)
            if problem:
                damaged.append(f"{prefix} ({problem})")
                continue
            for text in damaged:
                logging.warning("checkpoint %s is damaged; resuming from %s", text, prefix)
            reader = tf.train.load_checkpoint(prefix)
            recorded = json_entry(reader, "parts") is not None  # or written before parts were
            checkpoint = self._checkpoint_for(reader)
            try:
                checkpoint.restore(prefix).assert_existing_objects_matched()
            except (AssertionError, ValueError, tf.errors.OpError) as error:
                raise CheckpointError(
                    f"cannot resume from {prefix}: it was written by a run that built other "
                    "objects (--hidden_units, --workers and --backend must stay as they were, "
                    "and checkpoints from before the model's blocks of 2026-11-26 do not "
                    f"load; {first_line(error)})"
                ) from None
            # The checkpoints' numbering goes on (the manager numbers by the save counter).
            self.checkpoint.save_counter.assign(checkpoint.save_counter)
            episodes = [Episode.from_values(row) for row in self.episodes.numpy()]
            self.episode_log.restore(episodes, int(self.env_steps.numpy()))
            if not recorded:
                seconds = self.trackables.get("seconds")
                self.parts.restored_without_parts(
                    int(self.env_steps.numpy()), float(seconds.numpy()) if seconds else 0.0
                )
            return
        raise CheckpointError(
            f"every checkpoint in {self.directory} is damaged: {'; '.join(damaged)}; start a "
            "new run (without --resume)"
        )


def run_identity(config) -> dict:
    """What a checkpoint records of its run besides the config's fields: the algorithm
    (``"a2c"`` or ``"a3c"``) and the env's identity (``utils.envs.env_record``: its module
    for ``module:EnvId``, or what a factory or object made), so ``--resume`` can refuse a run
    of another algorithm or env in one line."""
    return {"algorithm": config.algorithm, "env_identity": env_record(config.env)}


def saved_algorithm(saved: dict) -> str | None:
    """The algorithm of a run from its saved settings: recorded, or for a checkpoint from
    before it was, told by its config's fields (A3C's ``workers``, A2C's ``num_envs``)."""
    if saved.get("algorithm") in ("a2c", "a3c"):
        return saved["algorithm"]
    if "workers" in saved:
        return "a3c"
    return "a2c" if "num_envs" in saved else None


def entry_key(name: str) -> str:
    """Where a variable the checkpoint saves as ``name`` is in its files
    (``tf.train.Checkpoint``'s naming)."""
    return f"{name}/.ATTRIBUTES/VARIABLE_VALUE"


def newest_reader(save_dir: str | os.PathLike, env_id: str) -> tf.train.CheckpointReader | None:
    """A reader of the newest intact checkpoint of ``save_dir`` for ``env_id``, or None."""
    for prefix in reversed(checkpoint_prefixes(checkpoint_directory(save_dir, env_id))):
        if damage(prefix) is None:
            return tf.train.load_checkpoint(prefix)
    return None


def json_entry(reader: tf.train.CheckpointReader, name: str):
    """The JSON a checkpoint holds as the string variable ``name``; None if it has none."""
    if not reader.has_tensor(entry_key(name)):
        return None
    text = reader.get_tensor(entry_key(name))
    return json.loads(text.decode() if isinstance(text, bytes) else text)


def saved_settings(save_dir: str | os.PathLike, env_id: str) -> dict | None:
    """The settings saved with the newest intact checkpoint of ``save_dir`` for ``env_id``, or
    None if there is none (or it was written before settings were saved)."""
    reader = newest_reader(save_dir, env_id)
    return (json_entry(reader, "settings") or None) if reader is not None else None


def saved_parts(save_dir: str | os.PathLike, env_id: str) -> list[dict] | None:
    """The parts of the run in ``save_dir`` on ``env_id`` (``training.parts.RunParts``), as
    its newest intact checkpoint records them; None if it has no checkpoint. A checkpoint from
    before parts were recorded gives one part of outcome "not recorded"."""
    reader = newest_reader(save_dir, env_id)
    if reader is None:
        return None
    parts = json_entry(reader, "parts")
    if parts is not None:
        return parts
    seconds = (
        reader.get_tensor(entry_key("seconds")) if reader.has_tensor(entry_key("seconds")) else 0.0
    )
    return unrecorded_part(int(reader.get_tensor(entry_key("env_steps"))), float(seconds))


def checkpoint_evaluations(save_dir: str | os.PathLike, env_id: str) -> list[dict]:
    """The greedy evaluations during training that the newest intact checkpoint of ``save_dir``
    holds (``{"env_steps", "episodes", "returns"}`` each); none if it has no checkpoint or was
    written before they were kept."""
    reader = newest_reader(save_dir, env_id)
    return (json_entry(reader, "evaluations") or []) if reader is not None else []


def checkpoint_prefixes(directory: str | os.PathLike) -> list[str]:
    """Path prefixes of the checkpoints whose index file is in ``directory``, oldest first
    (by N of ``ckpt-N``), whatever the state file says."""
    indexes = glob.glob(str(Path(directory) / "ckpt-*.index"))
    prefixes = [index[: -len(".index")] for index in indexes]
    return sorted(prefixes, key=lambda prefix: int(re.findall(r"\d+", Path(prefix).name)[-1]))


def damage(prefix: str) -> str | None:
    """What is wrong with the checkpoint at ``prefix`` (a missing or truncated file, say), or
    None if every saved tensor reads back."""
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as error:  # noqa: BLE001 - TF raises many kinds for damaged files
        return first_line(error)
    return None


def foreign_checkpoints(directory: str | os.PathLike) -> str | None:
    """The problem, as a sentence naming them, if ``directory``'s checkpoint state file names
    checkpoints outside ``directory`` (absolute paths of another run, ``../``): a run would
    resume from them, and ``tf.train.CheckpointManager`` would delete them when it prunes.
    None if it names only checkpoints in ``directory``, or there is no state file (a damaged
    one is ``repair_state_file``'s: rebuilt from the checkpoints in ``directory``)."""
    state = Path(directory) / "checkpoint"
    if not state.is_file():
        return None
    try:
        proto = tf.train.get_checkpoint_state(str(directory))
    except Exception:  # noqa: BLE001 - a damaged state file: repaired from the directory's own
        return None
    if proto is None:
        return None
    home = os.path.realpath(directory)
    named = [proto.model_checkpoint_path, *proto.all_model_checkpoint_paths]
    outside = []
    for path in dict.fromkeys(path for path in named if path):
        # get_checkpoint_state has joined a relative name to ``directory`` already.
        full = os.path.normpath(path)
        if os.path.dirname(os.path.realpath(full)) != home:
            outside.append(full)
    if not outside:
        return None
    return (
        f"the checkpoint state file {state} names checkpoints outside {directory} "
        f"({', '.join(outside)}); a run resumes from and prunes only its own checkpoints: "
        f"remove {state.name} there (it is rebuilt from the checkpoints in {Path(directory).name}) "
        "or give another --save_dir"
    )


def repair_state_file(directory: Path) -> None:
    """Rebuilds ``directory``'s ``checkpoint`` state file, with a warning, if it is damaged or
    missing while checkpoints are there: it then lists the checkpoints present, newest last. A
    damaged one where there is no checkpoint is removed (``tf.train.CheckpointManager`` would
    refuse to start)."""
    state = directory / "checkpoint"
    prefixes = checkpoint_prefixes(directory)
    if not prefixes:
        if state.is_file():
            try:
                tf.train.get_checkpoint_state(str(directory))
            except Exception as error:  # noqa: BLE001 - an empty or garbled state file
                state.unlink()
                logging.warning(
                    "the checkpoint state file %s was damaged (%s) and no checkpoint is there: "
                    "removed",
                    state,
                    first_line(error),
                )
        return
    try:
        if tf.train.get_checkpoint_state(str(directory)) is not None:
            return
        problem = "missing"
    except Exception as error:  # noqa: BLE001 - a parse error of a damaged text file
        problem = f"damaged: {first_line(error)}"
    stamps = [os.path.getmtime(prefix + ".index") for prefix in prefixes]
    quiet = logging_module.getLogger("tensorflow")
    level = quiet.level
    quiet.setLevel(logging_module.ERROR)  # its deprecation notice: CheckpointManager reads it
    try:
        tf.compat.v1.train.update_checkpoint_state(
            str(directory),
            prefixes[-1],
            all_model_checkpoint_paths=prefixes,
            all_model_checkpoint_timestamps=stamps,
            last_preserved_timestamp=min(stamps) - 1,
        )
    finally:
        quiet.setLevel(level)
    logging.warning(
        "the checkpoint state file %s was %s; rebuilt from the %d checkpoints present",
        state,
        problem,
        len(prefixes),
    )
