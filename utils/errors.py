"""Every exception class of the project, in one place.

The command line (``cli/main.py``) sorts them by what a user sees:

- ``InputError`` and its subclasses: bad input, one line on stderr, exit status 2, nothing
  written (a flag, an env, a saved model, a path, a backend the run cannot use);
- ``TrainingError`` (a worker failed, updates kept being non-finite, an env broke its contract,
  the Ray backend is gone) and ``WriteError`` (a file could not be written): a fault, one line,
  exit status 1, the last good files kept;
- ``Interrupted``: a signal stopped the program (training saves first), exit status 128 + the
  signal.

Nothing here imports anything: every layer of the project may raise these.
"""

from __future__ import annotations


class InputError(ValueError):
    """Input the run cannot use; the message is one line saying what is wrong and what is
    allowed."""


class ConfigError(InputError):
    """A setting with a value it does not allow; the message is one line:
    ``flag --name=value: what is allowed``."""


class UsageError(InputError):
    """A combination of flags, or a path, that the command line cannot use."""


class EnvError(InputError):
    """An env id that gymnasium does not know, or an env whose spaces the agents cannot handle."""


class CheckpointError(InputError):
    """A saved model or checkpoint that is missing or cannot be loaded into the model asked
    for."""


class VideoError(InputError):
    """A recording that cannot be written: unknown format, or MP4 without its encoder."""


class BackendError(InputError):
    """The Ray backend cannot start: Ray missing, or no cluster at ``--ray_address``."""


class TrainingError(RuntimeError):
    """Training stopped by a fault: a worker failed, or updates kept being non-finite.

    ``model_intact``: the fault did not touch the (global) model (an env or the Ray backend
    failed, not an update), so the trainer checkpoints the run before it stops."""

    model_intact = False


class WorkerError(TrainingError):
    """A worker failed; the message names the worker and the cause."""


class WorkerDied(WorkerError):
    """A worker's process kept dying before it returned a gradient (its env ends the process,
    or it runs out of memory); the message names the env. The global model is intact: no
    gradient of the dead processes was applied."""

    model_intact = True


class EnvFault(TrainingError):
    """An env broke gymnasium's contract while it ran: ``reset`` or ``step`` raised, returned
    something else than gymnasium's tuples, or observations or rewards that are not finite
    numbers of its spaces. The message names the env, the call and what it returned."""

    model_intact = True


class BackendLost(TrainingError):
    """The Ray backend is gone under a run: its node died or the cluster cannot be reached.
    The driver's global model is intact."""

    model_intact = True


class WriteError(OSError):
    """A file could not be written; the last good one is kept. ``strerror`` says why."""


class DiskFullError(WriteError):
    """Too little free space to write a file; nothing was written."""


class NoCheckpointError(FileNotFoundError):
    """``--resume`` found no checkpoint to continue from."""


class SaveDirInUseError(RuntimeError):
    """Another run holds the save directory's lock."""


class Interrupted(BaseException):
    """A signal stopped the program (training saves first); ``status`` is the exit status.

    A ``BaseException``, as ``KeyboardInterrupt`` is: raised by a signal handler wherever the
    program is, it must pass every ``except Exception`` on its way out."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message (its class name if it has none): what one-line
    errors quote of a library's exception."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def one_line(value) -> str:
    """``str(value)`` on one line, its runs of white space (the line breaks NumPy prints in a
    2-D array, as in a space's repr) made single spaces: what one-line errors quote of it."""
    return " ".join(str(value).split())
