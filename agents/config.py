"""Hyperparameters of A3C and A2C runs. No TensorFlow here: the command line reads the defaults
of its flags from these classes before TensorFlow loads."""

from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class ActorCriticConfig:
    """Hyperparameters both algorithms take. Each algorithm's config adds its own and may change
    the defaults; the command-line flags of the same names set them.

    Attributes:
        env_id: gymnasium id of an env with a Discrete action space and a flat Box observation.
        lr: Adam learning rate.
        gamma: discount factor in (0, 1].
        gae_lambda: GAE lambda in [0, 1]; 1.0 gives the n-step returns of the A3C paper.
        update_freq: t_max, env steps per rollout between updates.
        entropy_coef: weight of the entropy bonus, >= 0.
        value_coef: weight of the value loss, >= 0.
        max_grad_norm: gradients are clipped to this global norm before they are applied.
        seed: seeds the weights, the envs and action sampling.
        hidden_units: widths of the model's shared trunk.
        jit_compile: compile acting and updates with XLA (faster; off for debugging).
        stop_at_threshold: end training once the mean return of the last 100 training episodes
            reaches the env's reward threshold.
        eval_episodes: greedy episodes of each evaluation, seeded from ``seed + 10_000``.
        eval_interval: env steps between greedy evaluations during training (0: none); A2C
            keeps the best evaluated model, A3C plots and logs them.
        checkpoint_every: updates between checkpoints of the training state (for ``--resume``);
            one is also written at the end and on an interrupt.
        max_nonfinite_updates: updates with a NaN or infinite loss or gradient are skipped; one
            more than this many stops the run with an error.
    """

    env_id: str = "CartPole-v1"
    lr: float = 1e-3
    gamma: float = 0.99
    gae_lambda: float = 1.0
    update_freq: int = 20
    entropy_coef: float = 0.01
    value_coef: float = 0.5
    max_grad_norm: float = 40.0
    seed: int = 0
    hidden_units: tuple[int, ...] = (128,)
    jit_compile: bool = True
    stop_at_threshold: bool = False
    eval_episodes: int = 100
    eval_interval: int = 50_000
    checkpoint_every: int = 500
    max_nonfinite_updates: int = 10


@dataclasses.dataclass(frozen=True)
class A3CConfig(ActorCriticConfig):
    """Hyperparameters of an A3C run: ``ActorCriticConfig``'s and the ones below. The defaults
    are the ones benchmarked in docs/BENCHMARKS.md.

    Attributes:
        max_eps: episode budget of the whole run, summed over workers.
        workers: number of worker threads; worker ``i``'s env is seeded with ``seed + i``.
    """

    max_eps: int = 1000
    workers: int = os.cpu_count() or 1


@dataclasses.dataclass(frozen=True)
class A2CConfig(ActorCriticConfig):
    """Hyperparameters of an A2C run: ``ActorCriticConfig``'s, some with other defaults, and the
    ones below. The defaults are the ones benchmarked in docs/BENCHMARKS.md.

    Attributes:
        num_envs: envs stepped together; env ``i`` is seeded with ``seed + i``.
        vector_mode: ``auto``, ``native``, ``sync`` or ``async`` (see ``make_vector_env``).
        max_steps: budget of env steps (summed over envs), >= 1.
    """

    lr: float = 3e-3
    update_freq: int = 8
    entropy_coef: float = 0.0
    max_grad_norm: float = 0.5
    num_envs: int = 8
    vector_mode: str = "auto"
    max_steps: int = 500_000
