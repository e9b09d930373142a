"""Hyperparameters of A3C and A2C runs, each written once.

Every field is a ``setting``: its default, its help and its rule live here, and nowhere else.
The command line makes a flag of each field (same name, type and help, default read from the
algorithm's class), and a config built in Python is checked by the same rules, failing with the
same one-line ``ConfigError``. No TensorFlow here: the command line reads these classes before
TensorFlow loads.
"""

from __future__ import annotations

import dataclasses
import os
from typing import ClassVar

from utils.envs import VECTOR_MODES
from utils.errors import ConfigError
from utils.model_spec import ModelSpec
from utils.settings import (
    above,
    at_least,
    between,
    choices,
    linear_range,
    log_range,
    near_one,
    new_default,
    one_of,
    setting,
    validate,
)

BACKENDS = ("threads", "ray")
MAX_SEED = 2**31 - 1


# The settings that shape a model, as ``utils.model_spec.ModelSpec`` reads them (with
# ``log_std_init`` and ``weight_init``, which only start it): playing, evaluating and exporting
# a saved model read them, and a resumed run cannot change them.
MODEL_SETTINGS = ModelSpec.setting_names()


@dataclasses.dataclass(frozen=True)
class ActorCriticConfig:
    """Hyperparameters both algorithms take; ``A3CConfig`` and ``A2CConfig`` add their own and
    change some defaults. Each field's help says what it means (``--helpshort`` prints them).

    A run ends at the first of its budgets: ``max_eps`` episodes or ``max_steps`` env steps
    (0: no such budget; at least one is needed), or with ``stop_at_threshold`` once solved.

    Raises:
        ConfigError: for a field of the wrong type or outside its range, or no budget.
    """

    algorithm: ClassVar[str] = ""  # the key of its presets (config/presets.py)

    env: str = setting(
        "CartPole-v1",
        "gymnasium env id (Discrete, flat Box, MultiDiscrete or MultiBinary actions; flat Box, "
        "image, Discrete, MultiDiscrete, MultiBinary, Dict or Tuple observations); "
        "module:EnvId imports module first. Envs with a preset (config/presets.py) take its "
        "settings for the flags not given.",
    )
    # The spaces a tuning study searches (``search``): RL Zoo's A2C sampler
    # (rl_zoo3/hyperparams_opt.py), the learning rate's widened to 1e-2 (A2C's default here is
    # 3e-3, with Adam).
    lr: float = setting(
        1e-3, "Learning rate of the optimizer.", above(0), search=log_range(1e-5, 1e-2)
    )
    optimizer: str = setting(
        "adam",
        "adam; rmsprop (Keras's, decay 0.99, epsilon 1e-5: the A3C paper's constants); or "
        "rmsprop_tf1, the same with its mean square starting at 1, as TensorFlow 1's "
        "RMSProp (the A3C paper's and RL Zoo's Atari results) and SB3's RMSpropTFLike; or "
        "rmsprop_torch, epsilon outside the square root, as PyTorch's (SB3's A2C otherwise).",
        one_of("adam", "rmsprop", "rmsprop_tf1", "rmsprop_torch"),
        search=choices("adam", "rmsprop_torch"),  # RL Zoo's use_rms_prop
    )
    lr_schedule: str = setting(
        "constant",
        "constant: --lr throughout; linear: from --lr down to 0 at the end of --max_steps.",
        one_of("constant", "linear"),
    )
    gamma: float = setting(
        0.99, "Discount factor.", between(0, 1, low_open=True), search=near_one(1e-4, 0.03)
    )
    gae_lambda: float = setting(
        1.0, "GAE lambda; 1 gives the n-step returns.", between(0, 1), search=near_one(1e-4, 0.1)
    )
    update_freq: int = setting(
        20,
        "t_max: env steps per rollout between updates.",
        at_least(1),
        search=choices(5, 8, 16, 32, 64, 128),
    )
    entropy_coef: float = setting(
        0.01, "Weight of the entropy bonus.", at_least(0), search=log_range(1e-8, 0.1)
    )
    value_coef: float = setting(
        0.5, "Weight of the value loss.", at_least(0), search=linear_range(0.1, 1.0)
    )
    max_grad_norm: float = setting(
        40.0, "Clip gradients to this global norm.", above(0), search=linear_range(0.3, 2.0)
    )
    hidden_units: tuple[int, ...] = setting(
        (128,),
        "Widths of the trunk's layers, comma-separated (both trunks' with --separate_value_trunk).",
        at_least(1),
        search=choices((64, 64), (256, 256)),
    )
    # models.actor_critic.ACTIVATIONS: a test keeps the two equal (no TensorFlow import here).
    activation: str = setting(
        "relu",
        "Nonlinearity of the trunk's layers.",
        one_of("relu", "tanh"),
        search=choices("tanh", "relu"),
    )
    # models.actor_critic.IMAGE_ENCODERS: a test keeps the two equal.
    image_encoder: str = setting(
        "a3c",
        "The convolutions for image observations (Atari): a3c, the A3C paper's (after Mnih et "
        "al. 2013: 16 filters 8x8 stride 4, 32 filters 4x4 stride 2), or nature, Nature DQN's "
        "(Mnih et al. 2015: 32 8x8 stride 4, 64 4x4 stride 2, 64 3x3 stride 1; "
        "Stable-Baselines3's NatureCNN, RL Zoo's Atari network, with --hidden_units=512).",
        one_of("a3c", "nature"),
    )
    separate_value_trunk: bool = setting(
        False,
        "Give the value head a trunk of its own (same widths) instead of sharing the "
        "policy's, as Stable-Baselines3's MLP policies do.",
    )
    recurrent: bool = setting(
        False,
        "An LSTM core between the trunk and the heads (A3C-LSTM), for envs that need memory.",
    )
    lstm_units: int = setting(64, "Width of the LSTM core, with --recurrent.", at_least(1))
    # models.actor_critic.WEIGHT_INITS: a test keeps the two equal.
    weight_init: str = setting(
        "glorot",
        "How the kernels start: glorot (Keras's default), or orthogonal with gains sqrt(2) for "
        "the trunk, 0.01 for the policy head and 1 for the value head (OpenAI Baselines' and "
        "Stable-Baselines3's A2C).",
        one_of("glorot", "orthogonal"),
        search=choices("orthogonal", "glorot"),  # RL Zoo's ortho_init
    )
    log_std_init: float = setting(
        0.0,
        "Box actions: initial log standard deviation of the Gaussian policy (learned after).",
        between(-20, 2),
        search=linear_range(-4.0, 1.0),
    )
    use_sde: bool = setting(
        False,
        "Box actions: generalised state-dependent exploration (gSDE, Raffin et al. 2021): "
        "the noise is a function of the policy's features, its weights drawn at each "
        "rollout's start (and every --sde_sample_freq steps), so exploration is smooth in time.",
    )
    sde_sample_freq: int = setting(
        0,
        "With --use_sde (ignored without): env steps between fresh noise weights within a "
        "rollout; 0: only at each rollout's start (SB3's -1).",
        at_least(0),
    )
    normalize_observations: bool = setting(
        False,
        "Normalise observations by their running mean and variance, kept in the model (so a "
        "saved or exported model acts on raw observations).",
    )
    clip_rewards: bool = setting(
        False,
        "Clip rewards to [-1, 1] for the loss only (Atari, as Mnih et al.); reported returns "
        "stay raw.",
    )
    normalize_rewards: bool = setting(
        False,
        "Divide rewards by the running standard deviation of the discounted return, for the "
        "loss only (reported returns stay raw).",
    )
    seed: int = setting(
        0,
        "Seeds the weights, the envs and action sampling; 0 to 2147483647 (NumPy's seeds end at "
        "2**32 - 1, and runs add offsets to it).",
        between(0, MAX_SEED),
    )
    max_eps: int = setting(
        0, "Episode budget of training or of the random baseline; 0: none.", at_least(0)
    )
    max_steps: int = setting(0, "Env-step budget, all envs together; 0: none.", at_least(0))
    stop_at_threshold: bool = setting(
        False, "Stop once the last 100 training episodes average the env's reward threshold."
    )
    stop_at_eval_return: float = setting(
        float("-inf"),
        "Stop once a greedy evaluation's mean return reaches this (as SB3's "
        "StopTrainingOnRewardThreshold); -inf: never.",
    )
    eval_interval: int = setting(
        50_000,
        "Env steps between greedy evaluations; the best evaluated weights are the saved model "
        "(0: no evaluations, the final weights are).",
        at_least(0),
    )
    eval_episodes: int = setting(100, "Episodes of each greedy evaluation.", at_least(1))
    checkpoint_every: int = setting(
        500, "Updates between checkpoints of the training state, for --resume.", at_least(1)
    )
    max_nonfinite_updates: int = setting(
        10,
        "Updates with a NaN or infinite loss are skipped; more than this stop the run.",
        at_least(0),
    )
    jit_compile: bool = setting(
        True,
        "Compile updates of flat observations and an image model's acting with XLA (an image "
        "model's update runs faster on TensorFlow's own kernels on CPU, so it never is).",
    )

    def model_options(self) -> dict:
        """The settings that shape the model, as ``utils.model_spec.ModelSpec``'s fields: the
        keyword arguments of ``models.build_model``."""
        return ModelSpec.options(self)

    def model_spec(self, dims) -> ModelSpec:
        """The spec of this run's model for an env of ``dims`` (``utils.envs.Dims``)."""
        return ModelSpec.for_env(dims, **self.model_options())

    def __post_init__(self):
        validate(self)
        if not (self.max_eps or self.max_steps):
            raise ConfigError(
                "flag --max_eps=0 and --max_steps=0: the run needs a budget; "
                "give one of them a value >= 1"
            )
        if self.recurrent and self.separate_value_trunk:
            raise ConfigError(
                "flags --recurrent and --separate_value_trunk: a recurrent model's value head "
                "reads the LSTM core; drop one of them"
            )
        if self.stop_at_eval_return > float("-inf") and not self.eval_interval:
            raise ConfigError(
                f"flag --stop_at_eval_return={self.stop_at_eval_return:g}: it stops at a greedy "
                "evaluation, and --eval_interval=0 runs none; give --eval_interval a value >= 1"
            )
        if self.lr_schedule == "linear" and not self.max_steps:
            raise ConfigError(
                "flag --lr_schedule=linear: it decays over --max_steps, which is 0; give "
                "--max_steps a value >= 1"
            )


