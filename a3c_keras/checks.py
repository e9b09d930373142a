"""The checks of a training run's input that need no training: the save directory and every
path the run writes in it, an earlier run there, the budget against one rollout, the size of a
rollout and of the model against this machine's memory. The Python API (``a3c_keras``) and the
command line (``cli/checks.py``, which adds its own modes' checks) run them before any work and
before any file is written, so bad input costs one line (``UsageError``), never a traceback
after minutes of training. Messages name the flags, which are the API's keywords too."""

from __future__ import annotations

import os
from pathlib import Path

from config.hyperparameters import A2CConfig, A3CConfig, ActorCriticConfig
from models.actor_critic import ActorCriticModel
from models.layer_forms import model_size
from training.state import checkpoint_prefixes, foreign_checkpoints
from utils import run_lock
from utils.checkpoint import checkpoint_directory, run_files
from utils.envs import Dims, reward_threshold
from utils.errors import SaveDirInUseError, UsageError
from utils.files import (
    FREE_SPACE_MARGIN,
    NAME_MAX,
    TEMPORARY_NAME_EXTRA,
    free_space,
    kib,
    long_name,
)

# A rollout (or a model with its optimizer) may take at most this share of the memory available
# when the run starts: the rest is TensorFlow's, the envs' and the other workers'.
MEMORY_SHARE = 0.5
# Bytes a float32 per-step number takes in a rollout and in its gradient computation, by the
# measured peak of an A2C update (observations, actions, rewards, values, log-probs, the layers'
# activations and their gradients: about four copies of the activations).
FLOAT_BYTES = 4
ACTIVATION_COPIES = 4
# Memory of one A3C worker thread besides its rollout: envs, local model, compiled acting and
# update (measured: 2 -> 18 CartPole workers added 53 MiB each).
WORKER_THREAD_BYTES = 56 * 2**20
# Memory of one A3C worker process on Ray (Python, TensorFlow, its envs and model): 774-785 MB
# resident, measured while a CartPole worker of the defaults ran rollouts.
RAY_WORKER_BYTES = 760 * 2**20
# Copies of the weights a run keeps: the weights, their gradient, Adam's two moments, and a local
# model per A3C worker thread.
WEIGHT_COPIES = 4


# Bytes a small run writes in its save directory: two checkpoints, the model, the plot, the
# episode log and TensorBoard's events (a short CartPole run: about 250 KiB).
RUN_FILES_BYTES = 1024 * 1024


def check_directory(flag: str, path: str | os.PathLike) -> None:
    """``path`` is, or can be made, a directory this process can write in."""
    if not str(path).strip():
        raise UsageError(f"{flag} is empty: name a directory (. for this one)")
    check_name_lengths(flag, path, temporary=False)
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise UsageError(
            f"{flag}={path} is a symbolic link to {os.readlink(path)}, which is not there"
        )
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag}={path} is a file, not a directory")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{flag}={path} cannot be created: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        reason = "it is" if existing == path else f"{existing} is"
        raise UsageError(f"{flag}={path} cannot be written: {reason} not writable")
    if holds_no_files(existing):
        where = "it is" if existing == path else f"{existing} is"
        raise UsageError(
            f"{flag}={path} cannot be written: {where} on a kernel file system (as /proc and "
            "/sys are), which holds no files"
        )


