"""A3C on CartPole (or another discrete-action gymnasium env): train, play, random baseline.

    python a3c_cartpole.py --train                              # train A3C, evaluate, save
    python a3c_cartpole.py                                      # play the saved model greedily
    python a3c_cartpole.py --algorithm=random --max-eps=4000    # the random baseline

Flags take dashes or underscores (``--max-eps`` or ``--max_eps``); ``--helpshort`` lists them.
"""

from __future__ import annotations

import os

from absl import app, flags, logging

import utils.flags
from utils.flags import define_shared_flags, exit_with_error, parse_flags, require

define_shared_flags("a3c")
flags.adopt_module_key_flags(utils.flags)  # --helpshort lists the shared flags too
flags.DEFINE_integer("workers", os.cpu_count() or 1, "Worker threads (>= 1); default: CPU count.")
require("workers", lambda v: v >= 1, "must be >= 1")
FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    # TensorFlow loads only now, so --help and flag errors are instant and free of its notices.
    if len(argv) > 1:
        exit_with_error(f"unexpected arguments {argv[1:]}; flags look like --name=value")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from utils import commands

    commands.exit_on_user_error(run)(argv)


def run(argv: list[str]) -> None:
    from agents.a3c import A3CConfig, MasterAgent
    from utils import commands
    from utils.checkpoint import load_weights

    if FLAGS.algorithm == "random":
        commands.run_random_baseline(FLAGS.env, FLAGS.max_eps, FLAGS.seed)
        return
    config = A3CConfig(
        env_id=FLAGS.env,
        lr=FLAGS.lr,
        gamma=FLAGS.gamma,
        update_freq=FLAGS.update_freq,
        max_eps=FLAGS.max_eps,
        entropy_coef=FLAGS.entropy_coef,
        value_coef=FLAGS.value_coef,
        max_grad_norm=FLAGS.max_grad_norm,
        workers=FLAGS.workers,
        seed=FLAGS.seed,
        jit_compile=FLAGS.jit_compile,
    )
    if not FLAGS.train:
        commands.play_saved_model(
            FLAGS.env,
            FLAGS.save_dir,
            FLAGS.episodes,
            FLAGS.seed,
            config.hidden_units,
            "a3c_cartpole.py",
        )
        return
    master = MasterAgent(config, FLAGS.save_dir)  # checks the env before anything is written
    save_dir = commands.prepare_save_dir(FLAGS.save_dir)
    logging.info(
        "training A3C on %s with %d workers for %d episodes",
        config.env_id,
        config.workers,
        config.max_eps,
    )
    episodes = master.train()
    best = commands.build_model(config.env_id, config.hidden_units)
    load_weights(best, master.save_path)
    commands.finish_training(
        f"A3C on {config.env_id}",
        config.env_id,
        save_dir,
        episodes,
        best,
        FLAGS.eval_episodes,
        config.seed,
    )


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
