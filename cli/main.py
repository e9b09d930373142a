"""The command line of a3c_cartpole.py and a2c_cartpole.py: flags, mode, errors and exit status.

An entry point names its algorithm with a ``Program`` and calls ``main``; everything else is
shared, so a flag means the same in both scripts. Errors are sorted by their class
(``utils/errors.py``): bad input exits 2, a fault 1, a signal 128 + its number.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from absl import app, flags, logging

from cli import console
from cli.flags import (
    define_flags,
    exit_with_error,
    from_flags,
    given,
    parse_flags,
    refuse_stray_arguments,
)
from cli.options import RunOptions
from cli.signals import signals_raise_interrupted
from utils.environ import check_environment
from utils.errors import (
    ConfigError,
    EnvFault,
    InputError,
    Interrupted,
    TrainingError,
    WriteError,
    first_line,
)
from utils.logs import import_tensorflow

flags.disclaim_key_flags()  # the flags defined through main() are the entry point's own


@dataclasses.dataclass(frozen=True)
class Program:
    """An entry point's algorithm.

    Attributes:
        name: "a3c" or "a2c": the ``--algorithm`` value, the default save dir ``runs/<name>``.
        config_class: its hyperparameters; each field is a flag, its defaults the flags'.
        agent_class: returns the Python API's agent class (``a3c_keras.A2C`` or ``A3C``), on
            which every mode is built; the entry point imports it inside, so TensorFlow loads
            only once the flags are read.
    """

    name: str
    config_class: type
    agent_class: Callable[[], Any]

    @property
    def file(self) -> str:
        return f"{self.name}_cartpole.py"


def main(program: Program) -> None:
    """Defines the flags, parses them and runs the mode they ask for; exits with its status:
    0 done, 1 training failed, 2 bad input (one line on stderr, nothing written), 128 + N
    stopped by signal N (after saving)."""
    define_program_flags(program)
    app.run(lambda argv: run_and_leave(program, argv), flags_parser=parse_flags)


def define_program_flags(program: Program) -> None:
    """Defines the flags of ``program``: the run's options and its config's fields, with its
    defaults."""
    define_flags(RunOptions(algorithm=program.name, save_dir=f"runs/{program.name}"))
    define_flags(program.config_class())
    flags.declare_key_flag("verbosity")  # --helpshort lists it: -1 hides the progress lines


def run_and_leave(program: Program, argv: list[str]) -> None:
    """``run``, then readies the exit: every file is written by then, and the interpreter's
    last garbage collection would walk each object TensorFlow made (a noticeable share of a
    short run); frozen (``gc.freeze``), they are left to the process's end."""
    try:
        run(program, argv)
    finally:
        gc.freeze()


def run(program: Program, argv: list[str]) -> None:
    """Runs the baseline, training, evaluation, export or play, as the parsed flags say, and
    turns what stops it into one line and an exit status (``main``). SIGTERM and SIGHUP raise
    ``Interrupted`` from the start (training handles them itself, to save)."""
    refuse_stray_arguments(argv)
    console.plain_log_lines()
    console.quiet_gymnasium()
    console.quiet_media_libraries(window=flags.FLAGS.render == "human")
    training = flags.FLAGS.train  # an env's fault is a failed training, or a failed play
    try:
        with signals_raise_interrupted(), console.output_errors_marked():
            run_mode(program)
    except InputError as error:
        exit_with_error(str(error))
    except EnvFault as fault:  # an env, also where there is no training to fail
        exit_with_error(f"training failed: {fault}" if training else str(fault), status=1)
    except TrainingError as error:
        exit_with_error(f"training failed: {error}", status=1)
    except WriteError as error:
        exit_with_error(error.strerror, status=1)
    except out_of_memory_errors() as error:
        exit_with_error(
            f"out of memory ({type(error).__name__}: {first_line(error)}); lower "
            "--update_freq, the envs or --hidden_units",
            status=1,
        )
    except Interrupted as stop:
        exit_with_error(str(stop), status=stop.status)
    except KeyboardInterrupt:
        exit_with_error("interrupted", status=128 + signal.SIGINT)
    except OSError as error:
        if not console.from_output(error):  # a file, a socket: named, not blamed on stdout
            exit_with_error(os_error_line(error), status=1)
        if isinstance(error, BrokenPipeError):  # stdout's reader left (| head): say no more
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        # stdout itself cannot be written (a full device, say)
        exit_with_error(f"cannot write the output: {error.strerror or error}", status=1)


