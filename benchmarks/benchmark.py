"""Trains A2C and A3C for several seeds, a process a run; writes BENCHMARKS.md.

    python benchmarks/benchmark.py                            # every suite, seeds 0-4
    python benchmarks/benchmark.py --suites=a2c --seeds=0,1 --output=/tmp/b.md
    git worktree add /tmp/before HEAD~3        # then, seed by seed in turn with that commit:
    python benchmarks/benchmark.py --suites=a2c-throughput --compare=/tmp/before --tag=before

Each run is a README command in a fresh process, so its times include start-up, XLA compilation
and the final greedy evaluation. From its output and episode CSV the script takes: whole-process
wall seconds; training env steps and env steps per second (periodic evaluations excluded); the
first episode at which the mean return of the last 100 training episodes reached the suite's
target (CartPole-v1: 475, the classic "solved"), with its env steps and seconds of training; the
greedy 100-episode evaluation of the saved model; and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from evidence import write_sections  # noqa: E402  (the one writer of BENCHMARKS.md)

from utils.checkpoint import run_files  # noqa: E402  (the episode log's name, as runs write it)
from utils.provenance import code_revision  # noqa: E402

# What benchmarks/sb3_a2c.py keeps of a run for --resume, its parts included.
PEER_STATE = "sb3_run.json"


class Suite(NamedTuple):
    """Runs of one command over seeds: what ``SUITES`` holds.

    Attributes:
        title: the section's heading.
        command: the command after ``python``, without ``--seed`` and ``--save_dir``.
        purpose: what the suite shows.
        seeds: its own seeds, or None for the ``--seeds`` given.
        env: the env it trains on (its episode CSV is named after it).
        by_hand: recorded from runs started by hand (``--from-runs``): hours long, or going on
            from another run's checkpoint; the default ``--suites`` leaves it out.
        target: the return that counts as reached: for the training mean of the last 100
            episodes ("to solve") and for the greedy mean.
    """

    title: str
    command: list[str]
    purpose: str
    seeds: list[int] | None = None
    env: str = "CartPole-v1"
    target: float = 475.0  # CartPole-v1's threshold
    by_hand: bool = False


# Acrobot-v1's preset before the tuning study: the defaults and these.
ACROBOT_BY_HAND = [
    "--entropy-coef=0.01",
    "--lr=0.001",
    "--optimizer=adam",
    "--gamma=0.99",
    "--gae-lambda=1",
    "--update-freq=8",
    "--value-coef=0.5",
    "--max-grad-norm=0.5",
    "--hidden-units=128",
    "--weight-init=glorot",
]

# Acrobot-v1: the best trial of the first study (not the preset: it failed on fresh seeds).
ACROBOT_STUDY1 = [
    "--lr=0.000850249",
    "--optimizer=rmsprop_torch",
    "--gamma=0.98846",
    "--gae-lambda=0.910713",
    "--update-freq=5",
    "--entropy-coef=2.4741e-06",
    "--value-coef=0.528565",
    "--max-grad-norm=1.88043",
    "--hidden-units=64,64",
    "--weight-init=orthogonal",
]

# MountainCar-v0's preset before the tuning study.
MOUNTAINCAR_BY_HAND = [
    "--update-freq=5",
    "--lr=0.0007",
    "--gamma=0.99",
    "--gae-lambda=1",
    "--entropy-coef=0",
    "--value-coef=0.5",
    "--max-grad-norm=0.5",
    "--weight-init=glorot",
    "--max-steps=1000000",
]

# LunarLander-v3's preset before the tuning studies, with the A2C defaults the tuned one changes.
LUNARLANDER_BY_HAND = [
    "--lr=0.001",
    "--optimizer=adam",
    "--gamma=0.995",
    "--gae-lambda=0.9",
    "--update-freq=8",
    "--entropy-coef=0.01",
    "--value-coef=0.5",
    "--max-grad-norm=0.5",
    "--activation=relu",
    "--weight-init=glorot",
    "--max-steps=1500000",
]

# MountainCarContinuous-v0 before its preset: the A2C defaults the preset changes.
MOUNTAINCAR_CONTINUOUS_BEFORE = [
    "--nouse-sde",
    "--num-envs=8",
    "--update-freq=8",
    "--hidden-units=128",
    "--activation=relu",
    "--noseparate-value-trunk",
    "--weight-init=glorot",
    "--optimizer=adam",
    "--eval-interval=50000",
]

# BipedalWalker-v3: RL Zoo's A2C gSDE settings (the runs of a2c-bipedalwalker); with Adam
# instead of PyTorch's RMSprop, a2c-bipedalwalker-adam.
BIPEDAL = [
    "--use-sde",
    "--num-envs=16",
    "--update-freq=8",
    "--normalize-observations",
    "--hidden-units=64,64",
    "--activation=tanh",
    "--separate-value-trunk",
    "--optimizer=rmsprop_torch",
    "--lr=9.6e-4",
    "--lr-schedule=linear",
    "--gae-lambda=0.9",
    "--value-coef=0.4",
    "--entropy-coef=0",
    "--max-grad-norm=0.5",
    "--log-std-init=-2",
    "--eval-episodes=10",
    "--max-steps=5000000",
    "--eval-interval=250000",
]
BIPEDAL_ADAM = [*BIPEDAL[:7], "--optimizer=adam", "--lr=1e-3", *BIPEDAL[9:]]

RAY_THROUGHPUT = [
    "a3c_cartpole.py",
    "--train",
    "--backend=ray",
    "--max-eps=0",
    "--max-steps=300000",
    "--eval-interval=0",
]
RAY_THROUGHPUT_LONG = [
    *RAY_THROUGHPUT[:-2],
    "--max-steps=1000000",
    "--eval-interval=0",
    "--update-freq=40",
]


def pendulum_suite(title: str, command: list[str], purpose: str, seeds=None) -> Suite:
    """A suite on Pendulum-v1, whose target is a (greedy) mean return of -200."""
    return Suite(title, command, purpose, seeds, env="Pendulum-v1", target=-200.0)


def ray_suite(workers: int, envs: int, purpose: str, long: bool = False) -> Suite:
    """A throughput suite of A3C on Ray with ``workers`` processes of ``envs`` envs each, seeds
    0-2: 300k steps, or with ``long`` 1M steps of t_max 40."""
    processes = "1 worker process" if workers == 1 else f"{workers} worker processes"
    length = "t_max 40, 1M steps" if long else "300k steps, no evaluations"
    command = RAY_THROUGHPUT_LONG if long else RAY_THROUGHPUT
    return Suite(
        f"A3C on Ray, {processes} x {envs} envs, {length} (throughput)",
        [*command, f"--workers={workers}", f"--envs-per-worker={envs}"],
        purpose,
        [0, 1, 2],
    )


def pong_zoo_suite(title: str, command: list[str], purpose: str, target: float) -> Suite:
    """A run on RL Zoo's Pong frames, one seed: hours long, so started in the background,
    continued with --resume across sessions and recorded with --from-runs."""
    how = (
        " Started in the background, continued with --resume across sessions, and recorded "
        "with --from-runs, each part with its commit."
    )
    return Suite(
        title, command, purpose + how, [0], env="PongNoFrameskip-v4", target=target, by_hand=True
    )


def thread_suite(workers: int, envs: int, purpose: str) -> Suite:
    """A3C on worker threads, ``workers`` of ``envs`` envs each, the defaults otherwise, until
    solved (5000 episodes at most with 1 env a worker, else 1M env steps), seeds 0-2."""
    threads = "1 worker thread" if workers == 1 else f"{workers} worker threads"
    budget = ["--max-eps=5000"] if envs == 1 else ["--max-eps=0", "--max-steps=1000000"]
    return Suite(
        f"A3C, {threads} x {envs} env{'s' if envs > 1 else ''}, stop at the threshold",
        ["a3c_cartpole.py", "--train", f"--workers={workers}", f"--envs-per-worker={envs}"]
        + ["--stop-at-threshold", *budget],
        purpose,
        [0, 1, 2],
    )


SUITES = {
    "a2c": Suite(
        "A2C, defaults, stop at the threshold",
        ["a2c_cartpole.py", "--train", "--stop-at-threshold"],
        "Time to solve with the defaults (8 envs, t_max 8, Adam 3e-3, 500k-step budget).",
    ),
    "a2c-throughput": Suite(
        "A2C, defaults, 300k steps, no evaluations (throughput)",
        ["a2c_cartpole.py", "--train", "--max-steps=300000", "--eval-interval=0"],
        "Training throughput with 8 envs, the setting of Stable-Baselines3's zoo for CartPole.",
    ),
    "sb3-a2c": Suite(
        "Peer: Stable-Baselines3 A2C, zoo settings, stop at the threshold",
        ["benchmarks/sb3_a2c.py"],
        "The best-known peer under the same stopping rule (8 envs, RMSprop 7e-4, n_steps 5; "
        "PyTorch on the CPU). Runs only where `stable_baselines3` is installed.",
    ),
    "a3c": Suite(
        "A3C, 2 workers, stop at the threshold",
        ["a3c_cartpole.py", "--train", "--stop-at-threshold", "--max-eps=3000"],
        "Time to solve with the defaults (2 workers, t_max 20, Adam 1e-3), up to 3000 episodes.",
    ),
    "a3c-8workers": Suite(
        "A3C under load: 8 workers on the 2 cores, 2000 episodes",
        ["a3c_cartpole.py", "--train", "--workers=8", "--max-eps=2000"],
        "Four threads a core contend for the GIL, the lock and the optimizer; the run must "
        "end with exactly 2000 episodes, no deadlock, no lost result.",
        [0, 1, 2],
    ),
    "a3c-throughput": Suite(
        "A3C, 2 workers, 1000 episodes, no evaluations (throughput)",
        ["a3c_cartpole.py", "--train", "--max-eps=1000", "--eval-interval=0"],
        "Training throughput of the default 2 worker threads (worker start-up and XLA "
        "compilation in the reported rate before the one training loop, not since; the steady "
        "rate leaves them out for both).",
    ),
    "a3c-ray-1": ray_suite(
        1,
        16,
        "The baseline of the Ray scaling: one worker process (Ray start-up and the workers' "
        "compilation excluded from the training time, included in the whole process).",
    ),
    "a3c-ray-2": ray_suite(2, 16, "Two processes on the two cores: the speed-up over one worker."),
    "a3c-ray-1-long": ray_suite(
        1,
        16,
        "As `a3c-ray-1` with twice the steps a rollout, and a longer run: the driver's cost per "
        "update is shared by 640 env steps.",
        long=True,
    ),
    "a3c-ray-2-long": ray_suite(
        2, 16, "The speed-up of a second process at the setting of `a3c-ray-1-long`.", long=True
    ),
    "a3c-ray-2x8-long": ray_suite(
        2, 8, "Sixteen envs in all, as `a2c-16`, with longer rollouts.", long=True
    ),
    "a3c-threads-2": Suite(
        "A3C, 2 worker threads x 16 envs, 300k steps, no evaluations (throughput)",
        ["a3c_cartpole.py", "--train", "--max-eps=0", "--max-steps=300000", "--eval-interval=0"]
        + ["--workers=2", "--envs-per-worker=16"],
        "The thread backend at the same setting as `a3c-ray-2`.",
        [0, 1, 2],
    ),
    "a3c-ray-2x8": ray_suite(2, 8, "Sixteen envs in all, as `a2c-16`."),
    "a3c-threads-1w": thread_suite(
        1, 1, "The baseline of the thread scaling: one actor-learner (1 env, t_max 20, Adam 1e-3)."
    ),
    "a3c-threads-2w": thread_suite(
        2, 1, "Two actor-learners on the two cores: env steps/s and time to solve against one."
    ),
    "a3c-threads-1x8": thread_suite(
        1, 8, "One actor-learner stepping 8 envs with one batched forward pass."
    ),
    "a3c-threads-2x8": thread_suite(
        2, 8, "Two actor-learners of 8 envs each, against one (issue 23's target: 1.1x)."
    ),
    "a2c-16": Suite(
        "A2C, 16 envs, 300k steps, no evaluations (throughput)",
        ["a2c_cartpole.py", "--train", "--num-envs=16", "--max-steps=300000"]
        + ["--eval-interval=0"],
        "One process stepping 16 envs: the peer of `a3c-ray-2x8`.",
        [0, 1, 2],
    ),
    "a3c-ray": Suite(
        "A3C on Ray, defaults (2 workers), stop at the threshold",
        ["a3c_cartpole.py", "--train", "--backend=ray", "--stop-at-threshold", "--max-eps=3000"],
        "Time to solve with a process per worker, up to 3000 episodes.",
    ),
    "a3c-ray-defaults": Suite(
        "A3C on Ray, defaults, 1000 episodes",
        ["a3c_cartpole.py", "--train", "--backend=ray"],
        "`python a3c_cartpole.py --train --backend=ray`: 1000 episodes, then the greedy "
        "evaluation of the best evaluated model.",
    ),
    "a2c-pendulum": pendulum_suite(
        "A2C on Pendulum-v1, its preset without gSDE (1M env steps)",
        ["a2c_cartpole.py", "--train", "--env=Pendulum-v1", "--nouse-sde", "--log-std-init=-1"],
        "Continuous actions: the Gaussian policy with the preset of config/presets.py (8 envs, "
        "t_max 8, gamma and GAE 0.9, Adam 1e-3 decayed linearly, observations and rewards "
        "normalised) and independent noise from log sigma -1 (the preset until gSDE), "
        "evaluated every 50k steps; the greedy mean is the best evaluated model's over 100 new "
        "episodes. Target: a greedy mean of -200.",
    ),
    "a2c-pendulum-target": pendulum_suite(
        "A2C on Pendulum-v1, its preset, stopped at the first greedy evaluation of -200",
        ["a2c_cartpole.py", "--train", "--env=Pendulum-v1", "--stop-at-eval-return=-200"],
        "Time to reach the target: the run ends at the first evaluation (every 50k steps, 100 "
        "episodes) whose greedy mean reaches -200, or at 1M steps; the greedy mean is the saved "
        "model's over 100 other episodes.",
    ),
    "a2c-pendulum-sde": pendulum_suite(
        "A2C on Pendulum-v1, its preset: gSDE (1M env steps)",
        ["a2c_cartpole.py", "--train", "--env=Pendulum-v1", "--use-sde", "--log-std-init=-2"],
        "The Pendulum preset with state-dependent exploration resampled at each rollout's "
        "start (every 8 steps) and RL Zoo's gSDE starting log sigma of -2, beside a2c-pendulum "
        "(the preset's independent noise from log sigma -1). Target: a greedy mean of -200.",
    ),
    "sb3-a2c-pendulum": pendulum_suite(
        "Peer: Stable-Baselines3 A2C, RL Zoo's Pendulum-v1 settings (1M env steps)",
        ["benchmarks/sb3_a2c.py", "--env=Pendulum-v1"],
        "RL Zoo's hyperparams/a2c.yml for Pendulum-v1 (8 envs, n_steps 8, gamma and GAE 0.9, "
        "RMSprop lin_7e-4, gSDE, VecNormalize), no evaluations during training; the greedy "
        "mean is the final model's over 100 new episodes.",
    ),
    "a3c-pendulum": pendulum_suite(
        "A3C on Pendulum-v1, its preset (1M env steps)",
        ["a3c_cartpole.py", "--train", "--env=Pendulum-v1"],
        "The Gaussian policy in A3C's worker threads, with the A3C preset of config/presets.py.",
        [0, 1, 2],
    ),
    "a3c-ray-pendulum": pendulum_suite(
        "A3C on Ray on Pendulum-v1, its preset (1M env steps)",
        ["a3c_cartpole.py", "--train", "--env=Pendulum-v1", "--backend=ray"],
        "The same, a process per worker.",
        [0, 1, 2],
    ),
    "a2c-mountaincar-continuous": Suite(
        "A2C on MountainCarContinuous-v0, normalised, 300k env steps",
        ["a2c_cartpole.py", "--train", "--env=MountainCarContinuous-v0", "--max-steps=300000"]
        + ["--normalize-observations", "--normalize-rewards", "--lr=0.001"]
        + MOUNTAINCAR_CONTINUOUS_BEFORE,
        "A sparse reward (+100 at the flag, minus the squared force): the noise must find the "
        "flag before the force penalty teaches the policy to stand still. The A2C defaults "
        "with normalisation, as measured before the env had a preset (the flags after --lr "
        "undo the preset's other settings). Threshold 90.",
        [0],
        env="MountainCarContinuous-v0",
        target=90.0,
    ),
    "a2c-mountaincar-continuous-sde": Suite(
        "A2C on MountainCarContinuous-v0, its gSDE preset (100k env steps)",
        ["a2c_cartpole.py", "--train", "--env=MountainCarContinuous-v0"],
        "`python a2c_cartpole.py --train --env=MountainCarContinuous-v0` with nothing else: "
        "the preset of config/presets.py (gSDE resampled every 16 steps, 4 envs, t_max 100, "
        "64-64 tanh with a value trunk of its own, normalised), evaluated every 20k steps; "
        "the greedy mean is the best evaluated model's over 100 new episodes. Target 90.",
        [0, 1, 2, 3, 4],
        env="MountainCarContinuous-v0",
        target=90.0,
    ),
    "a2c-mountaincar-continuous-nosde": Suite(
        "A2C on MountainCarContinuous-v0, its preset without gSDE (100k env steps)",
        ["a2c_cartpole.py", "--train", "--env=MountainCarContinuous-v0", "--nouse-sde"],
        "The same preset with the Gaussian's independent noise at every step instead of gSDE. "
        "Target 90.",
        [0, 1, 2],
        env="MountainCarContinuous-v0",
        target=90.0,
    ),
    "a2c-mountaincar-continuous-nosde-target": Suite(
        "A2C on MountainCarContinuous-v0, its preset without gSDE, stopped at the first "
        "greedy evaluation of 90",
        ["a2c_cartpole.py", "--train", "--env=MountainCarContinuous-v0", "--nouse-sde"]
        + ["--stop-at-eval-return=90"],
        "Wall time to the target without gSDE, beside a2c-mountaincar-continuous-sde-target.",
        [0, 1, 2],
        env="MountainCarContinuous-v0",
        target=90.0,
    ),
    "a2c-mountaincar-continuous-sde-target": Suite(
        "A2C on MountainCarContinuous-v0, its gSDE preset, stopped at the first greedy "
        "evaluation of 90",
        ["a2c_cartpole.py", "--train", "--env=MountainCarContinuous-v0"]
        + ["--stop-at-eval-return=90"],
        "Wall time to the target: the run ends at the first evaluation (every 20k steps, 100 "
        "episodes) whose greedy mean reaches 90, or at 100k steps.",
        [0, 1, 2],
        env="MountainCarContinuous-v0",
        target=90.0,
    ),
    "sb3-a2c-mountaincar-continuous-target": Suite(
        "Peer: Stable-Baselines3 A2C, RL Zoo's MountainCarContinuous settings, stopped at the "
        "first greedy evaluation of 90",
        ["benchmarks/sb3_a2c.py", "--env=MountainCarContinuous-v0"]
        + ["--eval_interval=20000", "--stop_at_eval_return=90"],
        "RL Zoo's hyperparams/a2c.yml for MountainCarContinuous-v0 (4 envs, n_steps 100, gSDE "
        "resampled every 16 steps, observations normalised, SB3's defaults otherwise: RMSprop "
        "7e-4, 64-64 tanh); SB3's EvalCallback every 20k steps (100 episodes) with "
        "StopTrainingOnRewardThreshold(90), or the zoo's 100k steps; the greedy mean is the "
        "final model's over 100 new episodes.",
        [0, 1, 2],
        env="MountainCarContinuous-v0",
        target=90.0,
    ),
    "a2c-lunarlander-continuous": Suite(
        "A2C on LunarLanderContinuous-v3, its preset",
        ["a2c_cartpole.py", "--train", "--env=LunarLanderContinuous-v3"],
        "Two continuous engines (gymnasium's box2d extra). Threshold 200.",
        [0],
        env="LunarLanderContinuous-v3",
        target=200.0,
    ),
    "a2c-cartpole-v0": Suite(
        "A2C on CartPole-v0, its preset",
        ["a2c_cartpole.py", "--train", "--env=CartPole-v0"],
        "The 200-step CartPole with the defaults (its preset only shortens the budget); the "
        "greedy mean is the best evaluated model's over 100 new episodes. Threshold 195.",
        env="CartPole-v0",
        target=195.0,
    ),
    "a2c-acrobot": Suite(
        "A2C on Acrobot-v1, its preset (200k env steps)",
        ["a2c_cartpole.py", "--train", "--env=Acrobot-v1", *ACROBOT_BY_HAND],
        "Swinging the two links up with an entropy bonus of 0.01 (without it the policy turns "
        "deterministic early and stays at -500): the preset before tuning (the flags after the "
        "env restate it since); the greedy mean is the best evaluated model's over 100 new "
        "episodes. Threshold -100.",
        [100, 101, 102],
        env="Acrobot-v1",
        target=-100.0,
    ),
    "a2c-acrobot-tuned": Suite(
        "A2C on Acrobot-v1, the best trial of an Optuna study (200k env steps)",
        ["a2c_cartpole.py", "--train", "--env=Acrobot-v1", *ACROBOT_STUDY1],
        "The best trial of a 30-trial study (docs/TUNING.md; its seeds were 0-29, each trial "
        "judged by its best of 4 evaluations of 20 episodes), re-measured on fresh seeds beside "
        "the hand-tuned preset (a2c-acrobot, same seeds); the greedy mean is the best "
        "evaluated model's over 100 new episodes. Threshold -100.",
        [100, 101, 102],
        env="Acrobot-v1",
        target=-100.0,
    ),
    "a3c-cartpole-v0": Suite(
        "A3C on CartPole-v0, its preset",
        ["a3c_cartpole.py", "--train", "--env=CartPole-v0"],
        "The same with A3C's defaults (2 worker threads).",
        [0, 1, 2],
        env="CartPole-v0",
        target=195.0,
    ),
    "a2c-mountaincar": Suite(
        "A2C on MountainCar-v0, its hand-tuned preset (1M env steps)",
        ["a2c_cartpole.py", "--train", "--env=MountainCar-v0", *MOUNTAINCAR_BY_HAND],
        "The preset before tuning (the flags after the env restate it since): RL Zoo's A2C "
        "settings (16 envs, t_max 5, lr 7e-4, normalised) with tanh layers and a separate "
        "value trunk, evaluated every 100k steps (the best evaluated model is kept). -1 a step "
        "until the car reaches the flag, 200 steps at most. Threshold -110.",
        [0, 1, 2],
        env="MountainCar-v0",
        target=-110.0,
    ),
    "a2c-mountaincar-tuned": Suite(
        "A2C on MountainCar-v0, its preset found by Optuna studies (1M env steps)",
        ["a2c_cartpole.py", "--train", "--env=MountainCar-v0"],
        "`python a2c_cartpole.py --train --env=MountainCar-v0` with nothing else: the best "
        "trial of two studies (docs/TUNING.md, config/presets.py; their seeds were 0-29), "
        "re-measured on fresh seeds; evaluated every 100k steps, the best evaluated model "
        "kept, its greedy mean over 100 new episodes. Threshold -110.",
        [100, 101, 102],
        env="MountainCar-v0",
        target=-110.0,
    ),
    "a2c-mountaincar-relu": Suite(
        "A2C on MountainCar-v0, RL Zoo's settings with the ReLU shared trunk, 1M env steps",
        ["a2c_cartpole.py", "--train", "--env=MountainCar-v0", "--max-steps=1000000"]
        + ["--num-envs=16", "--update-freq=5", "--lr=0.0007", "--hidden-units=64,64"]
        + ["--normalize-observations", "--normalize-rewards", "--eval-interval=100000"],
        "-1 a step until the car reaches the flag, 200 steps at most: a policy learns nothing "
        "until some episode reaches the flag. The zoo's A2C settings (16 envs, n_steps 5, lr "
        "7e-4, normalised) with Adam and this project's ReLU trunk. Threshold -110.",
        [0, 1, 2],
        env="MountainCar-v0",
        target=-110.0,
    ),
    "sb3-a2c-mountaincar": Suite(
        "Peer: Stable-Baselines3 A2C, RL Zoo's MountainCar settings (1M env steps)",
        ["benchmarks/sb3_a2c.py", "--env=MountainCar-v0"],
        "RL Zoo's hyperparams/a2c.yml for MountainCar-v0 (16 envs, ent_coef 0, VecNormalize, "
        "SB3's defaults otherwise: RMSprop 7e-4, n_steps 5).",
        [0, 1, 2],
        env="MountainCar-v0",
        target=-110.0,
    ),
    "a2c-frozenlake": Suite(
        "A2C on FrozenLake-v1 (slippery 4x4), its preset (300k env steps)",
        ["a2c_cartpole.py", "--train", "--env=FrozenLake-v1"],
        "`python a2c_cartpole.py --train --env=FrozenLake-v1`: a Discrete observation (the cell, "
        "one-hot), the defaults, evaluated every 50k steps on 1000 episodes (the best evaluated "
        "model kept), its greedy success rate over 1000 new episodes. The optimum is about "
        "0.74; the issue asks 0.70.",
        [0, 1, 2],
        env="FrozenLake-v1",
        target=0.70,
    ),
    "sb3-a2c-frozenlake": Suite(
        "Peer: Stable-Baselines3 A2C, its defaults, 8 envs, on FrozenLake-v1 (300k env steps)",
        ["benchmarks/sb3_a2c.py", "--env=FrozenLake-v1", "--eval_episodes=1000"],
        "SB3's A2C defaults (RMSprop 7e-4, t_max 5, no entropy bonus; its Discrete observations "
        "one-hot too) with 8 envs; the final model's greedy success rate over 1000 episodes.",
        [0, 1, 2],
        env="FrozenLake-v1",
        target=0.70,
    ),
    "a2c-taxi": Suite(
        "A2C on Taxi-v4, its preset (1M env steps)",
        ["a2c_cartpole.py", "--train", "--env=Taxi-v4"],
        "`python a2c_cartpole.py --train --env=Taxi-v4`: a Discrete observation of 500 states "
        "(one-hot), an entropy bonus of 0.05 with rewards scaled, 16 envs, t_max 16, Adam "
        "1e-3; evaluated every 250k steps (the best evaluated model kept). The optimum is about "
        "7.9; the issue asks 7.0.",
        [0, 1, 2],
        env="Taxi-v4",
        target=7.0,
    ),
    "sb3-a2c-taxi": Suite(
        "Peer: Stable-Baselines3 A2C, its defaults, 8 envs, on Taxi-v4 (1M env steps)",
        ["benchmarks/sb3_a2c.py", "--env=Taxi-v4"],
        "SB3's A2C defaults (no entropy bonus) with 8 envs; the final model's greedy mean.",
        [0],
        env="Taxi-v4",
        target=7.0,
    ),
    "sb3-a2c-taxi-entropy": Suite(
        "Peer: Stable-Baselines3 A2C, its defaults with an entropy bonus of 0.05, 8 envs, on "
        "Taxi-v4 (1M env steps)",
        ["benchmarks/sb3_a2c.py", "--env=Taxi-v4", "--ent_coef=0.05"],
        "SB3's A2C defaults with ent_coef 0.05 (this project's preset's bonus) and 8 envs.",
        [0],
        env="Taxi-v4",
        target=7.0,
    ),
    "a2c-blackjack": Suite(
        "A2C on Blackjack-v1, its preset (300k env steps)",
        ["a2c_cartpole.py", "--train", "--env=Blackjack-v1"],
        "`python a2c_cartpole.py --train --env=Blackjack-v1`: a Tuple observation (player's "
        "sum, dealer's card, usable ace; one-hot each), which SB3 does not take; gamma 1, the "
        "defaults otherwise; evaluated every 100k steps on 10000 hands (the best evaluated "
        "model kept), its greedy mean over 10000 new hands (+-0.01). A uniform policy makes "
        "about -0.4, the best fixed strategy about -0.05; the issue asks -0.10.",
        [0, 1, 2],
        env="Blackjack-v1",
        target=-0.10,
    ),
    "a2c-lunarlander": Suite(
        "A2C on LunarLander-v3, its hand-tuned preset (1.5M env steps)",
        ["a2c_cartpole.py", "--train", "--env=LunarLander-v3", *LUNARLANDER_BY_HAND],
        "The preset before tuning (the flags after the env restate it since): gamma 0.995, GAE "
        "0.9, normalised, entropy bonus 0.01, 64-64 ReLU trunk, Adam 1e-3 decayed linearly, "
        "evaluated every 100k steps; the greedy mean is the best evaluated model's over 100 new "
        "episodes. Threshold 200.",
        [0, 1, 2],
        env="LunarLander-v3",
        target=200.0,
    ),
    "a2c-lunarlander-tuned": Suite(
        "A2C on LunarLander-v3, its preset found by Optuna studies (1M env steps)",
        ["a2c_cartpole.py", "--train", "--env=LunarLander-v3"],
        "`python a2c_cartpole.py --train --env=LunarLander-v3` with nothing else: the best "
        "trial of two studies (docs/TUNING.md, config/presets.py; their trials' seeds were "
        "0-39, the picks were checked on seeds 50-52), re-measured on fresh seeds; evaluated "
        "every 100k steps, the best evaluated model kept, its greedy mean over 100 new "
        "episodes. Threshold 200.",
        [100, 101, 102],
        env="LunarLander-v3",
        target=200.0,
    ),
    "sb3-a2c-lunarlander": Suite(
        "Peer: Stable-Baselines3 A2C, RL Zoo's LunarLander settings (200k env steps)",
        ["benchmarks/sb3_a2c.py", "--env=LunarLander-v3"],
        "RL Zoo's hyperparams/a2c.yml for LunarLander (8 envs, n_steps 5, gamma 0.995, RMSprop "
        "lin_8.3e-4, ent_coef 1e-5) at the zoo's budget; the greedy mean is the final model's "
        "over 100 new episodes.",
        [0, 1, 2],
        env="LunarLander-v3",
        target=200.0,
    ),
    "a2c-cartpole-novel": Suite(
        "A2C-LSTM on CartPoleNoVel-v1, its preset (500k env steps)",
        ["a2c_cartpole.py", "--train", "--env=CartPoleNoVel-v1"],
        "`python a2c_cartpole.py --train --env=CartPoleNoVel-v1` with nothing else: CartPole-v1 "
        "without the velocities, an LSTM core (64 units) after the trunk, observations and "
        "rewards normalised, the A2C defaults otherwise; the greedy mean is the best evaluated "
        "model's (every 50k steps) over 100 new episodes. Threshold 475.",
        [0, 1, 2, 3, 4],
        env="CartPoleNoVel-v1",
        target=475.0,
    ),
    "a2c-cartpole-novel-feedforward": Suite(
        "A2C without the LSTM on CartPoleNoVel-v1, the same budget (500k env steps)",
        ["a2c_cartpole.py", "--train", "--env=CartPoleNoVel-v1", "--norecurrent"],
        "The preset with `--norecurrent`: the same trunk, normalisation and budget, no memory.",
        [0, 1, 2, 3, 4],
        env="CartPoleNoVel-v1",
        target=475.0,
    ),
    "a3c-cartpole-novel": Suite(
        "A3C-LSTM on CartPoleNoVel-v1, its preset (300k env steps)",
        ["a3c_cartpole.py", "--train", "--env=CartPoleNoVel-v1"],
        "`python a3c_cartpole.py --train --env=CartPoleNoVel-v1`: 2 worker threads, each with an "
        "LSTM core carried through its env, observations and rewards normalised.",
        [0, 1, 2],
        env="CartPoleNoVel-v1",
        target=475.0,
    ),
    "sb3-recurrentppo-cartpole-novel": Suite(
        "Peer: sb3-contrib RecurrentPPO, RL Zoo's CartPoleNoVel settings (100k env steps)",
        ["benchmarks/sb3_a2c.py", "--env=CartPoleNoVel-v1"],
        "RL Zoo's hyperparams/ppo_lstm.yml for CartPoleNoVel-v1 (8 envs, n_steps 32, batch 256, "
        "20 epochs, gamma 0.98, GAE 0.8, lin_1e-3, a 64-unit LSTM each for actor and critic, "
        "observations normalised) at the zoo's budget; the greedy mean is the final model's over "
        "100 new episodes.",
        [0, 1, 2],
        env="CartPoleNoVel-v1",
        target=475.0,
    ),
    "a2c-bipedalwalker": Suite(
        "A2C on BipedalWalker-v3 with gSDE, RL Zoo's settings (5M env steps)",
        ["a2c_cartpole.py", "--train", "--env=BipedalWalker-v3", *BIPEDAL],
        "RL Zoo's A2C gSDE settings for BipedalWalker-v3 (16 envs, t_max 8, GAE 0.9, value "
        "weight 0.4, no entropy bonus, gradient norm 0.5, PyTorch's RMSprop 9.6e-4 decayed "
        "linearly, gSDE from log sigma -2, 64-64 tanh with a value trunk of its own, "
        "observations normalised, rewards raw); evaluated every 250k steps on 10 episodes, "
        "the best evaluated model kept; the greedy mean is its own over 10 new episodes. "
        "Target: 250 (RL Zoo's A2C: 299.8 +- 23.5 after 5M). The run was stopped (Ctrl-C) at "
        "1.09M steps to free a core, then continued with --resume: episodes and env steps "
        "count the whole run; the whole process, env steps/s and peak memory are the "
        "continuation's. Started by hand in the background and recorded with --from-runs.",
        [0],
        env="BipedalWalker-v3",
        target=250.0,
        by_hand=True,
    ),
    "a2c-bipedalwalker-adam": Suite(
        "A2C on BipedalWalker-v3 with gSDE, RL Zoo's settings with Adam (5M env steps)",
        ["a2c_cartpole.py", "--train", "--env=BipedalWalker-v3", *BIPEDAL_ADAM],
        "The a2c-bipedalwalker settings with Adam 1e-3 (decayed linearly) instead of "
        "PyTorch's RMSprop, in the same session beside it (two runs sharing the 2 cores). "
        "Target: 250. Started by hand and recorded with --from-runs.",
        [0],
        env="BipedalWalker-v3",
        target=250.0,
        by_hand=True,
    ),
    "a2c-bipedalwalker-throughput": Suite(
        "A2C on BipedalWalker-v3, its preset (RL Zoo's settings), 300k env steps (throughput)",
        ["a2c_cartpole.py", "--train", "--env=BipedalWalker-v3"]
        + ["--max-steps=300000", "--eval-interval=0"],
        "Env steps/s of the a2c-bipedalwalker settings, beside SB3's on RL Zoo's in the same "
        "session (the greedy mean after 300k steps says little).",
        [0, 1, 2],
        env="BipedalWalker-v3",
        target=250.0,
    ),
    "sb3-a2c-bipedalwalker-throughput": Suite(
        "Peer: Stable-Baselines3 A2C, RL Zoo's BipedalWalker settings, 300k env steps (throughput)",
        ["benchmarks/sb3_a2c.py", "--env=BipedalWalker-v3", "--max_steps=300000"],
        "RL Zoo's hyperparams/a2c.yml for BipedalWalker-v3 (16 envs, n_steps 8, GAE 0.9, vf "
        "0.4, RMSprop lin_9.6e-4, gSDE with log_std_init -2, observations normalised): env "
        "steps/s for the first 300k of its 5M steps.",
        [0, 1, 2],
        env="BipedalWalker-v3",
        target=250.0,
    ),
    "a2c-pong": Suite(
        "A2C on ALE/Pong-v5 from pixels, its preset (4M env steps)",
        ["a2c_cartpole.py", "--train", "--env=ALE/Pong-v5"],
        "The Atari preset with nothing else (RL Zoo's A2C settings: 16 envs, n_steps 5, "
        "TensorFlow 1's RMSprop 7e-4, orthogonal initialisation, entropy 0.01, value 0.25; the "
        "A3C paper's convolutional trunk), 4M env steps (16M frames); the greedy mean is the best "
        "evaluated model's (every 500k steps) over 10 new games. Target: +18 greedy (RL Zoo's "
        "A2C: 17.3 after 10M steps). A run takes over an hour here: started by hand in the "
        "background and recorded with --from-runs.",
        [0],
        env="ALE/Pong-v5",
        target=18.0,
        by_hand=True,
    ),
    "a2c-pong-7m": Suite(
        "A2C on ALE/Pong-v5 from pixels, its preset's run continued to 7M env steps",
        ["a2c_cartpole.py", "--train", "--env=ALE/Pong-v5", "--resume", "--max-steps=7000000"],
        "The a2c-pong run (the preset, 4M env steps) continued from its last checkpoint with "
        "the same settings to 7M env steps (RL Zoo's A2C reports 17.3 after 10M). Episodes, "
        "env steps, env steps/s (its training clock goes on from the checkpoint) and steps to "
        "solve count the whole run; the whole process and the peak memory are the "
        "continuation's. Target: +18 greedy.",
        [0],
        env="ALE/Pong-v5",
        target=18.0,
        by_hand=True,
    ),
    "a2c-pong-zoo": pong_zoo_suite(
        "A2C on PongNoFrameskip-v4 (RL Zoo's frames) from pixels, its preset, 10M env steps",
        ["a2c_cartpole.py", "--train", "--env=PongNoFrameskip-v4", "--max-steps=10000000"],
        "The Atari preset (as a2c-pong) on the frames RL Zoo measured A2C on (no sticky "
        "actions; RL Zoo's A2C: 17.3 after 10M env steps), 10M env steps (40M frames); the "
        "greedy mean is the best evaluated model's (every 500k steps) over 10 new games. Target: "
        "+18 greedy.",
        target=18.0,
    ),
    "sb3-a2c-pong-zoo": pong_zoo_suite(
        "Peer: Stable-Baselines3 A2C, RL Zoo's Atari settings, PongNoFrameskip-v4",
        ["benchmarks/sb3_a2c.py", "--env=PongNoFrameskip-v4", "--max_steps=4000000"]
        + ["--eval_episodes=10"],
        "RL Zoo's hyperparams/a2c.yml for Atari (16 envs, CnnPolicy, ent_coef 0.01, vf_coef "
        "0.25, RMSpropTFLike with eps 1e-5, n_steps 5) on RL Zoo's frames (SB3's AtariWrapper "
        "on PongNoFrameskip-v4, 4 frames stacked), on the machine of a2c-pong-zoo, for the "
        "first 4M of the zoo's 10M env steps; the greedy mean is the final model's over 10 new "
        "games; its seconds of training include its checkpoints. Target: +18 greedy.",
        target=18.0,
    ),
    "a3c-pong-zoo": pong_zoo_suite(
        "A3C on PongNoFrameskip-v4 (RL Zoo's frames) from pixels, its preset, 10M env steps",
        ["a3c_cartpole.py", "--train", "--env=PongNoFrameskip-v4", "--max-steps=10000000"],
        "A3C's Atari preset (as a3c-pong: 2 worker threads of 8 envs, TensorFlow 1's RMSprop "
        "shared) on RL Zoo's frames, 10M env steps; the greedy mean is the best evaluated "
        "model's (every 500k steps) over 10 new games. Target: +15 greedy.",
        target=15.0,
    ),
    "a3c-pong": Suite(
        "A3C on ALE/Pong-v5 from pixels, its preset (2 worker threads x 8 envs, 4M env steps)",
        ["a3c_cartpole.py", "--train", "--env=ALE/Pong-v5"],
        "A3C's Atari preset with nothing else: the A2C preset's settings (TensorFlow 1's "
        "RMSprop 7e-4 shared by the workers, orthogonal initialisation, entropy 0.01, value 0.25, "
        "t_max 5) in 2 worker threads of 8 envs each, 4M env steps; the greedy mean is the best "
        "evaluated model's (every 500k steps) over 10 new games. Target: +15 greedy. Started by "
        "hand in the background and recorded with --from-runs.",
        [0],
        env="ALE/Pong-v5",
        target=15.0,
        by_hand=True,
    ),
    "a3c-defaults": Suite(
        "A3C, defaults, 1000 episodes",
        ["a3c_cartpole.py", "--train"],
        "The README's `python a3c_cartpole.py --train`: 1000 episodes, then the greedy evaluation.",
    ),
}


def run_once(suite: Suite, seed: int, root: Path = ROOT) -> dict:
    """Runs one training process of ``suite`` in the checkout ``root``; returns its
    measurements."""
    command = suite.command
    with tempfile.TemporaryDirectory() as save_dir:
        argv = [sys.executable, *command, f"--seed={seed}", f"--save_dir={save_dir}"]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        start = time.perf_counter()
        process = subprocess.Popen(
            argv, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)  # reaps the child with its own peak memory
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{output[-2000:]}")
        peak_mib = usage.ru_maxrss / 1024  # KiB on Linux
        return measurements(suite, seed, output, Path(save_dir), wall, peak_mib)


def finished_run(suite: Suite, seed: int, log: Path, save_dir: Path, checkout: Path) -> dict:
    """The measurements of a run of ``suite`` started by hand, as long runs are (in the
    background, the console output of each of its parts appended to ``log``), from the log and
    the run's ``save_dir``, with its parts (``recorded_parts``) as ``row["parts"]``.

    The whole process's seconds are the parts' wall seconds summed (a part from before parts
    were recorded counts its seconds of training); for a run with no recorded part, the log's,
    from its creation to its last write, and ``checkout`` must be at the commit the run ran.
    The peak memory is ``/usr/bin/time -v``'s report at the log's end if the last part was
    started under it (``/usr/bin/time -v python a2c_cartpole.py ... >> log 2>&1``), else not
    recorded.

    Raises:
        SystemExit: with one line, if the log or the run's checkpoint is missing, the run has
            not finished (its last part did not use the budget), or, for a run with no
            recorded part, the log has no creation time or ``checkout`` moved on after it.
    """
    if not log.is_file():
        sys.exit(f"error: --from-runs: no log at {log}")
    parts = recorded_parts(save_dir, suite.env)
    if not parts:
        sys.exit(f"error: --from-runs: no checkpoint of a run on {suite.env} in {save_dir}")
    last = parts[-1]
    if last["outcome"] not in ("finished", "not recorded"):
        sys.exit(
            f"error: --from-runs: the run in {save_dir} has not finished: its part "
            f"{last['part']} ended {last['outcome']!r} at {last['env_steps_end']} env steps; "
            "continue it with --resume"
        )
    output = log.read_text(errors="replace")
    # The last part's own lines: its trained line (of the steps its checkpoint holds), then
    # its greedy report of the saved model; not an earlier part's, if the last died between.
    trained = list(re.finditer(r"trained \d+ episodes, (\d+) env steps in", output))
    if not trained or int(trained[-1][1]) != last["env_steps_end"]:
        sys.exit(
            f"error: --from-runs: {log} has no 'trained ... {last['env_steps_end']} env steps' "
            "line of the run's last part: give the log its parts wrote"
        )
    if not re.search(r"^greedy return over", output[trained[-1].end() :], re.MULTILINE):
        sys.exit(f"error: --from-runs: {log} ends before the report after training")
    if any(part["wall_seconds"] is not None for part in parts):
        wall = sum(part["wall_seconds"] or part["train_seconds"] for part in parts)
    else:
        wall = log_seconds(log, checkout)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", output)
    peak_mib = int(peak[1]) / 1024 if peak else None
    row = measurements(suite, seed, output, save_dir, wall, peak_mib)
    with open(run_files(save_dir, suite.env).episodes) as handle:
        episodes = list(csv.DictReader(handle))
    # The evaluations the checkpoint holds, and the log's from before checkpoints held them.
    saved = saved_evaluations(save_dir, suite.env)
    logged = {s: v for s, v in evaluations_in(output).items() if not saved or s < min(saved)}
    return {**row, "parts": parts, "curve": curve(episodes, {**logged, **saved})}


def saved_evaluations(save_dir: Path, env: str) -> dict[int, tuple[float, float]]:
    """The greedy evaluations during training that the run's newest checkpoint holds: (mean,
    std) by env steps (none for a peer's run, or a checkpoint from before they were kept)."""
    from training.state import checkpoint_evaluations

    return {
        e["env_steps"]: (float(np.mean(e["returns"])), float(np.std(e["returns"])))
        for e in checkpoint_evaluations(save_dir, env)
    }


def log_seconds(log: Path, checkout: Path) -> float:
    """Seconds from ``log``'s creation to its last write: a one-process run's whole time,
    where its parts were not recorded; ``checkout`` (whose commit is recorded) must not have
    moved on since the log began."""
    stat = log.stat()
    born = getattr(stat, "st_birthtime", None)
    if born is None:  # Linux: the birth time through statx, as stat(1) reads it
        command = ["stat", "-c", "%W", log]
        born = float(subprocess.run(command, capture_output=True, text=True).stdout or 0)
    if born <= 0:
        sys.exit(f"error: --from-runs: the file system does not record when {log} was created")
    committed = subprocess.run(
        ["git", "-C", checkout, "log", "-1", "--format=%ct"], capture_output=True, text=True
    ).stdout.strip()
    if committed and int(committed) > born:
        sys.exit(
            f"error: --from-runs: {checkout} is at a commit made after {log} began; give "
            "--run-checkout a checkout of the commit the run ran (a worktree made for it)"
        )
    return stat.st_mtime - born


def recorded_parts(save_dir: Path, env: str) -> list[dict] | None:
    """The parts of the run in ``save_dir`` (``training.parts.RunParts``: commit, UTC start
    and end, env steps, seconds, outcome of each program that trained it): from its newest
    checkpoint, or for a peer's run (``sb3_a2c.py``) from its ``sb3_run.json``; None if there
    is neither."""
    from training.state import saved_parts  # TensorFlow: only where runs are read

    parts = saved_parts(save_dir, env)
    peer = save_dir / PEER_STATE
    if parts is None and peer.is_file():
        parts = json.loads(peer.read_text())["parts"]
    return parts


def curve(
    episodes: list[dict], evaluations: dict[int, tuple[float, float]], points: int = 10
) -> list[tuple[int, int, float, tuple[float, float] | None]]:
    """The learning curve of a run, as (env steps, training episodes by then, their mean of the
    last 100, the greedy evaluation there or None): at each evaluation during training, or
    where there were none (a peer's run) at each tenth of the run's env steps."""
    if not episodes:
        return []
    last = int(episodes[-1]["env_steps"])
    at = sorted(evaluations) or [round(last * i / points) for i in range(1, points + 1)]
    found = []
    for steps in at:
        done = [e for e in episodes if int(e["env_steps"]) <= steps]
        mean = float(done[-1]["recent_mean"]) if done else float("nan")
        found.append((steps, len(done), mean, evaluations.get(steps)))
    return found


def run_record(row: dict) -> str:
    """The parts of a run recorded with --from-runs (each program that trained it: commit,
    UTC start and end, env steps, seconds) and its learning curve, as Markdown tables."""

    def text(value, spec: str = "") -> str:
        return "not recorded" if value is None else format(value, spec)

    lines = [
        f"Seed {row['seed']}: the run's parts (each program that trained it, from its "
        "checkpoints; wall: from the start of its training to its last checkpoint; the "
        "whole process above is their wall seconds summed, start-up and the report after "
        "training left out):",
        "",
        "| part | commit | started (UTC) | ended (UTC) | env steps | s of training | wall (s) | "
        "env steps/s | ended as |",
        "|---:|---|---|---|---|---:|---:|---:|---|",
    ]
    for part in row["parts"]:
        steps = part["env_steps_end"] - part["env_steps_start"]
        rate = steps / part["train_seconds"] if part["train_seconds"] else None
        lines.append(
            f"| {part['part']} | {text(part['commit'])} | {text(part['started'])} | "
            f"{text(part['ended'])} | {part['env_steps_start']:,} to {part['env_steps_end']:,} | "
            f"{part['train_seconds']:.1f} | {text(part['wall_seconds'], '.1f')} | "
            f"{text(rate, '.0f')} | {part['outcome']} |"
        )
    lines += [
        "",
        "The curve: the mean return of the last 100 training episodes, and the greedy "
        "evaluations during training:",
        "",
        "| env steps | episodes | training mean(100) | greedy mean ± std |",
        "|---:|---:|---:|---:|",
    ]
    for steps, episodes, mean, greedy in row["curve"]:
        evaluated = "none" if greedy is None else f"{greedy[0]:.1f} ± {greedy[1]:.1f}"
        lines.append(f"| {steps:,} | {episodes} | {mean:.1f} | {evaluated} |")
    return "\n".join(lines) + "\n"


def evaluations_in(output: str) -> dict[int, tuple[float, float]]:
    """The greedy evaluations during training a log reports (``N env steps: greedy return
    over E episodes: M ± S``): (mean, std) by env steps, the later where a step count repeats
    (a part stopped at an evaluation's step count and resumed)."""
    found = re.findall(
        r"^.*?(\d+) env steps: greedy return over \d+ episodes?: (-?[\d.]+) ± ([\d.]+)",
        output,
        re.MULTILINE,
    )
    return {int(steps): (float(mean), float(std)) for steps, mean, std in found}


def measurements(
    suite: Suite, seed: int, output: str, save_dir: Path, wall: float, peak_mib: float | None
) -> dict:
    """One run's row: from its console ``output`` (the trained and greedy lines) and the
    episode CSV in ``save_dir``, with its whole-process seconds and peak memory."""
    # The last trained line: a run of several parts prints one a part, each counting the run.
    trained = re.findall(r"trained (\d+) episodes, (\d+) env steps in ([\d.]+) s", output)[-1]
    # The last greedy line is the report after training; A2C logs its periodic ones before.
    greedy = re.findall(r"greedy return over (\d+) episodes?: (-?[\d.]+) ± ([\d.]+)", output)[-1]
    with open(run_files(save_dir, suite.env).episodes) as handle:
        episodes = list(csv.DictReader(handle))
    solved = next(
        (e for e in episodes if int(e["index"]) >= 100 and float(e["recent_mean"]) >= suite.target),
        None,
    )
    return {
        "seed": seed,
        "wall_s": wall,
        "episodes": int(trained[0]),
        "env_steps": int(trained[1]),
        "steps_per_s": int(trained[1]) / float(trained[2]),
        "steady_steps_per_s": steady_rate(episodes),
        "solved_steps": int(solved["env_steps"]) if solved else None,
        "solved_s": float(solved["seconds"]) if solved else None,
        "greedy_episodes": int(greedy[0]),
        "greedy_mean": float(greedy[1]),
        "greedy_std": float(greedy[2]),
        "peak_mib": peak_mib,
    }


def steady_rate(episodes: list[dict]) -> float:
    """Env steps per second from the first finished episode to the last, by the episode log's
    own clock: start-up and compilation are outside it whatever a version counts as training
    (in runs without evaluations, which the suites that measure throughput are)."""
    first, last = episodes[0], episodes[-1]
    seconds = float(last["seconds"]) - float(first["seconds"])
    return (int(last["env_steps"]) - int(first["env_steps"])) / max(seconds, 1e-9)


def revision(root: Path = ROOT) -> str:
    """The commit checked out in ``root``, with ``+changes`` if its code differs from it
    (``utils.provenance.code_revision``; changed Markdown files do not count)."""
    commit = code_revision(root)
    return f"commit {commit}" if commit else "unknown commit"


def versions() -> str:
    found = [f"Python {platform.python_version()}"]
    for name in [
        "tensorflow-cpu",
        "tensorflow",
        "keras",
        "gymnasium",
        "numpy",
        "torch",
        "stable-baselines3",
    ]:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(found)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({cpu})"


def fmt(value, spec: str) -> str:
    return "not reached" if value is None else format(value, spec)


def digits(rows: list[dict]) -> int:
    """Decimals of the greedy returns: 3 where they are a few units (a success rate), else 1."""
    return 1 if max(abs(r["greedy_mean"]) + r["greedy_std"] for r in rows) >= 10 else 3


def table(rows: list[dict]) -> str:
    episodes = {r.get("greedy_episodes", 100) for r in rows}
    d = digits(rows)
    lines = [
        "| seed | whole process (s) | episodes | env steps | env steps/s | steady env steps/s | "
        "env steps to solve | s of training to solve | greedy mean ± std "
        f"({'/'.join(map(str, sorted(episodes)))} ep.) | peak memory (MiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['seed']} | {r['wall_s']:.1f} | {r['episodes']} | {r['env_steps']} | "
        f"{r['steps_per_s']:.0f} | {r['steady_steps_per_s']:.0f} | "
        f"{fmt(r['solved_steps'], 'd')} | {fmt(r['solved_s'], '.1f')} | "
        f"{r['greedy_mean']:.{d}f} ± {r['greedy_std']:.{d}f} | "
        f"{'not recorded' if r['peak_mib'] is None else format(r['peak_mib'], '.0f')} |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"


def summary(rows: list[dict], target: float) -> str:
    greedy = sum(r["greedy_mean"] >= target for r in rows)
    reached = [r for r in rows if r["solved_steps"] is not None]
    parts = [
        f"solved (training mean(100) >= {target:g}) in {len(reached)} of {len(rows)} seeds",
        f"greedy mean >= {target:g} in {greedy} of {len(rows)}",
        f"median greedy mean {statistics.median(r['greedy_mean'] for r in rows):.{digits(rows)}f}",
        f"median whole process {statistics.median(r['wall_s'] for r in rows):.1f} s",
        f"median {statistics.median(r['steps_per_s'] for r in rows):,.0f} env steps/s "
        f"({statistics.median(r['steady_steps_per_s'] for r in rows):,.0f} steady)",
    ]
    if reached:
        median_steps = statistics.median(r["solved_steps"] for r in reached)
        parts.append(f"median {median_steps:,.0f} env steps to solve (seeds that solved)")
    return "; ".join(parts) + "."


HEADER = """# Benchmarks

Written by `python benchmarks/benchmark.py`; each section says when, with which command and
versions, on which machine. Re-running a suite (`--suites=a2c`) puts its new measurement first
and keeps the older one below it, marked superseded; no section is ever removed. The README,
docs and presets cite a section by its anchor (`BENCHMARKS.md#a2c`).

- Every run is a fresh process, timed from start to exit ("whole process"); on CartPole-v1
  unless the suite names another env.
- "To solve": the first episode at which the mean return of the last 100 training episodes
  reached the suite's target (CartPole-v1: 475, the classic rule); its env steps, and seconds of
  training until then (start-up excluded). "Env steps/s" is the run's own report: env steps
  over seconds of training, periodic evaluations excluded (since the one training loop, the
  start of the workers and their XLA compilation are excluded too; before it A3C counted
  them). "Steady env steps/s" is measured
  alike for every version: env steps from the first finished episode to the last over the
  episode log's seconds between them. The greedy mean is the saved model over 100 new seeded
  episodes.
- The machine is shared and noisy: compare suites of one date, and read medians.
"""


def script_section(
    key: str,
    title: str,
    purpose: str,
    command: str,
    body: str,
    root: Path | None = ROOT,
    date: str = "",
) -> str:
    """A section of BENCHMARKS.md written by a script other than this one (thread_costs.py,
    ray_costs.py, tuning_studies.py): heading, purpose, the command (with how it aggregates),
    when (``date``, default today), at which commit (``root``'s; None: one not recorded), on
    which machine, with which versions, then ``body`` (its table or lines)."""
    commit = revision(root) if root is not None else "an unrecorded commit"
    return (
        f"## `{key}`: {title}\n\n{purpose}\n\n"
        f"- Command: {command}.\n"
        f"- Measured {date or time.strftime('%Y-%m-%d')} at {commit} on {machine()}.\n"
        f"- Versions: {versions()}.\n\n{body}"
    )


def section(key: str, name: str, seeds: list[int], rows: list[dict], how: str, root: Path) -> str:
    """One suite's section of BENCHMARKS.md: what ran, where, with which versions, the table."""
    suite = SUITES[name]
    env, target = suite.env, suite.target
    where = f"- Env: {env}; target return {target:g}.\n" if env != "CartPole-v1" else ""
    command = " ".join(suite.command)
    commit = revision(root)
    commits = [part["commit"] for row in rows for part in row.get("parts", ()) if part["commit"]]
    if commits:  # runs of several parts: each part's commit is in its table
        commit = f"commit {commits[-1]} (the last part's; each part's below)"
    records = "".join("\n" + run_record(row) for row in rows if row.get("parts"))
    return (
        f"## `{key}`: {suite.title}\n\n{suite.purpose}\n\n"
        f"- Each run: `python {command} --seed=S`; seeds {','.join(map(str, seeds))}.\n"
        f"- Measured {time.strftime('%Y-%m-%d')} by `python benchmarks/benchmark.py "
        f"--suites={name}{how}` at {commit} on {machine()}.\n"
        f"- Versions: {versions()}.\n{where}\n"
        f"{table(rows)}\nSummary: {summary(rows, target)}\n{records}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--suites",
        default=",".join(name for name, suite in SUITES.items() if not suite.by_hand),
        help="comma-separated suites (default: all but those recorded with --from-runs)",
    )
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds")
    parser.add_argument("--output", default=str(ROOT / "docs" / "BENCHMARKS.md"))
    parser.add_argument(
        "--compare",
        default="",
        help="another checkout (an older commit): each seed runs here, then there, in turn; "
        "its sections are named SUITE@TAG",
    )
    parser.add_argument("--tag", default="before", help="with --compare: the other's name")
    parser.add_argument(
        "--from-runs",
        default="",
        help="SEED:LOG:SAVE_DIR,...: record runs of the one suite given that were started by "
        "hand (long runs, in the background, continued with --resume across sessions, each "
        "part's output appended to LOG) instead of running it; each part (commit, steps, "
        "times) and the learning curve go into the section",
    )
    parser.add_argument(
        "--run-checkout",
        default=str(ROOT),
        help="with --from-runs: the checkout the runs ran in, at the commit they ran (its "
        "commit is recorded; one that moved on since is refused)",
    )
    args = parser.parse_args()
    if args.from_runs:
        name = args.suites
        if name not in SUITES:
            sys.exit(f"error: --from-runs records one suite: give --suites one of {list(SUITES)}")
        runs = [part.split(":") for part in args.from_runs.split(",")]
        if any(len(run) != 3 or not run[0].isdigit() for run in runs):
            sys.exit(f"error: --from-runs={args.from_runs}: each run is SEED:LOG:SAVE_DIR")
        checkout = Path(args.run_checkout)
        rows = [
            finished_run(SUITES[name], int(seed), Path(log), Path(save_dir), checkout)
            for seed, log, save_dir in runs
        ]
        how = " --from-runs=SEED:LOG:SAVE_DIR"
        text = section(name, name, [row["seed"] for row in rows], rows, how, checkout)
        write_sections(Path(args.output), {name: text}, order=list(SUITES), header=HEADER)
        print(text)
        return
    seeds = [int(seed) for seed in args.seeds.split(",")]
    checkouts = [(ROOT, "")]
    if args.compare:
        checkouts.append((Path(args.compare).resolve(), args.tag))
    how = f" --compare=... --tag={args.tag}" if args.compare else ""
    sections = {}
    for name in args.suites.split(","):
        suite = SUITES[name]
        if suite.by_hand and "--resume" in suite.command:
            sys.exit(
                f"error: {name} goes on from another run's checkpoint: record it with --from-runs"
            )
        suite_seeds = suite.seeds or seeds
        peers = ("stable_baselines3", "sb3_contrib")
        if name.startswith("sb3") and not all(map(importlib.util.find_spec, peers)):
            print(f"skipping {name}: stable_baselines3 or sb3_contrib is not installed")
            continue
        rows = {tag: [] for _, tag in checkouts}
        for seed in suite_seeds:
            for root, tag in checkouts:  # in turn, so a drifting machine slows both alike
                row = run_once(suite, seed, root)
                print(f"{name}@{tag}" if tag else name, row, flush=True)
                rows[tag].append(row)
        for root, tag in checkouts:
            key = f"{name}@{tag}" if tag else name
            sections[key] = section(key, name, suite_seeds, rows[tag], how, root)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_sections(output, sections, order=list(SUITES), header=HEADER)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
