"""What A3C and A2C share around the loss: hyperparameters, sampling, gradients, tensor specs."""

from __future__ import annotations

import tensorflow as tf

from agents.config import ActorCriticConfig
from agents.losses import LossInfo, compute_loss
from agents.memory import Rollout


def sample_actions(model, rng: tf.random.Generator, states):
    """Samples a_i ~ pi(.|s_i) for a batch: float32 ``(B, obs_dim)`` -> int32 ``(B,)``.

    Uses the Gumbel-max trick: argmax(logits + Gumbel noise) is distributed as softmax(logits).
    ``rng`` is a ``tf.random.Generator``, so a seeded run samples the same actions.
    """
    logits, _ = model(states)
    uniform = rng.uniform(tf.shape(logits), minval=1e-20, maxval=1.0)
    return tf.argmax(logits - tf.math.log(-tf.math.log(uniform)), axis=-1, output_type=tf.int32)


def compute_gradients(model, rollout: Rollout, config: ActorCriticConfig):
    """The gradient of ``compute_loss`` on ``rollout`` with respect to ``model``'s weights.

    Returns:
        ``(gradients, loss, norm)``: one gradient per trainable variable, clipped to
        ``config.max_grad_norm`` global norm; the ``LossInfo``; the norm before clipping.
    """
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


def rollout_spec(steps: int, num_envs: int, obs_dim: int) -> Rollout:
    """``tf.TensorSpec``s of a ``Rollout`` of ``steps`` steps from ``num_envs`` envs."""
    per_step = tf.TensorSpec([steps, num_envs], tf.float32)
    return Rollout(
        states=tf.TensorSpec([steps + 1, num_envs, obs_dim], tf.float32),
        actions=tf.TensorSpec([steps, num_envs], tf.int32),
        rewards=per_step,
        terminated=per_step,
        truncated=per_step,
        valid=per_step,
    )


class TrainingError(RuntimeError):
    """Training stopped by a fault: a worker failed, or updates kept being non-finite."""


def apply_if_finite(optimizer, gradients, variables, loss: LossInfo, norm) -> tf.Tensor:
    """Applies ``gradients`` to ``variables`` only if the loss and the gradient norm are finite.

    A NaN or infinite loss or gradient (from a diverging value function, a bad reward) never
    reaches the weights or the optimizer's moments.

    Returns:
        A bool scalar tensor: whether the update was applied.
    """
    finite = tf.math.is_finite(loss.total) & tf.math.is_finite(norm)

    def apply():
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return tf.constant(True)

    return tf.cond(finite, apply, lambda: tf.constant(False))


class NonFiniteCounter:
    """Counts skipped non-finite updates; raises once there have been more than ``limit``.

    Not thread-safe: A3C calls it under the update lock.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.count = 0

    def add(self, applied, loss: LossInfo) -> None:
        """Records an update's outcome; raises ``TrainingError`` past the limit."""
        if bool(applied):
            return
        self.count += 1
        if self.count > self.limit:
            raise TrainingError(
                f"{self.count} updates had a non-finite loss or gradient (last loss "
                f"{float(loss.total)}, value loss {float(loss.value_loss)}); none reached the "
                "weights. Try a lower --lr or --max_grad_norm"
            )
