"""ActorCriticModel: shapes, the shared trunk, saving and loading."""

import numpy as np
import pytest
import tensorflow as tf

from models import ActorCriticModel
from utils.checkpoint import load_weights, save_weights
from utils.errors import CheckpointError, ConfigError


def test_call_returns_logits_and_a_flat_value():
    model = ActorCriticModel(num_actions=3, hidden_units=(16, 8))
    logits, value = model(tf.zeros((5, 4)))
    assert logits.shape == (5, 3) and logits.dtype == tf.float32
    assert value.shape == (5,) and value.dtype == tf.float32


def test_both_heads_share_the_trunk():
    model = ActorCriticModel(num_actions=2, hidden_units=(8,)).build_for(4)
    trunk = model.trunk[0].kernel
    with tf.GradientTape(persistent=True) as tape:
        logits, value = model(tf.ones((1, 4)))
        policy_output, value_output = tf.reduce_sum(logits), tf.reduce_sum(value)
    assert tape.gradient(policy_output, trunk) is not None
    assert tape.gradient(value_output, trunk) is not None
    # trunk kernel and bias, then one kernel and bias for each head
    assert len(model.trainable_variables) == 6


def test_a_separate_value_trunk_keeps_the_value_loss_off_the_policy():
    model = ActorCriticModel(
        num_actions=2, hidden_units=(8, 8), activation="tanh", separate_value_trunk=True
    ).build_for(4)
    policy_weights = [*model.trunk[0].weights, *model.trunk[1].weights]
    value_weights = [*model.value_trunk[0].weights, *model.value_trunk[1].weights]
    with tf.GradientTape(persistent=True) as tape:
        logits, value = model(tf.random.normal((3, 4), seed=0))
        policy_output, value_output = tf.reduce_sum(logits), tf.reduce_sum(value)
    assert all(g is None for g in tape.gradient(value_output, policy_weights))
    assert all(g is None for g in tape.gradient(policy_output, value_weights))
    assert all(g is not None for g in tape.gradient(value_output, value_weights))
    # two trunks of two layers (kernel and bias each), then the two heads
    assert len(model.trainable_variables) == 12
    hidden = model.trunk[1](model.trunk[0](tf.ones((1, 4))))
    assert float(tf.reduce_min(hidden)) >= -1.0 and float(tf.reduce_max(hidden)) <= 1.0


def test_a_saved_model_loads_only_into_the_same_activation_and_trunks(tmp_path):
    path = save_weights(
        ActorCriticModel(2, (8,), activation="tanh").build_for(4),
        tmp_path / "tanh.weights.h5",
        "CartPole-v1",
    )
    with pytest.raises(CheckpointError, match=r"\(activation tanh\) than .* \(activation relu\)"):
        load_weights(ActorCriticModel(2, (8,)).build_for(4), path, "CartPole-v1")
    separate = ActorCriticModel(2, (8,), activation="tanh", separate_value_trunk=True)
    with pytest.raises(CheckpointError, match="separate value trunk: True"):
        load_weights(separate.build_for(4), path, "CartPole-v1")


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="num_actions"):
        ActorCriticModel(num_actions=0)
    with pytest.raises(ValueError, match="hidden_units"):
        ActorCriticModel(num_actions=2, hidden_units=(0,))
    with pytest.raises(ValueError, match="activation must be one of"):
        ActorCriticModel(num_actions=2, activation="sigmoid")


def test_weights_round_trip_through_a_weights_h5_file(tmp_path):
    model = ActorCriticModel(2).build_for(4)
    path = save_weights(model, tmp_path / "model_CartPole-v1.weights.h5", "CartPole-v1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_CartPole-v1.weights.h5"]
    other = ActorCriticModel(2).build_for(4)
    load_weights(other, path, "CartPole-v1")
    for a, b in zip(model.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_loading_a_missing_or_mismatched_file_says_what_is_wrong(tmp_path):
    model = ActorCriticModel(2).build_for(4)
    with pytest.raises(CheckpointError, match="no saved model.*train with this"):
        load_weights(model, tmp_path / "none.weights.h5", "CartPole-v1", "train with this")
    path = save_weights(
        ActorCriticModel(3).build_for(6), tmp_path / "other.weights.h5", "Acrobot-v1"
    )
    with pytest.raises(CheckpointError, match="was trained on Acrobot-v1, not CartPole-v1"):
        load_weights(model, path, "CartPole-v1")
    path = save_weights(
        ActorCriticModel(2, (8,)).build_for(4), tmp_path / "small.weights.h5", "CartPole-v1"
    )
    with pytest.raises(CheckpointError, match="another architecture"):
        load_weights(model, path, "CartPole-v1")


def test_non_finite_weights_are_never_saved(tmp_path):
    model = ActorCriticModel(2).build_for(4)
    weights = model.get_weights()
    weights[0][0, 0] = np.nan
    model.set_weights(weights)
    with pytest.raises(CheckpointError, match="non-finite"):
        save_weights(model, tmp_path / "m.weights.h5", "CartPole-v1")
    assert not list(tmp_path.iterdir())


def test_the_config_offers_exactly_the_models_activations_without_importing_tensorflow():
    import subprocess
    import sys

    from config.hyperparameters import A2CConfig
    from models.actor_critic import ACTIVATIONS
    from tests.programs import ROOT, environment

    for activation in ACTIVATIONS:
        assert A2CConfig(activation=activation).activation == activation
    with pytest.raises(ConfigError, match=f"must be one of {', '.join(ACTIVATIONS)}$"):
        A2CConfig(activation="sigmoid")
    # The command line reads the config, and the entry points name their algorithms, before
    # TensorFlow loads (its start-up notices caught).
    probe = (
        "import sys, config, config.presets, utils.errors, a3c_cartpole, a2c_cartpole; "
        "print('tensorflow' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=environment(), capture_output=True, text=True
    )
    assert result.stdout.strip() == "False", result.stderr[-2000:]


def test_the_config_offers_exactly_the_models_image_encoders():
    from config.hyperparameters import A2CConfig
    from models.actor_critic import IMAGE_ENCODERS

    for encoder in IMAGE_ENCODERS:
        assert A2CConfig(image_encoder=encoder).image_encoder == encoder
    with pytest.raises(ConfigError, match=f"must be one of {', '.join(IMAGE_ENCODERS)}$"):
        A2CConfig(image_encoder="resnet")
