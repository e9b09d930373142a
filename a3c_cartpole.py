"""A3C on CartPole or another gymnasium env: train, play, baseline.

    python a3c_cartpole.py --train                              # train A3C, evaluate, save
    python a3c_cartpole.py                                      # play the saved model greedily
    python a3c_cartpole.py --algorithm=random --max-eps=4000    # the random baseline

Worker threads (``--workers``) each play their own env and update the global model; with
``--backend=ray`` each worker is a process, on this machine or a Ray cluster.
Flags take dashes or underscores (``--max-eps`` or ``--max_eps``); ``--helpshort`` lists them.
"""

from cli import Program, main
from config import A3CConfig


def a3c():
    """The Python API's A3C (a3c_keras/agent.py), on which every mode is built; its algorithm
    is ``MasterAgent`` and its worker threads (agents/a3c.py), or with ``--backend=ray`` a
    worker process each (agents/a3c_ray.py). Imported here, once the flags are read, as
    TensorFlow loads with them."""
    from a3c_keras import A3C

    return A3C


PROGRAM = Program("a3c", A3CConfig, a3c)

if __name__ == "__main__":
    main(PROGRAM)
