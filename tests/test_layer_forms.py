"""One network: acting (NumPy), export (Keras's own layers) and the model's size before it is built
are derived from the Keras model, block by block; a layer they do not know fails when the model is
built, naming it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from models import ActorCriticModel
from models.acting import CompiledPolicy, NumpyPolicy, acting_policy
from models.export import plain_model
from models.layer_forms import FORMS, model_size
from utils.model_spec import ModelSpec
from utils.spaces import ActionSpec, ObservationSpec

# Every kind of model: (constructor arguments, observation size or image shape).
KINDS = {
    "dense": (dict(num_actions=2, hidden_units=(8, 5)), 4),
    "separate value trunk, tanh": (
        dict(num_actions=3, hidden_units=(6,), activation="tanh", separate_value_trunk=True),
        4,
    ),
    "normalised": (dict(num_actions=2, hidden_units=(8,), normalize_observations=True), 3),
    "gaussian, normalised": (
        dict(num_actions=2, hidden_units=(8,), continuous=True, normalize_observations=True),
        3,
    ),
    "lstm": (dict(num_actions=2, hidden_units=(8,), recurrent_units=5), 3),
    "lstm, gaussian": (
        dict(num_actions=1, hidden_units=(8,), recurrent_units=4, continuous=True),
        3,
    ),
    "gsde, normalised, tanh": (
        dict(
            num_actions=2,
            hidden_units=(8, 6),
            continuous=True,
            use_sde=True,
            activation="tanh",
            normalize_observations=True,
        ),
        3,
    ),
    "lstm, gsde": (
        dict(num_actions=2, hidden_units=(8,), recurrent_units=4, continuous=True, use_sde=True),
        3,
    ),
    "convolutional": (dict(num_actions=3, hidden_units=(16,), image_shape=(4, 84, 84)), 0),
    "multi-discrete, flattened dict observations, tanh": (
        dict(
            spec=ModelSpec(
                action=ActionSpec("MultiDiscrete", (3, 2, 4)),
                observation=ObservationSpec("flattened", (7,), "Dict(...)"),
                hidden_units=(8, 6),
                activation="tanh",
            )
        ),
        7,
    ),
    "multi-binary, lstm, normalised": (
        dict(
            spec=ModelSpec(
                action=ActionSpec("MultiBinary", (5,)),
                observation=ObservationSpec("flattened", (4,), "Discrete(4)"),
                hidden_units=(8,),
                recurrent_units=3,
                normalize_observations=True,
            )
        ),
        4,
    ),
}


def trained_looking(model, seed=0):
    """``model`` with weights moved off their initial values and statistics of some data."""
    rng = np.random.default_rng(seed)
    for weight in model.trainable_variables:
        weight.assign(weight + rng.normal(0, 0.2, weight.shape).astype(np.float32))
    if model.normalizer is not None:
        model.update_statistics(rng.normal(3.0, 2.0, (100, model.normalizer.mean.shape[0])))
    return model


def observations(model, rng, batch=5):
    if model.image_shape:
        return rng.integers(0, 255, (batch, *model.image_shape)).astype(np.uint8)
    size = int(model.trunk[0].kernel.shape[0])
    return rng.normal(3.0, 4.0, (batch, size)).astype(np.float32)


@pytest.mark.parametrize("kind", KINDS)
def test_acting_and_export_compute_the_model_for_every_kind_of_model(kind):
    arguments, obs_dim = KINDS[kind]
    model = trained_looking(ActorCriticModel(**arguments).build_for(obs_dim))
    rng = np.random.default_rng(1)
    states = observations(model, rng)
    state = model.initial_state(len(states))
    if model.recurrent_units:  # a state that is not zero
        state = tuple(tf.constant(rng.normal(0, 0.5, part.shape), tf.float32) for part in state)
    params, value, next_state = model.step(states, state)

    policy = acting_policy(model)
    assert isinstance(policy, CompiledPolicy if model.image_shape else NumpyPolicy)
    acted, acted_state = policy(states.astype(np.float32), tuple(np.asarray(s) for s in state))
    np.testing.assert_allclose(acted, params, atol=1e-5)
    for part, expected in zip(acted_state, next_state, strict=True):
        np.testing.assert_allclose(part, expected, atol=1e-5)

    exported = plain_model(model)
    outputs = exported([states, *(np.asarray(part) for part in state)])
    np.testing.assert_allclose(outputs[0], params, atol=1e-5)
    np.testing.assert_allclose(outputs[1], value, atol=1e-5)
    for part, expected in zip(outputs[2:], next_state, strict=True):
        np.testing.assert_allclose(part, expected, atol=1e-5)
    if not model.image_shape:  # Keras's own layers only: nothing of this project
        assert all(type(layer).__module__.startswith("keras.") for layer in exported.layers)


@pytest.mark.parametrize("kind", KINDS)
def test_the_size_of_every_kind_of_model_is_known_before_it_is_built(kind):
    arguments, obs_dim = KINDS[kind]
    unbuilt = ActorCriticModel(**arguments)
    if unbuilt.spec.observation is None:  # a model from sizes: its observations' size
        unbuilt.build_for(obs_dim)
        unbuilt = ActorCriticModel(spec=unbuilt.spec)
    size = model_size(unbuilt)
    assert not unbuilt.built and not unbuilt.weights  # nothing allocated to count it
    built = ActorCriticModel(spec=unbuilt.spec).build_for()
    assert (
        size.parameters == built.count_params() == sum(int(np.prod(w.shape)) for w in built.weights)
    )
    assert size.activations > 0


def test_every_layer_kind_has_all_its_forms():
    for kind, form in FORMS.items():
        assert form.export is not None and form.size is not None, kind


class Deeper(ActorCriticModel):
    """As if a layer were added to the model one day: a third Dense in the trunk."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trunk = (*self.trunk, keras.layers.Dense(7, activation="tanh", name="trunk_extra"))


