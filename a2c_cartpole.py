"""A2C, the synchronous batched A3C, on CartPole or another gymnasium env.

    python a2c_cartpole.py --train --stop-at-threshold    # train until solved, then evaluate
    python a2c_cartpole.py --record=cartpole.gif          # play the saved model into a GIF

All ``--num-envs`` envs step together with one batched forward pass; one update a rollout.
Flags take dashes or underscores (``--max-steps`` or ``--max_steps``); ``--helpshort`` lists them.
"""

from cli import Program, main
from config import A2CConfig


def a2c():
    """The Python API's A2C (a3c_keras/agent.py), on which every mode is built; its algorithm
    is ``A2CAgent`` (agents/a2c.py). Imported here, once the flags are read, as TensorFlow
    loads with it."""
    from a3c_keras import A2C

    return A2C


PROGRAM = Program("a2c", A2CConfig, a2c)

if __name__ == "__main__":
    main(PROGRAM)