@dataclasses.dataclass(frozen=True)
class A3CConfig(ActorCriticConfig):
    """A3C's hyperparameters: ``ActorCriticConfig``'s and its workers'. The defaults are the
    ones benchmarked in docs/BENCHMARKS.md; worker ``i``'s env ``j`` is seeded
    ``seed + i * envs_per_worker + j``."""

    algorithm: ClassVar[str] = "a3c"
    max_eps: int = new_default(ActorCriticConfig, "max_eps", 1000)
    workers: int = setting(os.cpu_count() or 1, "Workers; default: CPU count.", at_least(1))
    envs_per_worker: int = setting(
        1, "Envs each worker steps together, with one batched forward pass.", at_least(1)
    )
    backend: str = setting(
        "threads",
        "threads: worker threads in this process; ray: a process per worker on Ray (a local "
        "Ray, or the cluster of --ray_address).",
        one_of(*BACKENDS),
    )
    ray_address: str = setting(
        "",
        "With --backend=ray: the Ray cluster to join, auto (the one started on this machine "
        "with `ray start --head`) or HOST:PORT; empty: start a local Ray.",
    )

    def __post_init__(self):
        super().__post_init__()
        if self.ray_address and self.backend != "ray":
            raise ConfigError(
                f"flag --ray_address={self.ray_address}: it needs --backend=ray "
                f"(not --backend={self.backend})"
            )


@dataclasses.dataclass(frozen=True)
class A2CConfig(ActorCriticConfig):
    """A2C's hyperparameters: ``ActorCriticConfig``'s, some with other defaults, and the vector
    env's. The defaults are the ones benchmarked in docs/BENCHMARKS.md; env ``i`` is seeded
    ``seed + i``."""

    algorithm: ClassVar[str] = "a2c"
    lr: float = new_default(ActorCriticConfig, "lr", 3e-3)
    update_freq: int = new_default(ActorCriticConfig, "update_freq", 8)
    entropy_coef: float = new_default(ActorCriticConfig, "entropy_coef", 0.0)
    max_grad_norm: float = new_default(ActorCriticConfig, "max_grad_norm", 0.5)
    max_steps: int = new_default(ActorCriticConfig, "max_steps", 500_000)
    num_envs: int = setting(8, "Envs stepped together.", at_least(1))
    vector_mode: str = setting(
        "auto",
        "native: the env's own batched version; sync: a loop over envs; async: a process per "
        "env; auto: native where the env has one (from 4 envs on), else sync.",
        one_of(*VECTOR_MODES),
    )
