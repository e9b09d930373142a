"""A3C on CartPole (or another discrete-action gymnasium env): train, play, random baseline.

    python a3c_cartpole.py --train                              # train A3C, evaluate, save
    python a3c_cartpole.py                                      # play the saved model greedily
    python a3c_cartpole.py --algorithm=random --max-eps=4000    # the random baseline

Flags take dashes or underscores (``--max-eps`` or ``--max_eps``); ``--helpshort`` lists them.
"""

from __future__ import annotations

from absl import app, flags, logging

import utils.flags
from agents.config import A3CConfig
from utils.flags import define_shared_flags, parse_flags, require, start_tensorflow

DEFAULTS = A3CConfig()
define_shared_flags(
    "a3c", DEFAULTS, DEFAULTS.max_eps, "Episode budget of the run, summed over workers (>= 1)."
)
flags.adopt_module_key_flags(utils.flags)  # --helpshort lists the shared flags too
flags.DEFINE_integer("workers", DEFAULTS.workers, "Worker threads (>= 1); default: CPU count.")
require("workers", lambda v: v >= 1, "must be >= 1")


def make_agent(config: A3CConfig, save_dir, resume: bool):
    """The A3C master for ``commands.run``; it logs what it will train."""
    from agents.a3c import MasterAgent

    master = MasterAgent(config, save_dir, resume=resume)
    logging.info(
        "training A3C on %s with %d workers for %d episodes",
        config.env_id,
        config.workers,
        config.max_eps,
    )
    return master


def main(argv: list[str]) -> None:
    start_tensorflow(argv)
    from utils import commands

    commands.run("a3c_cartpole.py", A3CConfig, make_agent)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
