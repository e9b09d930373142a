"""The run's optimizer: Adam, Keras's RMSprop, or RMSprop as TensorFlow 1 or PyTorch has it.

The A3C paper trains with RMSProp (Mnih et al. 2016, section 4, "Optimization": decay 0.99,
statistics shared by the threads, which here is one optimizer on the global model). Its Atari
results, OpenAI Baselines' A2C and Stable-Baselines3's ``RMSpropTFLike`` (RL Zoo's Atari
settings) were obtained with TensorFlow 1's ``RMSPropOptimizer``, which differs from Keras 3's
``RMSprop`` in one thing: its mean square starts at 1, not 0. Stable-Baselines3's A2C by default
(RL Zoo's settings for every env but Atari) uses PyTorch's ``RMSprop``, whose epsilon is added
outside the square root.
"""

from __future__ import annotations

import keras

from config.hyperparameters import ActorCriticConfig

# RMSprop's constants in both forms: decay and epsilon as the A3C paper's and RL Zoo's Atari
# settings have them (Keras's defaults are 0.9 and 1e-7).
RMSPROP_DECAY = 0.99
RMSPROP_EPSILON = 1e-5


class TF1RMSprop(keras.optimizers.RMSprop):
    """RMSProp in TensorFlow 1's form (``tf.compat.v1.train.RMSPropOptimizer``; SB3's
    ``RMSpropTFLike``, SB3 PR #110): for each weight w with gradient g, mean square v::

        v <- rho * v + (1 - rho) * g^2
        w <- w - lr * g / sqrt(v + epsilon)

    with v starting at **1** (Keras 3's ``RMSprop``, whose step is the same, starts it at 0, so
    its first steps are about ``lr * sign(g) / sqrt(1 - rho)``: ten times ``lr`` at rho 0.99).
    The mean squares are the optimizer's ``velocity`` variables, which a checkpoint keeps.

    Args:
        learning_rate: a float or a Keras learning-rate schedule.
        rho: the decay of the mean square.
        epsilon: added to the mean square inside the square root.
    """

    def __init__(self, learning_rate=1e-3, rho=RMSPROP_DECAY, epsilon=RMSPROP_EPSILON, **kwargs):
        super().__init__(learning_rate, rho=rho, epsilon=epsilon, **kwargs)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        for velocity in self._velocities:
            if velocity is not None:  # None for a variable the optimizer overwrites instead
                velocity.assign(keras.ops.ones_like(velocity))


class TorchRMSprop(keras.optimizers.RMSprop):
    """RMSProp in PyTorch's form (``torch.optim.RMSprop``, which SB3's A2C uses with alpha 0.99
    and eps 1e-5): for each weight w with gradient g, mean square v (starting at 0)::

        v <- rho * v + (1 - rho) * g^2
        w <- w - lr * g / (sqrt(v) + epsilon)

    Keras's ``RMSprop`` divides by ``sqrt(v + epsilon)`` instead: with epsilon 1e-5, a weight
    whose gradients are about 1e-4 then steps 30 times less than here.

    Args:
        learning_rate: a float or a Keras learning-rate schedule.
        rho: the decay of the mean square.
        epsilon: added to the root mean square.
    """

    def __init__(self, learning_rate=1e-3, rho=RMSPROP_DECAY, epsilon=RMSPROP_EPSILON, **kwargs):
        if kwargs.get("momentum") or kwargs.get("centered"):
            raise ValueError("TorchRMSprop has neither momentum nor a centered form")
        super().__init__(learning_rate, rho=rho, epsilon=epsilon, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        ops = keras.ops
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        velocity = self._velocities[self._get_variable_index(variable)]
        self.assign(velocity, self.rho * velocity + (1 - self.rho) * ops.square(gradient))
        self.assign_sub(variable, lr * gradient / (ops.sqrt(velocity) + self.epsilon))


def make_optimizer(config: ActorCriticConfig, model, steps_per_update: int):
    """The run's optimizer, built for ``model``'s trainable weights before any update (a Keras 3
    optimizer creates its slots lazily otherwise, which two A3C threads must not do at once).

    ``config.optimizer``: "adam" (Keras's Adam), "rmsprop" (Keras's RMSprop, mean square from
    0), "rmsprop_tf1" (``TF1RMSprop``, mean square from 1) or "rmsprop_torch"
    (``TorchRMSprop``, epsilon outside the square root), the RMSprops with decay 0.99 and
    epsilon 1e-5. The learning rate is ``config.lr``: constant, or with
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
    if config.optimizer == "rmsprop_tf1":
        optimizer = TF1RMSprop(learning_rate)
    elif config.optimizer == "rmsprop_torch":
        optimizer = TorchRMSprop(learning_rate)
    elif config.optimizer == "rmsprop":
        optimizer = keras.optimizers.RMSprop(
            learning_rate, rho=RMSPROP_DECAY, epsilon=RMSPROP_EPSILON
        )
    else:
        optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    return optimizer
