"""Command-line flags shared by a3c_cartpole.py and a2c_cartpole.py (absl), defined once here."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

from absl import flags

from agents.config import ActorCriticConfig

FLAGS = flags.FLAGS
ConfigT = TypeVar("ConfigT", bound=ActorCriticConfig)


def define_shared_flags(
    algorithm: str, defaults: ActorCriticConfig, max_eps: int, max_eps_help: str
) -> None:
    """Defines the flags both entry points take, with defaults read from ``defaults``.

    Args:
        algorithm: the trained algorithm, "a3c" or "a2c".
        defaults: the algorithm's config; a flag's default is the field of the same name.
        max_eps: default of ``--max_eps``, whose meaning ``max_eps_help`` gives.
    """
    flags.DEFINE_enum(
        "algorithm",
        algorithm,
        [algorithm, "random"],
        f"{algorithm}: the actor-critic agent; random: the uniform random baseline.",
    )
    flags.DEFINE_boolean("train", False, "Train a model; without it, play the saved model.")
    flags.DEFINE_string(
        "env", defaults.env_id, "gymnasium env id: Discrete actions, flat Box observations."
    )
    flags.DEFINE_float("lr", defaults.lr, "Learning rate of the Adam optimizer (> 0).")
    flags.DEFINE_float("gamma", defaults.gamma, "Discount factor, in (0, 1].")
    flags.DEFINE_float(
        "gae_lambda", defaults.gae_lambda, "GAE lambda in [0, 1]; 1 gives n-step returns."
    )
    flags.DEFINE_integer(
        "update_freq", defaults.update_freq, "t_max: env steps per rollout between updates (>= 1)."
    )
    flags.DEFINE_integer("max_eps", max_eps, max_eps_help)
    flags.DEFINE_float("entropy_coef", defaults.entropy_coef, "Weight of the entropy bonus (>= 0).")
    flags.DEFINE_float("value_coef", defaults.value_coef, "Weight of the value loss (>= 0).")
    flags.DEFINE_float(
        "max_grad_norm", defaults.max_grad_norm, "Clip gradients to this global norm (> 0)."
    )
    flags.DEFINE_string(
        "save_dir", f"runs/{algorithm}", "Directory for the model, the plot and the logs."
    )
    flags.DEFINE_integer(
        "seed", defaults.seed, "Random seed of weights, envs and action sampling (>= 0)."
    )
    flags.DEFINE_boolean(
        "stop_at_threshold",
        defaults.stop_at_threshold,
        "Stop training once the last 100 training episodes average the env's reward threshold.",
    )
    flags.DEFINE_integer(
        "eval_episodes", defaults.eval_episodes, "Episodes of each greedy evaluation (>= 1)."
    )
    flags.DEFINE_integer(
        "eval_interval",
        defaults.eval_interval,
        "Env steps between greedy evaluations during training (0: none).",
    )
    flags.DEFINE_integer("episodes", 1, "Greedy episodes to play without --train (>= 1).")
    flags.DEFINE_boolean(
        "jit_compile", defaults.jit_compile, "Compile acting and updates with XLA."
    )
    flags.DEFINE_enum(
        "render", "none", ["none", "human"], "Play in a window (human) or not (none)."
    )
    flags.DEFINE_string("record", "", "Also write the played episodes to this .gif or .mp4 file.")
    flags.DEFINE_boolean(
        "evaluate",
        False,
        "Evaluate the saved model over --eval_episodes seeded greedy episodes, instead of play.",
    )
    flags.DEFINE_string(
        "export", "", "Write the saved (or, with --train, the trained) model to this .keras file."
    )
    flags.DEFINE_string(
        "model",
        "",
        "The saved model to play, evaluate or export: a .weights.h5 or .keras file "
        "(default: <save_dir>/model_<env>.weights.h5).",
    )
    flags.DEFINE_boolean(
        "resume", False, "Continue training from the newest checkpoint in --save_dir."
    )
    flags.DEFINE_integer(
        "checkpoint_every",
        defaults.checkpoint_every,
        "Updates between checkpoints of the training state, for --resume (>= 1).",
    )

    require("lr", lambda v: v > 0, "must be > 0")
    require("gamma", lambda v: 0 < v <= 1, "must be in (0, 1]")
    require("gae_lambda", lambda v: 0 <= v <= 1, "must be in [0, 1]")
    require("update_freq", lambda v: v >= 1, "must be >= 1")
    require("max_eps", lambda v: v >= 1, "must be >= 1")
    require("entropy_coef", lambda v: v >= 0, "must be >= 0")
    require("value_coef", lambda v: v >= 0, "must be >= 0")
    require("max_grad_norm", lambda v: v > 0, "must be > 0")
    require("seed", lambda v: v >= 0, "must be >= 0")
    require("eval_episodes", lambda v: v >= 1, "must be >= 1")
    require("episodes", lambda v: v >= 1, "must be >= 1")
    require("eval_interval", lambda v: v >= 0, "must be >= 0")
    require("checkpoint_every", lambda v: v >= 1, "must be >= 1")


def config_from_flags(config_class: type[ConfigT]) -> ConfigT:
    """A ``config_class`` whose fields are the parsed flags of the same names (``env_id`` from
    ``--env``); fields without a flag keep their defaults."""
    values = {}
    for field in dataclasses.fields(config_class):
        name = "env" if field.name == "env_id" else field.name
        if name in FLAGS:
            values[field.name] = FLAGS[name].value
    return config_class(**values)


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


def exit_with_error(message: str, status: int = 2) -> NoReturn:
    """Prints ``<program>: error: <message>`` as one line on stderr and exits with ``status``
    (2, the default, for bad input)."""
    program = os.path.basename(sys.argv[0]) if sys.argv else "program"
    sys.stderr.write(f"{program}: error: {message}\n")
    sys.exit(status)


def start_tensorflow(argv: list[str]) -> None:
    """Refuses stray arguments, then quiets TensorFlow's C++ notices before it loads.

    Entry points import TensorFlow only after this, so ``--help`` and flag errors are instant.
    """
    if len(argv) > 1:
        exit_with_error(f"unexpected arguments {argv[1:]}; flags look like --name=value")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # TensorFlow's own Python notices (one per checkpoint written, say) stay out of the log.
    logging.getLogger("tensorflow").setLevel(logging.WARNING)


def parse_flags(argv: list[str]) -> list[str]:
    """absl ``flags_parser`` for ``app.run``: a bad flag exits 2 with one line on stderr."""
    try:
        return FLAGS(normalize_flag_names(argv, FLAGS))
    except flags.Error as error:
        exit_with_error(f"{error} (see --helpshort)")
