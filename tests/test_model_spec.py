"""The model specification (utils/model_spec.py): every architecture setting held once, and read
by the model, the config, the weights file, the .keras export and the Python API; files record
the spaces, so a model is refused, in one line, for an env of other spaces."""

import dataclasses
import json

import gymnasium as gym
import h5py
import numpy as np
import pytest

from a3c_keras.agent import FIXED_ON_RESUME, architecture_settings
from config.hyperparameters import MODEL_SETTINGS, A2CConfig, A3CConfig
from models import ActorCriticModel, build_model
from models.export import plain_model
from utils.checkpoint import (
    METADATA_KEY,
    describe,
    export_model,
    load_model_file,
    load_weights,
    save_weights,
)
from utils.envs import env_dims
from utils.errors import CheckpointError
from utils.model_spec import ModelSpec
from utils.spaces import ActionSpec, ObservationSpec

GOALS = gym.spaces.Dict({"goal": gym.spaces.Discrete(2), "position": gym.spaces.Discrete(6)})
CELLS = gym.spaces.Discrete(8)  # as many numbers as GOALS, flattened


def test_every_architecture_setting_is_a_field_the_config_and_files_read():
    names = ModelSpec.setting_names()
    assert names == MODEL_SETTINGS and set(names) <= set(FIXED_ON_RESUME)
    config_fields = {field.name for field in dataclasses.fields(A2CConfig)}
    assert set(ModelSpec.setting_names(recorded_only=False)) <= config_fields
    # A config's settings, through the spec, come back as the same settings.
    for config in (A2CConfig(), A3CConfig(recurrent=True, lstm_units=16, hidden_units=(8, 4))):
        spec = config.model_spec(env_dims(GOALS, gym.spaces.MultiDiscrete([3, 2])))
        assert spec.recurrent_units == (16 if config.recurrent else 0)
        settings = spec.settings()
        assert {name: getattr(config, name) for name in settings} == settings
        assert set(settings) <= set(MODEL_SETTINGS)
    # Settings that only start the weights are neither recorded nor fixed on resume.
    assert "log_std_init" not in MODEL_SETTINGS and "weight_init" not in ModelSpec.setting_names()
    assert "log_std_init" in ModelSpec.setting_names(recorded_only=False)


def test_a_record_round_trips_and_an_old_one_reads_as_it_was_meant():
    spec = A2CConfig(activation="tanh", use_sde=False).model_spec(
        env_dims(GOALS, gym.spaces.MultiBinary(3))
    )
    record = json.loads(json.dumps(spec.record()))
    assert ModelSpec.from_record(record) == dataclasses.replace(spec, log_std_init=0.0)
    assert record["action"] == ["MultiBinary", [3]]
    assert record["observation"] == ["flattened", [8], "Dict('goal': Discrete(2), " +
                                     "'position': Discrete(6))"]  # fmt: skip
    # A file from before the spec recorded actions, observations, or the later settings.
    old = {"hidden_units": [64], "num_actions": 3, "continuous": True}
    read = ModelSpec.from_record(old)
    assert read.action == ActionSpec("Box", (3,)) and read.observation is None
    assert (read.activation, read.recurrent_units, read.use_sde) == ("relu", 0, False)
    assert architecture_settings(old) == {
        "hidden_units": (64,),
        "activation": "relu",
        "separate_value_trunk": False,
        "recurrent": False,
        "normalize_observations": False,
        "use_sde": False,
        "image_encoder": "a3c",  # the one image encoder before it was a setting
    }
    assert architecture_settings({}) == {} and architecture_settings({"junk": 1}) == {}


