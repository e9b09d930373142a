"""One gradient step of the loss, as A3C's workers and A2C take it: clipped gradients, applied
only when finite, and the count of those that were not."""

from __future__ import annotations

import keras
import tensorflow as tf

from agents.losses import LossInfo, compute_loss
from agents.memory import Rollout
from config.hyperparameters import ActorCriticConfig
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


def make_optimizer(config: ActorCriticConfig, model, steps_per_update: int):
    """The run's optimizer, built for ``model``'s trainable weights before any update (a Keras 3
    optimizer creates its slots lazily otherwise, which two A3C threads must not do at once).

    Adam (or RMSprop, ``config.optimizer``) with ``config.lr``: constant, or with
    ``lr_schedule="linear"`` decayed linearly to 0 over the step budget, as RL Zoo's
    ``lin_7e-4`` (counted in updates, the optimizer's ``iterations``, which a checkpoint keeps:
    a resumed run goes on along the same line).

    Args:
        steps_per_update: env steps one update stands for (t_max x envs of a rollout).
    """
    learning_rate = config.lr
    if config.lr_schedule == "linear":
        learning_rate = keras.optimizers.schedules.PolynomialDecay(
            config.lr,
            decay_steps=max(1, config.max_steps // steps_per_update),
            end_learning_rate=0.0,
        )
    if config.optimizer == "rmsprop":
        optimizer = keras.optimizers.RMSprop(learning_rate, rho=0.99, epsilon=1e-5)
    else:
        optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    return optimizer


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
