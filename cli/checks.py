"""Every check of a run's input that needs no training: flag combinations, output paths, the
size of a rollout and of the model against this machine's memory, the budget against one
rollout, a display. They run before any work and before any file is written, so bad input costs
one line and exit status 2, never a traceback after minutes of training."""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
from collections.abc import Callable

from a3c_keras.checks import check_output_file, check_training
from cli.options import RunOptions
from config.hyperparameters import MODEL_SETTINGS, ActorCriticConfig
from utils.envs import Dims, probe_env
from utils.errors import UsageError
from utils.run_lock import RunLock
from utils.video import check_video_path

# The hyperparameters each mode besides training reads; any other given flag does nothing there.
USED_WITHOUT_TRAINING = {
    "play": {"env", "seed", *MODEL_SETTINGS, "jit_compile"},
    "evaluate": {"env", "seed", *MODEL_SETTINGS, "jit_compile", "eval_episodes"},
    "export": {"env", *MODEL_SETTINGS},
    "random": {"env", "seed", "max_eps", "max_steps"},
}
PLAY_OPTIONS = ("record", "render", "episodes")
TUNE_OPTIONS = (
    "trials",
    "trial_steps",
    "trial_evaluations",
    "tune_jobs",
    "tune_params",
    "tune_space",
    "tune_storage",
    "tune_pruner",
)


def mode(options: RunOptions) -> str:
    """What the run does: ``train``, ``tune``, ``random``, ``evaluate``, ``export`` or
    ``play``."""
    if options.algorithm == "random":
        return "random"
    if options.tune:
        return "tune"
    if options.train:
        return "train"
    if options.evaluate:
        return "evaluate"
    return "export" if options.export else "play"


def check_run(
    program_file: str,
    options: RunOptions,
    config: ActorCriticConfig,
    given: Callable[[str], bool],
    lock: RunLock | None = None,
) -> tuple[list[str], Dims | None]:
    """Checks a run's input before it starts; returns the warnings to print and the env's
    ``Dims`` (None for an export, which makes no env).

    Args:
        program_file: ``a3c_cartpole.py`` or ``a2c_cartpole.py``, for the hints.
        options: the run options.
        config: the run's hyperparameters (already checked field by field).
        given: whether a flag was on the command line (``cli.flags.given``).
        lock: for training, the save directory's lock: taken before the checks of what the
            directory holds and held when this returns (``a3c_keras.checks.check_save_dir``).

    Raises:
        EnvError: an env that breaks gymnasium's contract at its first reset or step, or
            cannot render the frames ``--record`` needs (``utils.envs.probe_env``).
        UsageError: one line naming the flag: a combination that does nothing, an output
            path that cannot be written or has the wrong extension, a rollout or a model
            larger than the memory allows, a budget smaller than one rollout, a threshold stop
            for an env without a threshold, a window without a display.
    """
    what = mode(options)
    warnings = check_combinations(program_file, what, options, config, given)
    dims = None
    if what != "export":  # an env that breaks gymnasium's contract at once is bad input
        dims = probe_env(config.env, render=what == "play" and bool(options.record))
    if options.export and what != "random":  # training and evaluation export afterwards
        check_output_file("--export", options.export, (".keras",))
    if what == "train":
        check_training(options.save_dir, config, dims, options.resume, options.overwrite, lock)
    elif what == "tune":
        check_tuning(options, config, dims)
    elif what == "play":
        if options.record:
            check_video_path(options.record)
            check_output_file("--record", options.record, (".gif", ".mp4"))
        elif options.render == "human":
            check_display()
    return warnings, dims


def check_combinations(
    program_file: str,
    what: str,
    options: RunOptions,
    config: ActorCriticConfig,
    given: Callable[[str], bool],
) -> list[str]:
    """Errors for run options that would do nothing in this mode; warnings for hyperparameters
    that do nothing in it."""
    if options.tune and (options.train or options.algorithm == "random"):
        doing = "--train" if options.train else "--algorithm=random"
        raise UsageError(f"--tune trains runs of its own: leave {doing} out")
    for name in TUNE_OPTIONS:
        if given(name) and what != "tune":
            raise UsageError(f"--{name} is for tuning: add --tune")
    if what == "tune":
        for name in ("evaluate", "export", "model", *PLAY_OPTIONS):
            if given(name):
                raise UsageError(f"--{name} does nothing with --tune")
        return []
    if options.resume and what != "train":
        raise UsageError("--resume continues a training run: add --train (or --tune for a study)")
    if options.overwrite and what != "train":
        raise UsageError("--overwrite replaces a run in --save_dir by a new one: add --train")
    if options.overwrite and options.resume:
        raise UsageError(
            "--overwrite starts afresh and --resume continues the run in --save_dir: give one"
        )
    if what == "random":
        for name in ("evaluate", "export", "model", *PLAY_OPTIONS):
            if given(name):
                raise UsageError(f"--{name} does nothing with --algorithm=random")
    elif what != "play":
        for name in PLAY_OPTIONS:
            if given(name) and getattr(options, name) != getattr(RunOptions, name):
                doing = "--train" if what == "train" else f"--{what}"
                raise UsageError(
                    f"--{name} is for playing the saved model; it does nothing with {doing} "
                    f"(play afterwards: python {program_file} --{name}=...)"
                )
    if what == "train" and options.model:
        raise UsageError(
            "--model names a saved model to play, evaluate or export; training writes its own "
            "to --save_dir (continue a run with --resume)"
        )
    if what == "train":
        return []
    used = USED_WITHOUT_TRAINING[what]
    return [
        f"--{field.name} does nothing without --train; ignored"
        for field in dataclasses.fields(config)
        if field.name not in used and given(field.name)
    ]


