"""A3C on CartPole (or another discrete-action gymnasium env): train, play, random baseline.

    python a3c_cartpole.py --train                              # train A3C, evaluate, save
    python a3c_cartpole.py                                      # play the saved model greedily
    python a3c_cartpole.py --algorithm=random --max-eps=4000    # the random baseline

Flags take dashes or underscores (``--max-eps`` or ``--max_eps``); ``--helpshort`` lists them.
"""

from __future__ import annotations

from agents.config import A3CConfig
from cli import Program, main


def make_master(config: A3CConfig):
    """A3C's ``MasterAgent``, whose ``Worker`` threads share its global model."""
    from agents.a3c import MasterAgent  # TensorFlow loads here, after the flags are checked

    return MasterAgent(config)


if __name__ == "__main__":
    main(Program("a3c", A3CConfig, make_master))