def test_the_model_is_built_from_the_spec_and_keras_configs_carry_it():
    spec = ModelSpec(
        action=ActionSpec("MultiDiscrete", (3, 4)),
        observation=ObservationSpec("flattened", (8,), "Dict(...)"),
        hidden_units=(8,),
        log_std_init=-1.0,
        weight_init="orthogonal",
    )
    model = ActorCriticModel(spec=spec).build_for()
    assert model.spec == spec and model.hidden_units == (8,) and model.weight_init == "orthogonal"
    assert model.distribution.params_size == 7 and model.distribution.action_shape == (2,)
    again = ActorCriticModel.from_config(model.get_config())
    assert again.spec == spec
    # The sizes-only constructor is the same model.
    legacy = ActorCriticModel(2, (8,), continuous=True).build_for(5)
    assert legacy.spec.action == ActionSpec("Box", (2,))
    assert legacy.spec.observation == ObservationSpec("flat", (5,))
    with pytest.raises(TypeError, match="a spec or the settings"):
        ActorCriticModel(2, spec=spec)


def model_for(observation_space, action_space, **settings):
    return build_model(env_dims(observation_space, action_space), (8,), **settings)


def test_a_weights_file_records_the_spaces_and_is_refused_for_others(tmp_path):
    model = model_for(GOALS, gym.spaces.MultiDiscrete([3, 3]))
    path = save_weights(model, tmp_path / "goals.weights.h5", "Mine-v0")
    with h5py.File(path) as handle:
        record = json.loads(handle.attrs[METADATA_KEY])
    assert record == json.loads(json.dumps(describe(model, "Mine-v0")))
    assert record["action"] == ["MultiDiscrete", [3, 3]]
    load_weights(model_for(GOALS, gym.spaces.MultiDiscrete([3, 3])), path, "Mine-v0")
    # Same sizes, other spaces: the observation space tells them apart.
    with pytest.raises(CheckpointError) as error:
        load_weights(model_for(CELLS, gym.spaces.MultiDiscrete([3, 3])), path, "Mine-v0")
    message = str(error.value)
    assert "\n" not in message and "is for another env's spaces (observations Dict(" in message
    assert "than Mine-v0's (observations Discrete(8))" in message
    with pytest.raises(CheckpointError, match=r"\(actions MultiDiscrete\(\[3, 3\]\)\) than"):
        load_weights(model_for(GOALS, gym.spaces.MultiBinary(6)), path, "Mine-v0")
    # A model made from sizes alone knows no observation space: the sizes are compared.
    plain = ActorCriticModel(spec=dataclasses.replace(model.spec, observation=None)).build_for(8)
    load_weights(plain, path, "Mine-v0")


def test_a_keras_export_records_the_spaces_and_is_refused_for_others(tmp_path):
    model = model_for(GOALS, gym.spaces.Discrete(3))
    path = export_model(plain_model(model), tmp_path / "goals.keras", describe(model, "Mine-v0"))
    size = model.distribution.params_size
    loaded = load_model_file(path, (8,), size, "Mine-v0", spec=model.spec)
    observations = np.eye(8, dtype=np.float32)[:3]
    np.testing.assert_allclose(loaded([observations])[0], model(observations)[0], atol=1e-6)
    other = model_for(CELLS, gym.spaces.Discrete(3))
    with pytest.raises(CheckpointError, match="is for another env's spaces"):
        load_model_file(path, (8,), size, "Mine-v0", spec=other.spec)


def test_a_weights_file_from_before_the_spaces_were_recorded_still_loads(tmp_path):
    model = build_model(env_dims(gym.spaces.Box(-1, 1, (4,)), gym.spaces.Discrete(2)), (8,))
    path = save_weights(model, tmp_path / "old.weights.h5", "CartPole-v1")
    with h5py.File(path, "a") as handle:  # as main wrote it: actions as num_actions, continuous
        record = json.loads(handle.attrs[METADATA_KEY])
        del record["action"], record["observation"], record["activation"]
        record.update(num_actions=2, continuous=False)
        handle.attrs[METADATA_KEY] = json.dumps(record)
    fresh = build_model(env_dims(gym.spaces.Box(-1, 1, (4,)), gym.spaces.Discrete(2)), (8,))
    load_weights(fresh, path, "CartPole-v1")
    for a, b in zip(model.get_weights(), fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(CheckpointError, match=r"another env's spaces \(actions Box\(shape"):
        record.update(continuous=True)
        with h5py.File(path, "a") as handle:
            handle.attrs[METADATA_KEY] = json.dumps(record)
        load_weights(fresh, path, "CartPole-v1")