def holds_no_files(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` is on a file system of no size (``/proc``, ``/sys``): one that
    root may write to by ``os.access`` but where no file can be made."""
    try:
        return os.statvfs(directory).f_blocks == 0
    except (OSError, AttributeError):  # no statvfs (Windows): the write will say
        return False


# What each path of a run is, for the messages.
RUN_FILE_ROLES = {
    "model": "its model",
    "checkpoints": "its checkpoints",
    "episodes": "its episode log",
    "plot": "its plot",
    "logs": "TensorBoard's logs",
    "state_file": "its checkpoint state file",
    "lock": "its lock (one training run at a time)",
}


def check_run_files(save_dir: str | os.PathLike, env_id: str) -> None:
    """Every path a training run on ``env_id`` will write in ``save_dir`` (``run_files``) can be
    written: no directory where a file goes, no file where a directory goes, no name longer
    than its file system takes (with the temporary name a file is first written under), and
    existing directories writable. Checked before training, so a run is never lost at its end
    to a path it cannot write.

    Raises:
        UsageError: naming the path, what the run keeps there and what to do.
    """
    files = run_files(save_dir, env_id)
    lock = Path(save_dir) / run_lock.LOCK_NAME
    paths = {**files._asdict(), "state_file": files.state_file, "lock": lock}
    for role, path in paths.items():
        is_file = path in files.files() or path == lock
        long = long_name(path, TEMPORARY_NAME_EXTRA if is_file else 0)
        if long is not None:
            raise UsageError(
                f"--save_dir={save_dir}: the name {shorten(long)} of {RUN_FILE_ROLES[role]} is "
                f"too long: file names may have {NAME_MAX} bytes, and a file is first written "
                f"under a name {TEMPORARY_NAME_EXTRA} bytes longer; give a shorter --save_dir or "
                "env id"
            )
        what = f"--save_dir={save_dir}: {path} is"
        fix = "move it away or give another --save_dir"
        if path == lock and path.is_symlink():
            raise UsageError(
                f"{what} a symbolic link to {os.readlink(path)} where the run keeps "
                f"{RUN_FILE_ROLES[role]}: a lock is never written through a link; {fix}"
            )
        if path == lock and path.exists() and not (path.is_file() or path.is_dir()):
            raise UsageError(
                f"{what} not a regular file where the run keeps {RUN_FILE_ROLES[role]}: {fix}"
            )
        if path.is_symlink() and not path.exists():
            raise UsageError(
                f"{what} a symbolic link to {os.readlink(path)}, which is not there, where the "
                f"run keeps {RUN_FILE_ROLES[role]}: {fix}"
            )
        if is_file:
            if path.is_dir():
                raise UsageError(
                    f"{what} a directory where the run writes {RUN_FILE_ROLES[role]}: {fix}"
                )
        elif path.exists() and not path.is_dir():
            raise UsageError(f"{what} a file where the run keeps {RUN_FILE_ROLES[role]}: {fix}")
        elif path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"{what} not writable, and the run keeps {RUN_FILE_ROLES[role]} there")


def earlier_run(save_dir: str | os.PathLike, env_id: str) -> str | None:
    """What ``save_dir`` holds of an earlier run on ``env_id`` (``"checkpoints up to ckpt-64,
    model_CartPole-v1.weights.h5"``), or None if nothing."""
    files = run_files(save_dir, env_id)
    found = []
    prefixes = checkpoint_prefixes(files.checkpoints) if files.checkpoints.is_dir() else []
    if prefixes:
        found.append(f"checkpoints up to {Path(prefixes[-1]).name}")
    found += [path.name for path in (files.model, files.episodes, files.plot) if path.is_file()]
    return ", ".join(found) or None


def shorten(name: str, keep: int = 16) -> str:
    """``name`` for a message: its start, its end and its size, if long."""
    if len(name) <= 2 * keep:
        return repr(name)
    return f"'{name[:keep]}...{name[-keep:]}' ({len(os.fsencode(name))} bytes)"


def check_name_lengths(flag: str, path: str | os.PathLike, temporary: bool) -> None:
    """``path`` is UTF-8 and every component fits its file system (the last with the
    temporary suffix its writer adds first, if ``temporary``).

    Raises:
        UsageError: naming the component and the limit, or the name that is not UTF-8.
    """
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(
            f"{flag}={os.fsencode(path)!r} is not UTF-8: TensorFlow's file functions take UTF-8 "
            "names only; choose another name"
        ) from None
    long = long_name(path, TEMPORARY_NAME_EXTRA if temporary else 0)
    if long is not None:
        first = (
            f", and the file is first written under a name {TEMPORARY_NAME_EXTRA} bytes longer"
            if temporary and Path(path).name == long
            else ""
        )
        raise UsageError(
            f"{flag}: the name {shorten(long)} is too long: file names may have {NAME_MAX} "
            f"bytes{first}; shorten it"
        )


def check_output_file(flag: str, path: str | os.PathLike, suffixes: tuple[str, ...]) -> None:
    """``path`` ends in one of ``suffixes``, is not a directory, and its directory can be made
    and written."""
    path = Path(path)
    if not any(str(path).lower().endswith(suffix) for suffix in suffixes):
        raise UsageError(f"{flag}={path}: the file must end in {' or '.join(suffixes)}")
    check_name_lengths(flag, path, temporary=True)
    if path.is_dir():
        raise UsageError(f"{flag}={path} is a directory; name a file in it")
    existing = path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{flag}={path} cannot be created: {existing} is a file")
    check_directory(flag, path.parent if str(path.parent) else Path("."))


def check_free_space(flag: str, path: str | os.PathLike, size: int) -> None:
    """The file system that ``path`` would be on has ``size`` bytes free (besides the margin
    each write keeps), so a run does not train for minutes, then fail to save."""
    free = free_space(path)
    if free < size + FREE_SPACE_MARGIN:
        raise UsageError(
            f"{flag}={path} has {kib(free)} free; a run writes about {kib(size)} there (model, "
            "checkpoints, plot, logs): free some space or choose another"
        )


def rollout_steps(config: ActorCriticConfig) -> int:
    """Env steps in one rollout: ``update_freq`` x the envs one learner steps together."""
    envs = config.num_envs if isinstance(config, A2CConfig) else config.envs_per_worker
    return config.update_freq * envs


def check_budget(config: ActorCriticConfig) -> None:
    """A step budget holds at least one rollout (training counts env steps by rollouts)."""
    steps = rollout_steps(config)
    if config.max_steps and steps > config.max_steps:
        envs = "--num_envs" if isinstance(config, A2CConfig) else "--envs_per_worker"
        raise UsageError(
            f"--max_steps={config.max_steps} is less than one rollout of {steps} env steps "
            f"(--update_freq x {envs}); raise --max_steps or lower those"
        )


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now (Linux ``MemAvailable``), or None
    where it cannot be read."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_observations(config: ActorCriticConfig, dims: Dims) -> None:
    """Image observations (a convolutional trunk) take no running normalisation: the model
    scales their bytes to [0, 1] itself. ``dims``: the env's (``utils.envs.probe_env``).

    Raises:
        UsageError: for ``--normalize_observations`` on an env with image observations.
    """
    image = dims.image_shape
    if config.normalize_observations and image:
        raise UsageError(
            f"--normalize_observations: {config.env}'s observations are images {image}, which "
            "the model scales to [0, 1] itself; leave the flag out"
        )


def check_actions(config: ActorCriticConfig, dims: Dims) -> None:
    """State-dependent exploration is for Box actions. ``dims``: the env's.

    Raises:
        UsageError: for ``--use_sde`` on an env with other actions.
    """
    if config.use_sde and not dims.continuous:
        action = dims.action
        what = "discrete" if action.space == "Discrete" else f"{action}, not a Box"
        raise UsageError(
            f"--use_sde: {config.env}'s actions are {what} (a "
            f"{ACTION_POLICIES.get(action.space, 'categorical policy')} samples them); "
            "state-dependent exploration is for Box actions: leave the flag out"
        )


# How each kind of non-Box actions is sampled, for the messages.
ACTION_POLICIES = {
    "Discrete": "categorical policy",
    "MultiDiscrete": "categorical per entry",
    "MultiBinary": "Bernoulli per bit",
}


def check_memory(config: ActorCriticConfig, dims: Dims, available: int | None = None) -> None:
    """Refuses a rollout or a model that would not fit in memory, with its size.

    The model is counted from its own blocks before it is built, each layer by its size form
    (``models.layer_forms.model_size``: nothing allocated). Estimates (float32): a rollout
    keeps each step's observation and about four copies of the layers' activations through
    the update; the model keeps about four copies of its weights (weights, gradient, two Adam
    moments), plus one per A3C worker thread; a worker thread takes ``WORKER_THREAD_BYTES``
    besides, a worker process of a local Ray ``RAY_WORKER_BYTES`` (a cluster's workers use
    the cluster's memory, not this machine's).
    """
    available = available_memory() if available is None else available
    if available is None:
        return
    learners = 1
    if isinstance(config, A3CConfig) and config.backend == "threads":
        learners = config.workers
    limit = MEMORY_SHARE * available
    if learners > 1 and learners * WORKER_THREAD_BYTES > limit:
        raise UsageError(
            f"--workers={learners}: each worker thread takes about "
            f"{gib(WORKER_THREAD_BYTES)} (its envs, local model and compiled functions), "
            f"{gib(learners * WORKER_THREAD_BYTES)} in all; {gib(available)} is available: use "
            "fewer workers, or --backend=ray to spread them over machines"
        )
    local_ray = isinstance(config, A3CConfig) and config.backend == "ray" and not config.ray_address
    if local_ray and config.workers * RAY_WORKER_BYTES > available:
        raise UsageError(
            f"--workers={config.workers}: on a local Ray each worker is a process of about "
            f"{gib(RAY_WORKER_BYTES)} (Python, TensorFlow, its envs and model), "
            f"{gib(config.workers * RAY_WORKER_BYTES)} in all; {gib(available)} is available: "
            "use fewer workers, or a Ray cluster (--ray_address)"
        )
    size = model_size(ActorCriticModel(spec=config.model_spec(dims)))  # not built
    copies = WEIGHT_COPIES + (learners if learners > 1 else 0)
    model = size.parameters * FLOAT_BYTES * copies
    if model > limit:
        raise UsageError(
            f"--hidden_units={','.join(map(str, config.hidden_units))}: a model of "
            f"{size.parameters:,} weights would need about {gib(model)} of memory with its "
            f"optimizer; {gib(available)} is available"
        )
    per_step = dims.obs_dim + ACTIVATION_COPIES * size.activations + 8
    rollout = rollout_steps(config) * per_step * FLOAT_BYTES * learners
    if rollout > limit:
        raise UsageError(
            f"a rollout of {rollout_steps(config)} env steps (--update_freq x envs"
            f"{' x --workers' if learners > 1 else ''}) would need about {gib(rollout)} of "
            f"memory; {gib(available)} is available: lower --update_freq or the envs"
        )


def gib(size: float) -> str:
    """``size`` bytes in words: ``1.5 GiB``, ``320 MiB``."""
    if size >= 2**30:
        return f"{size / 2**30:.1f} GiB"
    return f"{size / 2**20:.0f} MiB"


def check_training(
    save_dir: str | os.PathLike | None,
    config: ActorCriticConfig,
    dims: Dims,
    resume: bool = False,
    overwrite: bool = False,
    lock: run_lock.RunLock | None = None,
) -> None:
    """Checks a new training run (or a resumed one) before it starts: first what needs no
    file (the budget, the env, the memory), then the save directory (``check_save_dir``).

    Args:
        save_dir: the run's directory; None: a run that writes no file (and takes no lock).
        config: its hyperparameters (already checked field by field).
        dims: the env's, from ``utils.envs.probe_env``.
        resume: it continues the run in ``save_dir``.
        overwrite: it replaces the run in ``save_dir`` on the same env.
        lock: ``save_dir``'s ``utils.run_lock.RunLock``, taken before the checks of what the
            directory holds and held (its holder recorded) when this returns; released if a
            check refuses. None: a run holding the directory is refused, but nothing is taken
            (another run may then start between these checks and the caller's lock).

    Raises:
        UsageError: one line naming the flag: a save directory that cannot be written, is in
            use, or holds a run on the env (without ``resume`` or ``overwrite``), ``resume``
            with nothing to resume, a checkpoint state file naming checkpoints outside the
            run's directory, a budget smaller than one rollout, a threshold stop for an env
            without a threshold, a rollout or model larger than the memory allows.
    """
    if overwrite and resume:
        raise UsageError(
            "--overwrite starts afresh and --resume continues the run in --save_dir: give one"
        )
    if not resume:  # a resumed run's budget counts the steps before it
        check_budget(config)
    if config.stop_at_threshold and reward_threshold(config.env) is None:
        raise UsageError(
            f"--stop_at_threshold: {config.env} has no reward threshold to stop at; leave "
            "the flag out and give a budget (--max_eps or --max_steps), or stop at a "
            "greedy evaluation's return with --stop_at_eval_return=R"
        )
    check_observations(config, dims)
    check_actions(config, dims)
    check_memory(config, dims)
    if save_dir is not None:
        check_save_dir(save_dir, config, resume, overwrite, lock)


def check_save_dir(
    save_dir: str | os.PathLike,
    config: ActorCriticConfig,
    resume: bool,
    overwrite: bool,
    lock: run_lock.RunLock | None = None,
) -> None:
    """``check_training``'s checks of the save directory. First its paths, which another run
    cannot change and which take nothing to check (it can be made and written, no path is
    blocked, there is room); then, with ``lock`` taken (the directory and the lock file made
    if missing, both removed again if a check refuses), what it holds: no run on the env
    (unless ``resume`` or ``overwrite``), with ``resume`` a checkpoint, and a checkpoint state
    file that names only the run's own checkpoints. The holder is recorded once they pass.

    Raises:
        UsageError: as ``check_training``.
    """
    check_directory("--save_dir", save_dir)
    check_run_files(save_dir, config.env)
    check_free_space("--save_dir", save_dir, RUN_FILES_BYTES)
    if lock is None:
        running = run_lock.holder(save_dir)
        if running:
            raise UsageError(run_lock.in_use(save_dir, running))
        check_run_contents(save_dir, config.env, resume, overwrite)
        return
    try:
        lock.acquire(record=False)
    except SaveDirInUseError as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(
            f"--save_dir={save_dir} cannot be created or written: {error.strerror or error}"
        ) from None
    try:
        check_run_contents(save_dir, config.env, resume, overwrite)
        lock.record()
    except BaseException:
        lock.release()
        raise


def check_run_contents(
    save_dir: str | os.PathLike, env_id: str, resume: bool, overwrite: bool
) -> None:
    """What ``save_dir`` holds for a run on ``env_id`` (``check_save_dir``, under the lock).

    Raises:
        UsageError: a run on the env there (without ``resume`` or ``overwrite``), ``resume``
            without a checkpoint, a checkpoint state file naming checkpoints elsewhere.
    """
    earlier = earlier_run(save_dir, env_id)
    if earlier and not (resume or overwrite):
        raise UsageError(
            f"--save_dir={save_dir} already holds a run on {env_id} ({earlier}): "
            "continue it with --resume, replace it with --overwrite, or give another "
            "--save_dir"
        )
    directory = checkpoint_directory(save_dir, env_id)
    if resume and not checkpoint_prefixes(directory):
        raise UsageError(
            f"--resume: no checkpoint to resume in {directory}; leave --resume out to "
            "start a new run"
        )
    if not overwrite:  # --overwrite removes the directory, state file and all
        foreign = foreign_checkpoints(directory)
        if foreign:
            raise UsageError(f"--save_dir={save_dir}: {foreign}")
