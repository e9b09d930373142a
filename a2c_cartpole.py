"""A2C, the synchronous batched A3C, on CartPole or another discrete-action gymnasium env.

    python a2c_cartpole.py --train                              # train A2C, evaluate, save
    python a2c_cartpole.py --train --stop-at-threshold          # stop once CartPole is solved
    python a2c_cartpole.py                                      # play the saved model greedily
    python a2c_cartpole.py --algorithm=random --max-eps=4000    # the random baseline

Flags take dashes or underscores (``--max-steps`` or ``--max_steps``); ``--helpshort`` lists them.
"""

from __future__ import annotations

from absl import app, flags, logging

import utils.flags
from agents.config import A2CConfig
from utils.envs import VECTOR_MODES
from utils.flags import define_shared_flags, parse_flags, require, start_tensorflow

DEFAULTS = A2CConfig()
define_shared_flags("a2c", DEFAULTS, 1000, "Episodes of the random baseline (>= 1).")
flags.adopt_module_key_flags(utils.flags)  # --helpshort lists the shared flags too
flags.DEFINE_integer("num_envs", DEFAULTS.num_envs, "Envs stepped together (>= 1).")
flags.DEFINE_enum(
    "vector_mode",
    DEFAULTS.vector_mode,
    list(VECTOR_MODES),
    "native: the env's own batched version; sync: a loop over envs; async: a process per env; "
    "auto: native where the env has one, else sync.",
)
flags.DEFINE_integer("max_steps", DEFAULTS.max_steps, "Budget of env steps, all envs (>= 1).")
require("num_envs", lambda v: v >= 1, "must be >= 1")
require("max_steps", lambda v: v >= 1, "must be >= 1")


def make_agent(config: A2CConfig, save_dir, resume: bool):
    """The A2C agent for ``commands.run``; it logs what it will train."""
    from agents.a2c import A2CAgent

    agent = A2CAgent(config, save_dir, resume=resume)
    logging.info(
        "training A2C on %s with %d envs for %d env steps",
        config.env_id,
        config.num_envs,
        config.max_steps,
    )
    return agent


def main(argv: list[str]) -> None:
    start_tensorflow(argv)
    from utils import commands

    commands.run("a2c_cartpole.py", A2CConfig, make_agent)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