def tune_options(options: RunOptions, config: ActorCriticConfig):
    """The study's ``a3c_keras.tuning.TuneOptions`` from the run options (``--trial_steps=0``:
    the config's ``max_steps``)."""
    from a3c_keras.tuning import TuneOptions

    return TuneOptions(
        trials=options.trials,
        trial_steps=options.trial_steps or config.max_steps,
        evaluations=options.trial_evaluations,
        jobs=options.tune_jobs,
        params=tuple(name.strip() for name in options.tune_params.split(",") if name.strip()),
        space_file=options.tune_space,
        storage=options.tune_storage,
        pruner=options.tune_pruner,
        resume=options.resume,
        overwrite=options.overwrite,
    )


def check_tuning(options: RunOptions, config: ActorCriticConfig, dims: Dims) -> None:
    """Checks a study before it starts: its save directory, the base config as a training run
    would be checked, the search spaces, the trial budget against its evaluations, and the
    storage (``a3c_keras.tuning.check_study``); nothing is written.

    Raises:
        UsageError: one line naming the flag.
    """
    from a3c_keras.checks import (
        check_actions,
        check_directory,
        check_memory,
        check_observations,
        rollout_steps,
    )

    try:
        import optuna  # noqa: F401
    except ImportError:
        raise UsageError("--tune needs Optuna: pip install optuna") from None
    from a3c_keras.tuning import check_study, search_spaces

    if options.overwrite and options.resume:
        raise UsageError(
            "--overwrite starts a new study and --resume continues the one in --save_dir: give one"
        )
    check_directory("--save_dir", options.save_dir)
    check_observations(config, dims)
    check_actions(config, dims)
    check_memory(config, dims)
    study = tune_options(options, config)
    if not study.trial_steps:
        raise UsageError("--tune needs a trial budget: give --trial_steps (or --max_steps)")
    rollout = rollout_steps(config)
    if study.trial_steps < study.evaluations * rollout:
        raise UsageError(
            f"--trial_steps={study.trial_steps}: each of the {study.evaluations} evaluations "
            f"of a trial needs at least one rollout ({rollout} env steps) before it; give "
            f"--trial_steps >= {study.evaluations * rollout} or fewer --trial_evaluations"
        )
    spaces = search_spaces(config, dims.continuous, study.params, study.space_file)
    check_study(config, study, options.save_dir, spaces)


def check_sde_sample_freq(config: ActorCriticConfig, given: Callable[[str], bool]) -> None:
    """``--sde_sample_freq`` given for a training run without gSDE (after ``--resume`` has
    taken the run's own settings: a resumed gSDE run may change it).

    Raises:
        UsageError: naming the flag.
    """
    if given("sde_sample_freq") and not config.use_sde:
        raise UsageError(
            f"--sde_sample_freq={config.sde_sample_freq} resamples gSDE's noise, which needs "
            "--use_sde: add it or leave the flag out"
        )


def check_display() -> None:
    """A window can be opened: the X11 or Wayland display named in the environment answers.

    Opening a window on a display that does not exist crashes SDL (pygame) in native code, so
    this is checked before.
    """
    if not sys.platform.startswith("linux"):
        return
    wayland = os.environ.get("WAYLAND_DISPLAY")
    if wayland:
        runtime = os.environ.get("XDG_RUNTIME_DIR", "")
        path = wayland if wayland.startswith("/") else os.path.join(runtime, wayland)
        if _connects(socket.AF_UNIX, path):
            return
    display = os.environ.get("DISPLAY")
    if not display and not wayland:
        raise UsageError("--render=human needs a display; --record=PATH.gif saves the play")
    if display and _x11_answers(display):
        return
    shown = f"DISPLAY={display}" if display else f"WAYLAND_DISPLAY={wayland}"
    raise UsageError(
        f"--render=human: the display {shown} does not answer; --record=PATH.gif saves the play"
    )


def _x11_answers(display: str) -> bool:
    """Whether the X server of ``display`` (``[host]:number[.screen]``) accepts a connection."""
    host, _, rest = display.rpartition(":")
    try:
        number = int(rest.split(".")[0])
    except ValueError:
        return False
    if host in ("", "unix"):
        return _connects(socket.AF_UNIX, f"/tmp/.X11-unix/X{number}") or _connects(
            socket.AF_UNIX, f"\0/tmp/.X11-unix/X{number}"
        )
    return _connects(socket.AF_INET, (host, 6000 + number))


def _connects(family: int, address) -> bool:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.settimeout(2)
            probe.connect(address)
        return True
    except OSError:
        return False
