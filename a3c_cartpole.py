"""A3C on CartPole (or another gymnasium env, Discrete or Box actions): train, play, baseline.

    python a3c_cartpole.py --train                              # train A3C, evaluate, save
    python a3c_cartpole.py                                      # play the saved model greedily
    python a3c_cartpole.py --algorithm=random --max-eps=4000    # the random baseline

Worker threads (``--workers``) each play their own env and update the global model; with
``--backend=ray`` each worker is a process, on this machine or a Ray cluster.
Flags take dashes or underscores (``--max-eps`` or ``--max_eps``); ``--helpshort`` lists them.
"""

from cli import Program, main
from config import A3CConfig


def make_a3c(config: A3CConfig):
    """The A3C algorithm: ``MasterAgent`` and its worker threads (agents/a3c.py), or with
    ``--backend=ray`` a worker process each (agents/a3c_ray.py). Imported here, once the flags
    are read, as TensorFlow loads with them."""
    if config.backend == "ray":
        from agents.a3c_ray import RayMasterAgent

        return RayMasterAgent(config)
    from agents.a3c import MasterAgent

    return MasterAgent(config)


PROGRAM = Program("a3c", A3CConfig, make_a3c)

if __name__ == "__main__":
    main(PROGRAM)
