"""Tuned settings per env, as RL Zoo keeps them: the one place to read what each env trains with.

When ``--env`` names an env below, its preset's settings replace the algorithm's defaults; a flag
given on the command line overrides the preset. A run prints the preset it uses. Each entry
says what it reached, with its command and budget, as measured for docs/BENCHMARKS.md; an env
without an entry trains with the defaults of ``config/hyperparameters.py`` (tuned for CartPole-v1).

No TensorFlow here: the command line reads this before TensorFlow loads.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

ConfigT = TypeVar("ConfigT")


class Preset(NamedTuple):
    """Settings that work for one env and one algorithm.

    Attributes:
        settings: config field -> value (``A2CConfig``'s or ``A3CConfig``'s fields).
        evidence: the keys of the docs/BENCHMARKS.md sections that measured what these settings
            reach (``BENCHMARKS.md#<key>``; the numbers live there only); empty where none has.
        command: the command a user runs for it.
    """

    settings: dict[str, Any]
    evidence: tuple[str, ...]
    command: str


# Pendulum-v1: short horizon (gamma 0.9) and GAE 0.9 as RL Zoo's A2C, rewards and observations
# normalised, the learning rate decayed linearly to 0 over 1M steps (the zoo's lin_7e-4), and a
# starting exploration noise of sigma = e^-1 (the zoo's e^-2 with gSDE; without gSDE, e^-1 was
# better on seeds 0 and 1: greedy -170 and -157 against -267 and -161).
PENDULUM = {
    "gamma": 0.9,
    "gae_lambda": 0.9,
    "normalize_observations": True,
    "normalize_rewards": True,
    "log_std_init": -1.0,
    "lr": 1e-3,
    "lr_schedule": "linear",
    "max_steps": 1_000_000,
}

MOUNTAINCAR_CONTINUOUS = {
    "num_envs": 4,
    "update_freq": 100,
    "use_sde": True,
    "sde_sample_freq": 16,
    "normalize_observations": True,
    "normalize_rewards": True,
    "hidden_units": (64, 64),
    "activation": "tanh",
    "separate_value_trunk": True,
    "weight_init": "orthogonal",
    "optimizer": "rmsprop",
    "lr": 7e-4,
    "max_steps": 100_000,
    "eval_interval": 20_000,
}

# BipedalWalker-v3: RL Zoo's A2C settings with gSDE (its released model's: 16 envs, t_max 8,
# GAE 0.9, value weight 0.4, no entropy bonus, PyTorch's RMSprop 9.6e-4 decayed linearly,
# gSDE from log sigma -2, SB3's 64-64 tanh policy with a value trunk of its own, observations
# normalised, rewards raw), 5M steps, 10 greedy episodes each 250k steps. Tried beside it
# (seed 0): the same with Adam 1e-3 gave 297.7 (docs/BENCHMARKS.md: a2c-bipedalwalker-adam);
# with Keras's RMSprop (epsilon inside the square root) and rewards normalised it stayed
# below 0 (greedy -20 after 3M steps).
BIPEDAL_WALKER = {
    "num_envs": 16,
    "update_freq": 8,
    "use_sde": True,
    "log_std_init": -2.0,
    "normalize_observations": True,
    "hidden_units": (64, 64),
    "activation": "tanh",
    "separate_value_trunk": True,
    "optimizer": "rmsprop_torch",
    "lr": 9.6e-4,
    "lr_schedule": "linear",
    "gae_lambda": 0.9,
    "value_coef": 0.4,
    "max_steps": 5_000_000,
    "eval_interval": 250_000,
    "eval_episodes": 10,
}

# Atari (ALE/*): RL Zoo's A2C settings for Atari (16 envs, n_steps 5, RMSprop 7e-4 in
# TensorFlow 1's form with epsilon 1e-5, orthogonal initialisation, entropy bonus 0.01, value
# weight 0.25, gradient norm 0.5) on the A3C paper's convolutional trunk with 256 units, rewards
# clipped for the loss; 4M steps, 10 greedy games each 500k steps (a game of Pong is thousands
# of steps). Keras's RMSprop (mean square from 0) and Glorot initialisation had Pong at -16.7
# after 3M steps (docs/BENCHMARKS.md: a2c-pong).
ATARI = {
    "num_envs": 16,
    "update_freq": 5,
    "optimizer": "rmsprop_tf1",
    "weight_init": "orthogonal",
    "lr": 7e-4,
    "entropy_coef": 0.01,
    "value_coef": 0.25,
    "max_grad_norm": 0.5,
    "clip_rewards": True,
    "hidden_units": (256,),
    "max_steps": 4_000_000,
    "eval_interval": 500_000,
    "eval_episodes": 10,
}
# A3C on Atari: the same in 2 workers of 8 envs each (16 in all), a step budget.
ATARI_A3C = {
    **{name: value for name, value in ATARI.items() if name != "num_envs"},
    "envs_per_worker": 8,
    "max_eps": 0,
}

PRESETS: dict[str, dict[str, Preset]] = {
    "a2c": {
        # The defaults of config/hyperparameters.py were tuned here: the preset restates their
        # result.
        "CartPole-v1": Preset(
            {},
            evidence=("a2c",),
            command="python a2c_cartpole.py --train --stop-at-threshold",
        ),
        # CartPole-v0 (episodes end at 200 steps, threshold 195): the defaults, a shorter budget.
        "CartPole-v0": Preset(
            {"max_steps": 200_000},
            evidence=("a2c-cartpole-v0",),
            command="python a2c_cartpole.py --train --env=CartPole-v0",
        ),
        # Acrobot needs an entropy bonus, or the policy turns deterministic too early and stays
        # at -500. An Optuna study (docs/TUNING.md; 30 trials of 200k steps, seeds 0-29, 11.2
        # minutes) picked PyTorch's RMSprop, orthogonal initialisation, t_max 5 and next to no
        # entropy bonus (best of 4 evaluations: -77.5); on fresh seeds 100-102 it gave -500,
        # -84.4 and -500 (docs/BENCHMARKS.md: a2c-acrobot-tuned), so this preset stays.
        "Acrobot-v1": Preset(
            {"entropy_coef": 0.01, "lr": 1e-3, "max_steps": 200_000, "eval_interval": 25_000},
            evidence=("a2c-acrobot", "a2c-acrobot-tuned"),
            command="python a2c_cartpole.py --train --env=Acrobot-v1",
        ),
        # Pendulum-v1: the continuous preset with gSDE from RL Zoo's log sigma -2, which on
        # seeds 0-2 gave greedy -157.0, -153.7, -157.4 against -161.8, -159.1, -164.7 with
        # independent noise from log sigma -1 (docs/BENCHMARKS.md: a2c-pendulum-sde,
        # a2c-pendulum, measured side by side).
        "Pendulum-v1": Preset(
            {**PENDULUM, "use_sde": True, "log_std_init": -2.0},
            evidence=("a2c-pendulum-sde", "a2c-pendulum", "a2c-pendulum-target"),
            command="python a2c_cartpole.py --train --env=Pendulum-v1",
        ),
        # LunarLander-v3: found by two Optuna studies (docs/TUNING.md) from the hand-tuned
        # preset (gamma 0.995, GAE 0.9, an entropy bonus of 0.01, Adam 1e-3 decayed linearly,
        # ReLU; 1.5M steps for greedy 256.7 median, docs/BENCHMARKS.md: a2c-lunarlander), with its
        # normalisation and 64-64 trunk; every trial was judged by its last evaluation:
        # 1. 40 trials of 500k steps (seeds 0-39; 16 completed, 24 pruned; 10.7 minutes, 2
        #    processes) over the learning rate, the optimizer, the initialisation, the
        #    activation, gamma, GAE lambda, t_max, the entropy and value weights and the
        #    gradient clip. Every trial that ran its budget and ended above 100 had PyTorch's
        #    RMSprop, orthogonal initialisation, tanh and GAE lambda near 1 (0.9996-0.9999); its
        #    three best gave 161-237 on seeds 50-52 at 500k steps, each below 200 on one seed or
        #    two.
        # 2. 20 trials of 1M steps (seeds 0-19; 8 completed, 12 pruned; 12.8 minutes, 2
        #    processes) from study 1's second best (trial 36), with those four fixed, over
        #    narrowed ranges (docs/tuning/lunarlander_study2.json), evaluations of 50 episodes.
        #    Its best (trial 16, 278.0) gave 266.0, 274.4 and 195.2 on seeds 50-52, the
        #    runner-up (trial 10) 212.8, 213.3, 213.3: this preset is trial 16.
        #    The two studies, trial by trial, with their commands: docs/BENCHMARKS.md:
        #    tune-lunarlander-1, tune-lunarlander-2.
        "LunarLander-v3": Preset(
            {
                "optimizer": "rmsprop_torch",
                "lr": 0.00389506,
                "lr_schedule": "linear",
                "gamma": 0.989539,
                "gae_lambda": 0.999852,
                "update_freq": 64,
                "entropy_coef": 0.00598862,
                "value_coef": 0.366492,
                "max_grad_norm": 1.69653,
                "hidden_units": (64, 64),
                "activation": "tanh",
                "weight_init": "orthogonal",
                "normalize_observations": True,
                "normalize_rewards": True,
                "max_steps": 1_000_000,
                "eval_interval": 100_000,
            },
            evidence=("a2c-lunarlander-tuned", "sb3-a2c-lunarlander"),
            command="python a2c_cartpole.py --train --env=LunarLander-v3",
        ),
        # MountainCar-v0: -1 a step until the car reaches the flag, so nothing is learned until an
        # episode gets there: tanh layers and a value trunk of their own (SB3's MLP policy) are
        # what reach it (a shared ReLU trunk never did in 1M steps, docs/BENCHMARKS.md:
        # a2c-mountaincar-relu). The rest was found by two Optuna studies (docs/TUNING.md) from
        # the hand-tuned preset (RL Zoo's 16 envs, t_max 5, lr 7e-4, with Adam and Glorot;
        # greedy -125.5 after 1M steps, docs/BENCHMARKS.md: a2c-mountaincar):
        # 1. 30 trials of 300k steps (seeds 0-29; 14 completed, 16 pruned; 6.3 minutes) over
        #    the learning rate, gamma, GAE lambda, t_max, the entropy and value weights, the
        #    gradient clip, the optimizer and the initialisation, each trial judged by its best
        #    of 4 evaluations of 20 episodes. Its best (Adam 4.5e-5, t_max 8, GAE 0.92, value
        #    weight 0.21, clip 1.28, orthogonal; -105.5) gave -135.9, -127.3 and -116.0 on
        #    fresh seeds 100-102: the best of four noisy evaluations had picked a lucky trial
        #    (trials are now judged by their last evaluation, as RL Zoo's).
        # 2. 12 trials of 1M steps from study 1's best (seeds 0-11; 11 completed, 1 pruned; 5.9
        #    minutes, 2 processes) over the optimizer, the initialisation, the learning rate,
        #    t_max and gamma, judged by the last evaluation: its best (trial 11, -105.3 over 20
        #    episodes) is this preset. PyTorch's RMSprop with orthogonal initialisation was in
        #    every trial that came near -110.
        #   python a2c_cartpole.py --tune --env=MountainCar-v0 --trials=12 \
        #     --trial-steps=1000000 --eval-episodes=20 --tune-jobs=2 \
        #     --tune-params=optimizer,weight_init,lr,update_freq,gamma
        #    Both studies, trial by trial: docs/BENCHMARKS.md: tune-mountaincar-1, -2.
        "MountainCar-v0": Preset(
            {
                "num_envs": 16,
                "update_freq": 5,
                "optimizer": "rmsprop_torch",
                "lr": 0.00185133,
                "gamma": 0.982319,
                "gae_lambda": 0.92042,
                "entropy_coef": 4.118e-08,
                "value_coef": 0.205594,
                "max_grad_norm": 1.27549,
                "weight_init": "orthogonal",
                "normalize_observations": True,
                "normalize_rewards": True,
                "hidden_units": (64, 64),
                "activation": "tanh",
                "separate_value_trunk": True,
                "max_steps": 1_000_000,
                "eval_interval": 100_000,
            },
            evidence=("a2c-mountaincar-tuned", "sb3-a2c-mountaincar"),
            command="python a2c_cartpole.py --train --env=MountainCar-v0",
        ),
        # MountainCarContinuous-v0: +100 at the flag minus the squared force, so the noise must
        # find the flag before the force penalty teaches the policy to stand still. RL Zoo's
        # A2C settings (4 envs, t_max 100, gSDE resampled every 16 steps, normalised, RMSprop
        # 7e-4, SB3's 64-64 tanh policy with a value trunk of its own) with orthogonal
        # initialisation and rewards normalised, which gave greedy 94.7-96.4 against 90.9-92.4
        # for the zoo's exact settings (Glorot, raw rewards, PyTorch's RMSprop; seeds 0-2).
        # The tanh trunks matter most: without gSDE this preset finds the flag too (97.1
        # median, docs/BENCHMARKS.md: a2c-mountaincar-continuous-nosde); with one shared ReLU
        # trunk independent noise stands still (greedy 0 on seeds 0 and 1) where gSDE still
        # reaches the flag in most episodes (greedy 66.8 and 43.3 after 100k steps).
        "MountainCarContinuous-v0": Preset(
            MOUNTAINCAR_CONTINUOUS,
            evidence=(
                "a2c-mountaincar-continuous-sde",
                "a2c-mountaincar-continuous-sde-target",
                "sb3-a2c-mountaincar-continuous-target",
            ),
            command="python a2c_cartpole.py --train --env=MountainCarContinuous-v0",
        ),
        # CartPoleNoVel-v1 (positions only): the LSTM core, observations and rewards normalised,
        # the defaults otherwise (500k steps). Tuned on seed 0, 500k steps: without reward
        # normalisation the LSTM learned little (greedy 241 with observations normalised, 107
        # with neither; t_max 16, lr 1e-3 or an entropy bonus of 0.01 gave 44 to 95); with
        # both, greedy 500 from 150k steps on seeds 0 and 1.
        "CartPoleNoVel-v1": Preset(
            {"recurrent": True, "normalize_observations": True, "normalize_rewards": True},
            evidence=("a2c-cartpole-novel", "a2c-cartpole-novel-feedforward"),
            command="python a2c_cartpole.py --train --env=CartPoleNoVel-v1",
        ),
        # LunarLanderContinuous-v3: RL Zoo's A2C settings (gamma 0.99, GAE 0.9, normalised)
        # without gSDE; it peaks early (200k steps in the tuning run) and the best evaluated
        # model is kept.
        "LunarLanderContinuous-v3": Preset(
            {**PENDULUM, "gamma": 0.99},
            evidence=("a2c-lunarlander-continuous",),
            command="python a2c_cartpole.py --train --env=LunarLanderContinuous-v3",
        ),
        "BipedalWalker-v3": Preset(
            BIPEDAL_WALKER,
            evidence=("a2c-bipedalwalker", "a2c-bipedalwalker-adam"),
            command="python a2c_cartpole.py --train --env=BipedalWalker-v3",
        ),
        # gymnasium's toy-text envs, whose observations are Discrete (FrozenLake, Taxi) or a
        # Tuple of Discretes (Blackjack), one-hot encoded (utils/spaces.py).
        # FrozenLake-v1 (slippery 4x4; reward 1 at the goal, 100 steps at most): the defaults,
        # evaluated on 1000 episodes, as a success rate over 100 varies by +-0.045.
        "FrozenLake-v1": Preset(
            {"max_steps": 300_000, "eval_interval": 50_000, "eval_episodes": 1000},
            evidence=("a2c-frozenlake", "sb3-a2c-frozenlake"),
            command="python a2c_cartpole.py --train --env=FrozenLake-v1",
        ),
        # Taxi-v4 (-1 a step, -10 for a pickup or drop-off in the wrong place, +20 for a
        # delivery; 200 steps at most). Without a strong entropy bonus the policy learns first
        # never to pick up or drop off (every wrong one costs 10), and then wanders for its
        # 200 steps: -200, as SB3's A2C stays. An entropy bonus of 0.05 with rewards scaled
        # (so the -10s do not drown it), 16 envs and t_max 16 found the deliveries (seed 0:
        # greedy 7.7 at 1M steps, unchanged at 2M).
        "Taxi-v4": Preset(
            {
                "entropy_coef": 0.05,
                "normalize_rewards": True,
                "num_envs": 16,
                "update_freq": 16,
                "lr": 1e-3,
                "max_steps": 1_000_000,
                "eval_interval": 250_000,
            },
            evidence=("a2c-taxi", "sb3-a2c-taxi"),
            command="python a2c_cartpole.py --train --env=Taxi-v4",
        ),
        # Blackjack-v1 (a Tuple observation: the player's sum, the dealer's card, a usable ace;
        # reward -1, 0 or 1 at the end of a hand): no discount within a hand, evaluated on
        # 10000 hands, as the mean of 100 varies by +-0.1.
        "Blackjack-v1": Preset(
            {"gamma": 1.0, "max_steps": 300_000, "eval_interval": 100_000, "eval_episodes": 10_000},
            evidence=("a2c-blackjack",),
            command="python a2c_cartpole.py --train --env=Blackjack-v1",
        ),
        # Atari games (ALE/*, every game of ale-py): RL Zoo's A2C settings for Atari.
        "ALE/*": Preset(
            ATARI,
            evidence=("a2c-pong",),
            command="python a2c_cartpole.py --train --env=ALE/Pong-v5",
        ),
        # The same on RL Zoo's frames (PongNoFrameskip-v4: no sticky actions), where the zoo
        # measured its Atari results.
        "*NoFrameskip-v4": Preset(
            ATARI,
            evidence=(),
            command="python a2c_cartpole.py --train --env=PongNoFrameskip-v4",
        ),
    },
    "a3c": {
        "CartPole-v1": Preset(
            {},
            evidence=("a3c", "a3c-defaults"),
            command="python a3c_cartpole.py --train",
        ),
        # CartPole-v0: the defaults, whose 1000 episodes are shorter here (200 steps at most).
        "CartPole-v0": Preset(
            {},
            evidence=("a3c-cartpole-v0",),
            command="python a3c_cartpole.py --train --env=CartPole-v0",
        ),
        # CartPoleNoVel-v1: the A2C preset's LSTM and normalisation with A3C's defaults, and a
        # step budget (episodes are short at first: 1000 of them is about 50k steps).
        "CartPoleNoVel-v1": Preset(
            {
                "recurrent": True,
                "normalize_observations": True,
                "normalize_rewards": True,
                "max_eps": 0,
                "max_steps": 300_000,
            },
            evidence=("a3c-cartpole-novel",),
            command="python a3c_cartpole.py --train --env=CartPoleNoVel-v1",
        ),
        # Atari games: the A2C preset's settings in 2 workers of 8 envs each (ATARI_A3C).
        "ALE/*": Preset(
            ATARI_A3C,
            evidence=(),
            command="python a3c_cartpole.py --train --env=ALE/Pong-v5",
        ),
        "*NoFrameskip-v4": Preset(
            ATARI_A3C,
            evidence=(),
            command="python a3c_cartpole.py --train --env=PongNoFrameskip-v4",
        ),
        # The A2C preset in 2 workers of 8 envs, each worker updating every 8 steps (t_max), with
        # A2C's gradient clipping and no entropy bonus.
        "Pendulum-v1": Preset(
            {
                **PENDULUM,
                "workers": 2,
                "envs_per_worker": 8,
                "update_freq": 8,
                "max_grad_norm": 0.5,
                "entropy_coef": 0.0,
                "max_eps": 0,
            },
            evidence=("a3c-pendulum", "a3c-ray-pendulum"),
            command="python a3c_cartpole.py --train --env=Pendulum-v1",
        ),
    },
}


def preset_for(algorithm: str, env_id: str) -> Preset | None:
    """The preset of ``algorithm`` ("a2c" or "a3c") for ``env_id``, or None: the env's own, else
    its family's (a key with a wildcard, ``ALE/*``: every Atari game)."""
    presets = PRESETS.get(algorithm, {})
    if env_id in presets:
        return presets[env_id]
    families = (preset for key, preset in presets.items() if fnmatch.fnmatchcase(env_id, key))
    return next(families, None)


def apply_preset(
    config: ConfigT, given: Callable[[str], bool] = lambda name: False
) -> tuple[ConfigT, Preset | None]:
    """``config`` with the preset of its algorithm (``config.algorithm``) and env, except the
    settings ``given`` says were chosen (flags on the command line); and the preset, or None
    if the env has none.

    Raises:
        utils.errors.ConfigError: if the result breaks a rule (the preset and a flag given
            together, say a step budget below one rollout).
    """
    preset = preset_for(config.algorithm, config.env)
    if preset is None:
        return config, None
    fields = {field.name for field in dataclasses.fields(config)}
    chosen = {
        name: value for name, value in preset.settings.items() if name in fields and not given(name)
    }
    return dataclasses.replace(config, **chosen), preset


def with_preset(config_class: type[ConfigT], env: str, **settings: Any) -> ConfigT:
    """A config of ``config_class`` for ``env`` with its preset, then ``settings`` on top:
    the Python way to get what the command line gives ``--env=<env>``."""
    base = config_class(env=env, **settings)
    config, _ = apply_preset(base, lambda name: name in settings)
    return config
