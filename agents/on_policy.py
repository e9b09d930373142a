"""What A2C, the A3C worker threads and the A3C Ray workers share, written once: the learner's
parts (its envs' model and rollout collector), the rewards the loss sees, the update's metrics
by name, the guard that keeps a non-finite update off the weights, and the bookkeeping of
updates. Each algorithm's own update (the tape, the loss, the clip, the apply) is in its file.
"""

from __future__ import annotations

import collections
from collections.abc import Callable

import gymnasium as gym
import tensorflow as tf

from agents.losses import LossInfo
from agents.memory import Rollout, RolloutCollector
from config.hyperparameters import ActorCriticConfig
from models import ActorCriticModel, build_model
from models.normalization import Moments, batch_moments
from utils.envs import env_dims_of
from utils.errors import TrainingError

# Updates an algorithm keeps in its ``UpdateLog.history`` until the trainer takes them out (it
# does after each step, so this bounds only an algorithm run without a trainer).
HISTORY = 10_000

# The metrics of an update, by name: what the console, TensorBoard and callbacks read.
METRICS = ("loss", "policy_loss", "value_loss", "entropy", "grad_norm", "applied")


def model_for(config: ActorCriticConfig, envs: gym.Env | gym.vector.VectorEnv) -> ActorCriticModel:
    """A new model for the spaces of ``envs`` (an env or vector env that ``utils.envs`` made)
    and ``config``'s architecture (the caller seeds it)."""
    return build_model(env_dims_of(envs), **config.model_options())


def collector_for(
    config: ActorCriticConfig, envs: gym.vector.VectorEnv, model, rng: tf.random.Generator
) -> RolloutCollector:
    """The ``RolloutCollector`` of a learner: ``config.update_freq`` (t_max) steps a rollout
    of ``envs`` with ``model``'s policy, sampling with ``rng``."""
    return RolloutCollector(
        envs, model, rng, config.update_freq, config.jit_compile, config.sde_sample_freq
    )


def update_xla(config: ActorCriticConfig, spec: Rollout) -> bool:
    """Whether an update of rollouts of ``spec`` is compiled with XLA: with ``jit_compile``,
    unless the states are images (uint8: a convolutional model), whose convolution gradients
    run faster on TensorFlow's own kernels on CPU (docs/BENCHMARKS.md#atari-throughput)."""
    return config.jit_compile and spec.states.dtype != tf.uint8


def rewards_for_loss(rollout: Rollout, config: ActorCriticConfig, reward_scaler=None) -> Rollout:
    """The rollout as the loss sees it (graph code): rewards clipped to [-1, 1] with
    ``clip_rewards``, then divided by the running std of the discounted return with a
    ``reward_scaler`` (``agents.reward_scaling.RewardScaler``, ``normalize_rewards``), whose
    statistics take in the rollout. Reported episode returns stay raw."""
    if config.clip_rewards:
        rollout = rollout._replace(rewards=tf.clip_by_value(rollout.rewards, -1.0, 1.0))
    if reward_scaler is not None:
        ends = tf.maximum(rollout.terminated, rollout.truncated)
        rollout = rollout._replace(rewards=reward_scaler(rollout.rewards, ends, rollout.valid))
    return rollout


def loss_settings(config: ActorCriticConfig) -> dict:
    """``compute_loss``'s keyword arguments from ``config``: gamma, GAE lambda, the entropy
    bonus's and the value loss's weights."""
    return {
        "gamma": config.gamma,
        "gae_lambda": config.gae_lambda,
        "entropy_coef": config.entropy_coef,
        "value_coef": config.value_coef,
    }


def update_metrics(loss: LossInfo, norm) -> dict:
    """An update's metrics by name (graph code): ``loss`` (the total), ``policy_loss``,
    ``value_loss``, ``entropy`` (each a float32 mean over the rollout's valid steps) and
    ``grad_norm``, the gradient's global norm before clipping."""
    return {
        "loss": loss.total,
        "policy_loss": loss.policy_loss,
        "value_loss": loss.value_loss,
        "entropy": loss.entropy,
        "grad_norm": norm,
    }


def only_if_finite(metrics: dict, update: Callable[[], None]) -> tf.Tensor:
    """The guard of every update (graph code): runs ``update`` (the optimizer's
    ``apply_gradients``, and what goes with it) only if the loss and the gradient norm
    (``metrics``) are finite, so a NaN or infinite loss or gradient (a diverging value
    function, a bad reward) never reaches the weights, the optimizer's moments or the
    observation statistics.

    Returns:
        A bool scalar tensor: whether the update was applied.
    """
    finite = tf.math.is_finite(metrics["loss"]) & tf.math.is_finite(metrics["grad_norm"])

    def apply():
        update()
        return tf.constant(True)

    return tf.cond(finite, apply, lambda: tf.constant(False))


def observation_moments(model, states) -> Moments | tuple:
    """With observation normalisation, the ``Moments`` of a rollout's float32 ``(T, N,
    obs_dim)`` states (graph code), which an A3C worker sends with its gradient to the global
    statistics; without it, ``()``."""
    if model.normalizer is None:
        return ()
    obs_dim = states.shape[-1]
    return batch_moments(tf.reshape(tf.cast(states, tf.float32), [-1, obs_dim]))


def moments_spec(model) -> Moments | tuple:
    """The ``tf.TensorSpec``s of ``model``'s ``observation_moments``: count ``()``, mean and
    variance ``(obs_dim,)``; ``()`` without normalisation."""
    if model.normalizer is None:
        return ()
    dim = int(model.normalizer.mean.shape[0])
    return Moments(tf.TensorSpec([]), tf.TensorSpec([dim]), tf.TensorSpec([dim]))


def metrics_spec() -> dict:
    """The ``tf.TensorSpec``s of ``update_metrics``: float32 scalars by name."""
    return {name: tf.TensorSpec([]) for name in METRICS[:-1]}


class UpdateLog:
    """The bookkeeping of an algorithm's updates: how many, the newest one's metrics, those
    the trainer has not taken yet, and the non-finite guard's count.

    Not thread-safe: A3C's workers record under the update lock.

    Args:
        max_nonfinite: skipped (non-finite) updates allowed; one more raises.

    Attributes:
        count: updates recorded (applied or skipped).
        last: the newest update's metrics (``METRICS``, as Python numbers), or None.
        history: the metrics of each update, in order, until the trainer takes them.
        nonfinite: updates skipped because their loss or gradient was not finite.
    """

    def __init__(self, max_nonfinite: int):
        self.max_nonfinite = max_nonfinite
        self.count = 0
        self.nonfinite = 0
        self.last: dict | None = None
        self.history: collections.deque[dict] = collections.deque(maxlen=HISTORY)

    def record(self, metrics: dict) -> dict:
        """Records an update's metrics (NumPy scalars or numbers, ``METRICS``); returns them
        as Python numbers.

        Raises:
            TrainingError: after more than ``max_nonfinite`` updates were skipped as not
                finite.
        """
        metrics = {name: float(metrics[name]) for name in METRICS[:-1]} | {
            "applied": bool(metrics["applied"])
        }
        self.count += 1
        self.last = metrics
        self.history.append(metrics)
        if not metrics["applied"]:
            self.nonfinite += 1
            if self.nonfinite > self.max_nonfinite:
                raise TrainingError(
                    f"{self.nonfinite} updates had a non-finite loss or gradient (last loss "
                    f"{metrics['loss']}, value loss {metrics['value_loss']}); none reached the "
                    "weights. Try a lower --lr or --max_grad_norm"
                )
        return metrics
