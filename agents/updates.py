"""One gradient step of the loss, as A3C's workers and A2C take it: clipped gradients, applied
only when finite, and the count of those that were not; and the compiled form in which an
algorithm calls its update.

Calling a compiled TensorFlow function costs far more than the arithmetic of these small
networks, and the cost grows with each tensor passed in or out. So the updates are traced once
(``CompiledFunction``, ``RolloutFunction``) and called with few tensors: a rollout packed into
three or four (``agents.memory.pack``), a gradient and a set of weights flattened into one
vector each (``flatten``), the update's scalars in one vector (``UpdateInfo``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from agents.losses import LossInfo, compute_loss
from agents.memory import Rollout, pack, packed_spec, unpack
from config.hyperparameters import ActorCriticConfig
from models.normalization import Moments, batch_moments
from utils.errors import TrainingError


def compute_gradients(model, rollout: Rollout, config: ActorCriticConfig, reward_scaler=None):
    """The gradient of ``compute_loss`` on ``rollout`` with respect to ``model``'s weights.

    ``model`` is an ``ActorCriticModel``; ``compute_loss`` takes log-probs and entropy from its
    ``distribution``. With a ``reward_scaler`` (``agents.reward_scaling.RewardScaler``, for
    ``normalize_rewards``) the loss sees the rollout's rewards scaled, and the scaler's
    statistics take in the rollout; with ``config.clip_rewards`` it sees them clipped to
    [-1, 1] first.

    Returns:
        ``(gradients, loss, norm)``: one gradient per trainable variable, clipped to
        ``config.max_grad_norm`` global norm; the ``LossInfo``; the norm before clipping.
    """
    if config.clip_rewards:
        rollout = rollout._replace(rewards=tf.clip_by_value(rollout.rewards, -1.0, 1.0))
    if reward_scaler is not None:
        ends = tf.maximum(rollout.terminated, rollout.truncated)
        rollout = rollout._replace(rewards=reward_scaler(rollout.rewards, ends, rollout.valid))
    with tf.GradientTape() as tape:
        loss: LossInfo = compute_loss(
            model,
            rollout,
            gamma=config.gamma,
            gae_lambda=config.gae_lambda,
            entropy_coef=config.entropy_coef,
            value_coef=config.value_coef,
        )
    gradients = tape.gradient(loss.total, model.trainable_variables)
    gradients, norm = tf.clip_by_global_norm(gradients, config.max_grad_norm)
    return gradients, loss, norm


def apply_if_finite(optimizer, gradients, variables, total_loss, norm) -> tf.Tensor:
    """Applies ``gradients`` to ``variables`` only if the loss (``LossInfo.total``, a float32
    scalar) and the gradient norm are finite.

    A NaN or infinite loss or gradient (from a diverging value function, a bad reward) never
    reaches the weights or the optimizer's moments.

    Returns:
        A bool scalar tensor: whether the update was applied.
    """
    finite = tf.math.is_finite(total_loss) & tf.math.is_finite(norm)

    def apply():
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return tf.constant(True)

    return tf.cond(finite, apply, lambda: tf.constant(False))


# Updates an algorithm keeps in its ``update_history`` until the trainer takes them out (it
# does after each step, so this bounds only an algorithm run without a trainer).
HISTORY = 10_000


class UpdateInfo(NamedTuple):
    """What one update did, as Python numbers: the loss and its parts (``LossInfo``'s scalars,
    each a mean over the rollout's valid steps), the gradient's global norm before clipping,
    and whether it was applied (it is not when the loss or the norm is not finite)."""

    total: float
    policy_loss: float
    value_loss: float
    entropy: float
    gradient_norm: float
    applied: bool

    @classmethod
    def of(cls, stats, applied=None) -> UpdateInfo:
        """From ``loss_stats``'s vector (a tensor or array) and whether the update applied
        (None: whether it is to be applied, that is whether the loss and the norm are
        finite)."""
        values = np.asarray(stats, np.float64)
        if applied is None:
            applied = np.isfinite(values[0]) and np.isfinite(values[4])
        return cls(*(float(value) for value in values[:5]), applied=bool(applied))


def loss_stats(loss: LossInfo, norm) -> tf.Tensor:
    """The scalars of an update as one float32 vector ``(5,)``: total, policy loss, value loss,
    entropy, gradient norm (``UpdateInfo.of`` reads it)."""
    return tf.stack([loss.total, loss.policy_loss, loss.value_loss, loss.entropy, norm])


class NonFiniteCounter:
    """Counts skipped non-finite updates; raises once there have been more than ``limit``.

    Not thread-safe: A3C calls it under the update lock.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.count = 0

    def add(self, update: UpdateInfo) -> None:
        """Records an update's outcome; raises ``TrainingError`` past the limit."""
        if update.applied:
            return
        self.count += 1
        if self.count > self.limit:
            raise TrainingError(
                f"{self.count} updates had a non-finite loss or gradient (last loss "
                f"{update.total}, value loss {update.value_loss}); none reached the "
                "weights. Try a lower --lr or --max_grad_norm"
            )


class CompiledFunction:
    """``function`` traced once into a concrete TensorFlow function for ``specs`` (a flat list of
    ``tf.TensorSpec``s), with XLA if ``jit_compile``.

    Call: ``compiled(*tensors)``, one per spec (NumPy arrays are made tensors first) -> the
    function's result, as TensorFlow returns it. The call goes through the concrete function's
    flat-argument entry (``_call_flat``, which its public ``__call__`` ends in), skipping the
    binding of arguments to the function's signature, which costs more Python than a small
    network's update does arithmetic. Where a TensorFlow version
    lacks that entry, or it refuses the call, the public call is used from then on.
    """

    def __init__(self, function: Callable, specs, jit_compile: bool):
        traced = tf.function(function, jit_compile=jit_compile)
        self.concrete = traced.get_concrete_function(*specs)
        self._call_flat = getattr(self.concrete, "_call_flat", None)

    def __call__(self, *tensors):
        tensors = [t if isinstance(t, tf.Tensor) else tf.constant(t) for t in tensors]
        if self._call_flat is not None:
            try:
                return self._call_flat(tensors, self.concrete.captured_inputs)
            except TypeError:  # another TensorFlow's private entry
                self._call_flat = None
        return self.concrete(*tensors)


class RolloutFunction:
    """``function(rollout)`` compiled once for rollouts of ``spec`` (``tf.function`` traced to a
    concrete function, with XLA if ``jit_compile`` and the states are not images), called with
    the rollout packed (``agents.memory.pack``: three or four tensors instead of six to eight).

    Rollouts of images (uint8 states: a convolutional model) are never compiled with XLA: on
    CPU, XLA's convolution gradients take about 1.4 times as long as TensorFlow's own kernels
    (oneDNN), which outweighs what XLA saves elsewhere in the update
    (docs/BENCHMARKS.md#atari-throughput).

    Args:
        function: graph code of a ``Rollout`` (of tensors); its result is returned as
            TensorFlow returns it.
        spec: ``agents.memory.rollout_spec`` of the rollouts it takes.
        jit_compile: compile with XLA (not for images).

    Call: ``function(rollout)`` with a ``Rollout`` of NumPy arrays (or tensors) of ``spec``'s
    shapes.
    """

    def __init__(self, function: Callable, spec: Rollout, jit_compile: bool):
        self.spec = spec
        self.jit_compile = jit_compile and spec.states.dtype != tf.uint8
        self._compiled = CompiledFunction(
            lambda *packed: function(unpack(*packed)), packed_spec(spec), self.jit_compile
        )

    def __call__(self, rollout: Rollout):
        return self._compiled(*pack(rollout))


def parameter_count(variables) -> int:
    """Number of floats in ``variables`` (P): the length of a ``flatten``ed weight vector."""
    return sum(variable.shape.num_elements() for variable in variables)


def flatten(tensors) -> tf.Tensor:
    """``tensors`` as one float32 vector ``(P,)``, in order (``(0,)`` for none).

    Gradients and weights leave a compiled function, and travel between A3C's driver and its
    workers, in this form: one tensor is one conversion and one serialisation, where a list
    costs one per variable.
    """
    if not tensors:
        return tf.zeros([0])
    return tf.concat([tf.reshape(tensor, [-1]) for tensor in tensors], axis=0)


def unflatten(vector: tf.Tensor, variables) -> list[tf.Tensor]:
    """The inverse of ``flatten``: ``vector`` ``(P,)`` cut into tensors of ``variables``'
    shapes."""
    sizes = [variable.shape.num_elements() for variable in variables]
    parts = tf.split(vector, sizes)
    return [tf.reshape(part, v.shape) for part, v in zip(parts, variables, strict=True)]


def assign_flat(variables, vector: tf.Tensor) -> None:
    """Sets ``variables`` from a ``flatten``ed vector ``(P,)``."""
    for variable, value in zip(variables, unflatten(vector, variables), strict=True):
        variable.assign(value)


def observation_moments(model, states) -> tf.Tensor:
    """With observation normalisation, the ``batch_moments`` of ``(T, N, obs_dim)`` states as
    one vector ``(1 + 2 * obs_dim,)`` (count, mean, variance), which an A3C worker sends with
    its gradient; without it, ``(0,)``: nothing to send."""
    if model.normalizer is None:
        return tf.zeros([0])
    obs_dim = states.shape[-1]
    return flatten(batch_moments(tf.reshape(tf.cast(states, tf.float32), [-1, obs_dim])))


def moments_size(model) -> int:
    """The length of ``model``'s ``observation_moments`` vector."""
    return 0 if model.normalizer is None else 1 + 2 * int(model.normalizer.mean.shape[0])


def apply_flat_update(model, optimizer, gradient, moments) -> None:
    """The global side of an A3C update (graph code): the flattened ``gradient`` applied to
    ``model``'s trainable weights by ``optimizer``, and the rollout's observation ``moments``
    (``observation_moments``) merged into its statistics.

    The caller applies only finite updates (``UpdateInfo.of(stats).applied``: the loss and the
    norm, which a NaN or infinite gradient makes non-finite too), so none reaches the weights
    or the optimizer's moments; checking that in Python, from the scalars the gradient came
    with, keeps a conditional out of this compiled function.
    """
    variables = model.trainable_variables
    optimizer.apply_gradients(zip(unflatten(gradient, variables), variables, strict=True))
    if model.normalizer is not None:
        dim = (moments.shape[0] - 1) // 2
        model.normalizer.merge(Moments(moments[0], moments[1 : 1 + dim], moments[1 + dim :]))
