"""A trained ``ActorCriticModel`` as a model of Keras's own layers, for ``.keras`` files that load
anywhere: ``keras.saving.load_model(path)`` needs neither this project nor any custom object.

The plain model computes the same function: observation normalisation (``Normalization`` with
the running statistics, then a clip to +-10 made of ``Rescaling`` and ``ReLU``), or for images
the scaling and convolutional layers (uint8 ``(batch, C, H, W)`` in), the trunk, the
policy head, the value trunk (if the model has its own) and the value head, with the trained
weights copied in. For a Gaussian policy the learned log standard deviation is the bias of a
``Dense`` layer whose kernel is zero, so it is broadcast beside the mean exactly as the model
does.

Call: float32 ``(batch, obs_dim)`` raw observations -> ``[params, value]``: ``params`` float32
``(batch, P)`` (logits, or mean then log sigma) and ``value`` float32 ``(batch,)``. A model with
an LSTM core takes ``[observations, h, c]`` and returns ``[params, value, h, c]``, the state
float32 ``(batch, units)``: zeros at an episode's start, then what the last step returned.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from models.actor_critic import ActorCriticModel


def dense_like(layer: keras.layers.Dense, name: str, activation=None) -> keras.layers.Dense:
    """A new ``Dense`` layer of ``layer``'s size (its weights are set once it is built)."""
    return keras.layers.Dense(layer.units, activation=activation, name=name)


def plain_model(model: ActorCriticModel) -> keras.Model:
    """A functional ``keras.Model`` of built-in layers computing what ``model`` computes, with
    its weights (a copy: later training of ``model`` does not change it)."""
    copies = []  # (new layer, weights to set once built)
    if model.image_shape:
        observations = keras.Input(model.image_shape, dtype="uint8", name="observations")
    else:
        obs_dim = int(model.trunk[0].kernel.shape[0])
        observations = keras.Input((obs_dim,), name="observations")
    hidden = observations
    for layer in model.convolutions:  # the same layers, new instances, the same weights
        new = layer.__class__.from_config(layer.get_config())
        hidden = new(hidden)
        copies.append((new, layer.get_weights()))
    normalizer = model.normalizer
    if normalizer is not None:
        clip = normalizer.clip
        # Keras divides by sqrt(variance); the model by sqrt(variance + epsilon).
        variance = normalizer.variance.numpy() + normalizer.epsilon
        hidden = keras.layers.Normalization(
            mean=normalizer.mean.numpy(), variance=variance, name="observation_normalization"
        )(hidden)
        hidden = keras.layers.Rescaling(1.0, offset=clip, name="clip_shift")(hidden)
        hidden = keras.layers.ReLU(max_value=2 * clip, name="clip")(hidden)
        hidden = keras.layers.Rescaling(1.0, offset=-clip, name="clip_unshift")(hidden)
    inputs = hidden

    def stack(layers: list, name: str, hidden):
        for i, layer in enumerate(layers):
            new = dense_like(layer, f"{name}_{i}", activation=model.activation)
            hidden = new(hidden)
            copies.append((new, layer.get_weights()))
        return hidden

    hidden = stack(model.trunk, "trunk", inputs)
    model_inputs, state_outputs = [observations], []
    if model.core is not None:
        units = model.recurrent_units
        state_inputs = [keras.Input((units,), name=name) for name in ("lstm_h", "lstm_c")]
        core = keras.layers.LSTMCell(units, name="lstm")
        hidden, state_outputs = core(hidden, state_inputs)
        copies.append((core, model.core.get_weights()))
        model_inputs += state_inputs
        state_outputs = [
            keras.layers.Identity(name=f"next_lstm_{name}")(tensor)
            for name, tensor in zip("hc", state_outputs, strict=True)
        ]
    policy = dense_like(model.policy_head, model.policy_head.name)
    params = policy(hidden)
    copies.append((policy, model.policy_head.get_weights()))
    if model.continuous:
        log_std = keras.layers.Dense(model.num_actions, name="log_std")
        kernel = np.zeros((hidden.shape[-1], model.num_actions), np.float32)
        copies.append((log_std, [kernel, model.log_std.numpy()]))
        params = keras.layers.Concatenate(name="policy_params")([params, log_std(hidden)])
    if model.value_trunk:
        hidden = stack(model.value_trunk, "value_trunk", inputs)
    value_head = dense_like(model.value_head, "value")
    value = keras.layers.Reshape((), name="state_value")(value_head(hidden))
    copies.append((value_head, model.value_head.get_weights()))
    plain = keras.Model(model_inputs, [params, value, *state_outputs], name="actor_critic")
    for layer, weights in copies:
        layer.set_weights(weights)
    return plain


class LoadedPolicy:
    """A model loaded from a ``.keras`` file, with the action distribution of the env it acts
    in: what greedy evaluation and play call (``initial_state``, ``step`` and
    ``distribution``, as ``ActorCriticModel`` has them).

    Args:
        model: ``plain_model``'s: float32 ``(batch, obs_dim)`` observations -> ``[params,
            value]``; with an LSTM core, ``[observations, h, c]`` -> ``[params, value, h, c]``.
        distribution: ``Categorical`` or ``DiagonalGaussian`` of the env's actions.
    """

    def __init__(self, model: keras.Model, distribution):
        self.model = model
        self.distribution = distribution
        self.recurrent_units = int(model.inputs[1].shape[-1]) if len(model.inputs) > 1 else 0

    def initial_state(self, batch_size) -> tuple:
        """Zeros ``(h, c)`` of ``(batch_size, units)`` for a recurrent model, else ``()``."""
        if not self.recurrent_units:
            return ()
        zeros = tf.zeros([batch_size, self.recurrent_units], tf.float32)
        return (zeros, zeros)

    def step(self, states, recurrent_state=()):
        """``(params, value, next_recurrent_state)`` of one step, as ``ActorCriticModel.step``."""
        if not self.recurrent_units:
            params, value = self.model([states])
            return params, value, ()
        states = tf.convert_to_tensor(states, tf.float32)
        params, value, h, c = self.model([states, *recurrent_state])
        return params, value, (h, c)