def os_error_line(error: OSError) -> str:
    """An ``OSError`` that is not the output's, in one line: the file (or files) it names and
    why (``/ro/study.log: Read-only file system``), else its class and message."""
    why = error.strerror or first_line(error)
    if error.filename is not None and error.filename2 is not None:
        return f"{error.filename} -> {error.filename2}: {why}"
    if error.filename is not None:
        return f"{error.filename}: {why}"
    return f"{type(error).__name__}: {why}"


def out_of_memory_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that say memory ran out: ``MemoryError``, and TensorFlow's
    ``ResourceExhaustedError`` once TensorFlow is loaded."""
    tf = sys.modules.get("tensorflow")
    return (MemoryError, tf.errors.ResourceExhaustedError) if tf else (MemoryError,)


def run_mode(program: Program) -> None:
    """Loads TensorFlow, reads and checks the flags, and runs the mode they ask for; raises
    what stops it (``run`` turns that into one line)."""
    check_environment()  # before TensorFlow loads: some of its variables abort it uncaught
    import_tensorflow()

    from a3c_keras.agent import log_preset
    from cli import checks
    from config.presets import apply_preset
    from utils.envs import resolve_env_id
    from utils.run_lock import RunLock

    options = from_flags(RunOptions)
    config = from_flags(program.config_class)
    config = dataclasses.replace(config, env=resolve_env_id(config.env))
    config, preset = apply_preset(config, given)
    if options.algorithm != "random" and (options.train or options.tune):
        log_preset(
            config, preset, [name for name in preset.settings if given(name)] if preset else []
        )
    if options.algorithm not in (program.name, "random"):
        raise ConfigError(
            f"flag --algorithm={options.algorithm}: {program.file} runs {program.name} or random"
        )
    # A training run owns its save directory from its checks on: the lock is taken before
    # they look at what the directory holds, and released when the program ends.
    lock = RunLock(options.save_dir) if checks.mode(options) == "train" else None
    try:
        run_checked_mode(program, options, config, given, lock)
    finally:
        if lock is not None:
            lock.release()


def run_checked_mode(program: Program, options, config, given, lock) -> None:
    """``run_mode`` from the checks on; ``lock``: the save directory's, for training."""
    from a3c_keras.agent import resumed_config, with_saved_architecture
    from cli import checks, modes
    from utils.checkpoint import model_path

    warnings, dims = checks.check_run(program.file, options, config, given, lock)
    for warning in warnings:
        logging.warning("%s", warning)
    if options.train and options.resume and not options.tune:
        config = resumed_config(config, options.save_dir, given)
    if options.train:
        checks.check_sde_sample_freq(config, given)
    if not options.train and options.algorithm != "random":  # the model file's architecture
        model = options.model or model_path(options.save_dir, config.env)
        config = with_saved_architecture(config, model, given)
    if options.algorithm == "random":
        modes.run_random_baseline(config)
        return
    agent_class = program.agent_class()
    if options.tune:
        modes.tune_and_report(config, options, agent_class, dims, program.file)
        return
    if options.train:
        modes.train_and_report(config, options, agent_class, dims, lock=lock)
    elif options.evaluate:
        modes.evaluate_saved_model(config, options, agent_class, program.file)
    elif not options.export:
        modes.play_saved_model(config, options, agent_class, program.file)
    if options.export:  # the saved model: with --train, the one just trained
        modes.export_saved_model(config, options, agent_class, program.file)
