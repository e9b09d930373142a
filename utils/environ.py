"""Environment variables that TensorFlow and matplotlib read, checked before either loads.

Some of them, set to nonsense, end the program where no Python code can catch it:
``TF_NUM_INTRAOP_THREADS=-1`` aborts the process (SIGABRT) when TensorFlow makes its thread
pools; an unknown flag in ``TF_XLA_FLAGS`` ends it with status 1 as TensorFlow loads, its
message held back with TensorFlow's start-up notices, so nothing is said. matplotlib refuses an
``MPLBACKEND`` that names no backend with a 40-line traceback as it is imported.
``check_environment`` refuses each in one line first: a thread count that is not a count
(``TF_NUM_INTEROP_THREADS`` too, which TensorFlow ignores then), a ``TF_XLA_FLAGS`` word that is
no flag of TensorFlow's (all its names begin ``--tf_``: ``--garbage``, or XLA's own
``--xla_...``, which go in ``XLA_FLAGS``). A misspelt ``--tf_xla_...`` name still ends
TensorFlow: only TensorFlow knows its names. The command line calls it before TensorFlow
loads, as does ``import a3c_keras``.

Nothing here imports TensorFlow (matplotlib only to check ``MPLBACKEND``, when it is set).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping

from utils.errors import ConfigError

# TensorFlow's thread pools' sizes: a count, 0 or unset for TensorFlow's choice.
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
# What TF_XLA_FLAGS holds: TensorFlow's flags (--tf_xla_..., --tf_mlir_..., --tf_dump_...), as
# --name or --name=value. XLA's own (--xla_...) go in XLA_FLAGS: TensorFlow ends at them here.
XLA_FLAG = re.compile(r"--tf_[A-Za-z0-9_]+(=\S*)?")


def check_environment(environ: Mapping[str, str] = os.environ) -> None:
    """Checks the environment variables that TensorFlow and matplotlib read where a wrong value
    would end the program uncaught (the module docstring).

    Raises:
        ConfigError: one line naming the variable, its value and what it takes.
    """
    for name in THREAD_VARIABLES:
        value = environ.get(name)
        if value is not None and value.strip() and not re.fullmatch(r"\s*\d{1,6}\s*", value):
            raise ConfigError(
                f"{name}={value!r}: TensorFlow takes a number of threads there (0 for its "
                "own choice) and aborts on anything else; set it so, or unset it"
            )
    flags = environ.get("TF_XLA_FLAGS")
    if flags:
        wrong = [token for token in flags.split() if not XLA_FLAG.fullmatch(token)]
        if wrong:
            raise ConfigError(
                f"TF_XLA_FLAGS={flags!r}: {wrong[0]!r} is no flag of TensorFlow's (they read "
                "--tf_xla_name=value, as --tf_xla_auto_jit=2; XLA's own go in XLA_FLAGS), "
                "and TensorFlow ends the program at an unknown one; fix it, or unset it"
            )
    check_matplotlib_backend(environ)


def check_matplotlib_backend(environ: Mapping[str, str] = os.environ) -> None:
    """``MPLBACKEND``, if set, names a backend matplotlib has (it refuses any other when it is
    imported). Checked by importing matplotlib, where it is not imported yet.

    Raises:
        ConfigError: one line naming the value.
    """
    value = environ.get("MPLBACKEND")
    if not value or "matplotlib" in sys.modules:
        return
    try:
        import matplotlib  # noqa: F401 - it reads MPLBACKEND as it loads
    except ValueError:
        sys.modules.pop("matplotlib", None)
        raise ConfigError(
            f"MPLBACKEND={value!r} is no matplotlib backend (such as agg, or "
            "module://name.of.a.module); the plots need none: unset it"
        ) from None
