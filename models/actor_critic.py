"""The actor-critic network shared by A3C and A2C."""

from __future__ import annotations

import keras
import tensorflow as tf

from models.distributions import Categorical


@keras.saving.register_keras_serializable(package="a3c_keras")
class ActorCriticModel(keras.Model):
    """Policy and value function on one shared trunk.

    A stack of ReLU ``Dense`` layers (the trunk) feeds two linear heads: the policy head gives
    the parameters of the action distribution (``self.distribution``; for ``Categorical``, the
    unnormalised log-probabilities (logits) of pi(a|s)), the value head gives the state value
    V(s). Sharing the trunk follows Mnih et al. 2016 (arXiv:1602.01783, section 5.1:
    "a softmax output for the policy and a single linear output for the value function"); the
    2018 TensorFlow example used two separate trunks instead.

    Args:
        num_actions: size of the discrete action space (``env.action_space.n``), >= 1.
        hidden_units: width of each trunk layer, all >= 1.

    Call:
        ``model(states)`` with float32 ``states`` of shape ``(batch, obs_dim)`` returns
        ``(logits, value)``: float32 ``(batch, num_actions)`` and float32 ``(batch,)``.

    Saving: ``save_weights`` to a ``.weights.h5`` file, or the whole model to a ``.keras`` file
    that ``keras.saving.load_model`` reads back wherever this module has been imported.

    Raises:
        ValueError: if ``num_actions`` or a width in ``hidden_units`` is < 1.
    """

    def __init__(self, num_actions: int, hidden_units: tuple[int, ...] = (128,), **kwargs):
        super().__init__(**kwargs)
        if num_actions < 1:
            raise ValueError(f"num_actions must be >= 1, got {num_actions}")
        if not hidden_units or any(units < 1 for units in hidden_units):
            raise ValueError(f"hidden_units must be one or more widths >= 1, got {hidden_units}")
        self.num_actions = int(num_actions)
        self.hidden_units = tuple(int(units) for units in hidden_units)
        self.trunk = [
            keras.layers.Dense(units, activation="relu", name=f"trunk_{i}")
            for i, units in enumerate(self.hidden_units)
        ]
        self.distribution = Categorical(self.num_actions)
        self.policy_head = keras.layers.Dense(self.distribution.params_size, name="policy_logits")
        self.value_head = keras.layers.Dense(1, name="value")

    def call(self, states):
        hidden = states
        for layer in self.trunk:
            hidden = layer(hidden)
        logits = self.policy_head(hidden)
        value = tf.squeeze(self.value_head(hidden), axis=-1)
        return logits, value

    def build_for(self, obs_dim: int) -> ActorCriticModel:
        """Creates the weights for observations of ``obs_dim`` floats; returns ``self``.

        Keras 3 subclassed models have no weights until first called; saving, loading and
        ``set_weights`` all need them.
        """
        self(tf.zeros((1, obs_dim), tf.float32))
        return self

    def get_config(self):
        return {
            **super().get_config(),
            "num_actions": self.num_actions,
            "hidden_units": list(self.hidden_units),
        }
