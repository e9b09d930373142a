"""Command-line flags shared by a3c_cartpole.py and a2c_cartpole.py (absl), defined once here."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import NoReturn

from absl import flags

FLAGS = flags.FLAGS


def define_shared_flags(algorithm: str) -> None:
    """Defines the flags both entry points take; ``algorithm`` is the trained one ("a3c"/"a2c")."""
    flags.DEFINE_enum(
        "algorithm",
        algorithm,
        [algorithm, "random"],
        f"{algorithm}: the actor-critic agent; random: the uniform random baseline.",
    )
    flags.DEFINE_boolean("train", False, "Train a model; without it, play the saved model.")
    flags.DEFINE_string(
        "env", "CartPole-v1", "gymnasium env id: Discrete actions, flat Box observations."
    )
    flags.DEFINE_float("lr", 1e-3, "Learning rate of the Adam optimizer (> 0).")
    flags.DEFINE_float("gamma", 0.99, "Discount factor, in (0, 1].")
    flags.DEFINE_integer("update_freq", 20, "t_max: env steps per rollout between updates (>= 1).")
    flags.DEFINE_integer("max_eps", 1000, "Episode budget of the run, summed over workers (>= 1).")
    flags.DEFINE_float("entropy_coef", 0.01, "Weight of the entropy bonus (>= 0).")
    flags.DEFINE_float("value_coef", 0.5, "Weight of the value loss (>= 0).")
    flags.DEFINE_float("max_grad_norm", 40.0, "Clip gradients to this global norm (> 0).")
    flags.DEFINE_string("save_dir", "runs", "Directory for the model, the plot and the logs.")
    flags.DEFINE_integer("seed", 0, "Random seed of weights, envs and action sampling (>= 0).")
    flags.DEFINE_integer(
        "eval_episodes", 100, "Greedy episodes of the evaluation after training (>= 1)."
    )
    flags.DEFINE_integer("episodes", 1, "Greedy episodes to play without --train (>= 1).")
    flags.DEFINE_boolean("jit_compile", True, "Compile acting and updates with XLA.")

    require("lr", lambda v: v > 0, "must be > 0")
    require("gamma", lambda v: 0 < v <= 1, "must be in (0, 1]")
    require("update_freq", lambda v: v >= 1, "must be >= 1")
    require("max_eps", lambda v: v >= 1, "must be >= 1")
    require("entropy_coef", lambda v: v >= 0, "must be >= 0")
    require("value_coef", lambda v: v >= 0, "must be >= 0")
    require("max_grad_norm", lambda v: v > 0, "must be > 0")
    require("seed", lambda v: v >= 0, "must be >= 0")
    require("eval_episodes", lambda v: v >= 1, "must be >= 1")
    require("episodes", lambda v: v >= 1, "must be >= 1")


def require(name: str, check: Callable[[float], bool], allowed: str) -> None:
    """Registers a validator on flag ``name``; a bad value reads ``flag --name=value: allowed``."""
    flags.register_validator(name, check, message=allowed, flag_values=FLAGS)


def normalize_flag_names(argv: list[str], names) -> list[str]:
    """Rewrites ``--max-eps=4`` as ``--max_eps=4`` (and ``--nojit-compile`` likewise) for ``names``.

    The 2018 example documented dashed flags; absl names them with underscores. Arguments after
    a bare ``--`` are left alone.
    """
    known = set(names)
    out = list(argv[:1])
    for index, arg in enumerate(argv[1:], start=1):
        if arg == "--":
            return out + argv[index:]
        if arg.startswith("-") and "-" in arg.lstrip("-").split("=", 1)[0]:
            dashes = len(arg) - len(arg.lstrip("-"))
            name, sep, value = arg[dashes:].partition("=")
            underscored = name.replace("-", "_")
            bare = underscored[2:] if underscored.startswith("no") else underscored
            if underscored in known or bare in known:
                arg = "-" * dashes + underscored + sep + value
        out.append(arg)
    return out


def exit_with_error(message: str) -> NoReturn:
    """Prints ``<program>: error: <message>`` as one line on stderr and exits with status 2."""
    program = os.path.basename(sys.argv[0]) if sys.argv else "program"
    sys.stderr.write(f"{program}: error: {message}\n")
    sys.exit(2)


def parse_flags(argv: list[str]) -> list[str]:
    """absl ``flags_parser`` for ``app.run``: a bad flag exits 2 with one line on stderr."""
    try:
        return FLAGS(normalize_flag_names(argv, FLAGS))
    except flags.Error as error:
        exit_with_error(f"{error} (see --helpshort)")
