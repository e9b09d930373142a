"""A2C, the synchronous batched A3C, on CartPole or another gymnasium env (Discrete or Box).

    python a2c_cartpole.py --train --stop-at-threshold    # train until solved, then evaluate
    python a2c_cartpole.py --record=cartpole.gif          # play the saved model into a GIF

All ``--num-envs`` envs step together with one batched forward pass; one update a rollout.
Flags take dashes or underscores (``--max-steps`` or ``--max_steps``); ``--helpshort`` lists them.
"""

from cli import Program, main
from config import A2CConfig


def make_a2c(config: A2CConfig):
    """The A2C algorithm (agents/a2c.py). Imported here, once the flags are read, as TensorFlow
    loads with it."""
    from agents.a2c import A2CAgent

    return A2CAgent(config)


PROGRAM = Program("a2c", A2CConfig, make_a2c)

if __name__ == "__main__":
    main(PROGRAM)
