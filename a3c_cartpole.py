"""A3C on CartPole (or another gymnasium env, Discrete or Box actions): train, play, baseline.

    python a3c_cartpole.py --train                              # train A3C, evaluate, save
    python a3c_cartpole.py                                      # play the saved model greedily
    python a3c_cartpole.py --algorithm=random --max-eps=4000    # the random baseline

Worker threads (``--workers``) each play their own env and update the global model.
Flags take dashes or underscores (``--max-eps`` or ``--max_eps``); ``--helpshort`` lists them.
"""

from agents.config import A3CConfig
from cli import Program, main

if __name__ == "__main__":
    main(Program("a3c", A3CConfig, algorithm="agents.a3c:make_a3c"))
