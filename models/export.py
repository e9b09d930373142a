"""A trained ``ActorCriticModel`` as a model of Keras's own layers, for ``.keras`` files that load
anywhere: ``keras.saving.load_model(path)`` needs neither this project nor any custom object.

The plain model is derived from the trained one, block by block (encoder, trunk, core, heads,
value trunk), each layer through its export form in ``models/layer_forms.py``: a built-in
Keras layer as a new one of the same class and config, the project's own layers as built-in
equivalents (observation normalisation as ``Normalization`` and a clip; the Gaussian head's
state-independent log sigmas as the bias of a zero-kernel ``Dense``). The trained weights are
copied in, so later training does not change it.

Call: float32 ``(batch, obs_dim)`` raw observations (uint8 ``(batch, C, H, W)`` frames for an
image model; for an env whose observations gymnasium flattens, a Discrete's or a Dict's, the
flattened ones: ``gymnasium.spaces.utils.flatten(space, observation)``, as float32) ->
``[params, value]``: ``params`` float32 ``(batch, P)`` (logits; or the mean
then log sigma; with gSDE the mean then the noise scales) and ``value`` float32 ``(batch,)``.
A model with an LSTM core takes ``[observations, h, c]`` and returns ``[params, value, h,
c]``, the state float32 ``(batch, units)``: zeros at an episode's start, then what the last
step returned.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from models.layer_forms import check_layers, form_of


def plain_model(model) -> keras.Model:
    """A functional ``keras.Model`` of built-in layers computing what ``model`` (a built
    ``ActorCriticModel``) computes, with a copy of its weights.

    Raises:
        ValueError: naming the layer, if ``model`` fails ``models.layer_forms.check_layers``.
    """
    check_layers(model)
    copies = []  # (new layer, the weights to give it once built)

    def exported(layer):
        apply, layer_copies = form_of(layer).export(layer)
        copies.extend(layer_copies)
        return apply

    def run(layers, hidden):
        for layer in layers:
            hidden = exported(layer)(hidden)
        return hidden

    if model.image_shape:
        observations = keras.Input(model.image_shape, dtype="uint8", name="observations")
    else:
        observations = keras.Input(model.spec.observation.shape, name="observations")
    features = run(model.encoder, observations)
    hidden = run(model.trunk, features)
    inputs, state_outputs = [observations], []
    if model.core is not None:
        units = model.recurrent_units
        state_inputs = [keras.Input((units,), name=name) for name in ("lstm_h", "lstm_c")]
        hidden, state_outputs = exported(model.core)(hidden, state_inputs)
        inputs += state_inputs
        state_outputs = [
            keras.layers.Identity(name=f"next_lstm_{name}")(tensor)
            for name, tensor in zip("hc", state_outputs, strict=True)
        ]
    params = exported(model.policy_head)(hidden)
    if model.value_trunk:
        hidden = run(model.value_trunk, features)
    value = keras.layers.Reshape((), name="state_value")(exported(model.value_head)(hidden))
    plain = keras.Model(inputs, [params, value, *state_outputs], name="actor_critic")
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
        distribution: the ``models.distributions.Distribution`` of the env's actions (the one
            the exported model was trained with).
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