def test_a_dense_layer_added_to_a_block_acts_and_exports_with_no_further_code():
    model = trained_looking(Deeper(2, (8,), normalize_observations=True).build_for(3))
    assert model.trunk[-1].kernel.shape == (8, 7)
    states = observations(model, np.random.default_rng(2))
    params, value = model(states)
    policy = NumpyPolicy(model)
    assert any(variable is model.trunk[-1].kernel for variable in policy.variables)
    np.testing.assert_allclose(policy(states)[0], params, atol=1e-5)
    exported = plain_model(model)
    exported_params, exported_value = exported([states])
    np.testing.assert_allclose(exported_params, params, atol=1e-5)
    np.testing.assert_allclose(exported_value, value, atol=1e-5)


class WithWeight(ActorCriticModel):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra = self.add_weight(shape=(3,), initializer="ones", name="extra")


class WithStrayLayer(ActorCriticModel):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.squash = keras.layers.Activation("tanh", name="squash")  # used by no block

    def call(self, states, recurrent_state=None):
        params, value = super().call(states, recurrent_state)
        return self.squash(params), value


class WithUnknownKind(ActorCriticModel):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trunk = (*self.trunk, keras.layers.LayerNormalization(name="trunk_norm"))


class WithUnknownActivation(ActorCriticModel):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trunk = (*self.trunk, keras.layers.Dense(8, activation="elu", name="trunk_elu"))


@pytest.mark.parametrize(
    "model_class, message",
    [
        (WithWeight, r"weights outside its blocks' layers, \['with_weight/extra'\]"),
        (WithStrayLayer, r"layer 'squash' \(Activation\) of WithStrayLayer is in none of its"),
        (WithUnknownKind, r"layer 'trunk_norm' \(LayerNormalization\) has no NumPy or export"),
        (WithUnknownActivation, r"layer 'trunk_elu' \(Dense\) has activation 'elu'"),
    ],
)
def test_a_layer_acting_or_export_do_not_know_fails_when_the_model_is_built(model_class, message):
    with pytest.raises(ValueError, match=message):
        model_class(2, (8,)).build_for(4)
