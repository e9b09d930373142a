"""A2C, the synchronous batched A3C, on CartPole or another discrete-action gymnasium env.

    python a2c_cartpole.py --train                              # train A2C, evaluate, save
    python a2c_cartpole.py --train --stop-at-threshold          # stop once CartPole is solved
    python a2c_cartpole.py                                      # play the saved model greedily
    python a2c_cartpole.py --algorithm=random --max-eps=4000    # the random baseline

Flags take dashes or underscores (``--max-steps`` or ``--max_steps``); ``--helpshort`` lists them.
"""

from __future__ import annotations

from agents.config import A2CConfig
from cli import Program, main


def make_agent(config: A2CConfig):
    """The A2C agent on a vector env of ``config.num_envs`` envs."""
    from agents.a2c import A2CAgent  # TensorFlow loads here, after the flags are checked

    return A2CAgent(config)


if __name__ == "__main__":
    main(Program("a2c", A2CConfig, make_agent))
