"""How a model starts and how its optimizer steps: orthogonal initialisation with a gain per
block (OpenAI Baselines' and Stable-Baselines3's ``ortho_init``), and RMSprop in TensorFlow 1's
form (mean square from 1), each against its formula."""

import gymnasium as gym
import keras
import numpy as np
import pytest

from agents.optimizers import (
    RMSPROP_DECAY,
    RMSPROP_EPSILON,
    TF1RMSprop,
    TorchRMSprop,
    make_optimizer,
)
from config.hyperparameters import A2CConfig
from models import build_model
from models.actor_critic import ORTHOGONAL_GAINS, WEIGHT_INITS, ActorCriticModel
from utils.envs import env_dims
from utils.errors import ConfigError

PIXELS = env_dims(gym.spaces.Box(0, 255, (4, 84, 84), np.uint8), gym.spaces.Discrete(6))
FLAT = env_dims(gym.spaces.Box(-1, 1, (5,), np.float32), gym.spaces.Discrete(3))
BOX = env_dims(gym.spaces.Box(-1, 1, (5,), np.float32), gym.spaces.Box(-1, 1, (2,), np.float32))


def kernels_by_block(model: ActorCriticModel) -> dict[str, list]:
    """Each kernel of the model's blocks, under the name of its ``ORTHOGONAL_GAINS`` block."""
    layers = {
        "trunk": [*model.encoder, *model.trunk, *model.value_trunk],
        "policy": [getattr(model.policy_head, "mean", model.policy_head)],
        "value": [model.value_head],
    }
    return {
        block: [layer.kernel for layer in group if hasattr(layer, "kernel")]
        for block, group in layers.items()
    }


def gram(kernel) -> np.ndarray:
    """K'K (or KK' when K has fewer rows) of a kernel flattened to (fan_in, units): gain^2 I
    for an orthogonal kernel scaled by gain."""
    k = np.asarray(kernel, np.float64).reshape(-1, kernel.shape[-1])
    return k.T @ k if k.shape[0] >= k.shape[1] else k @ k.T


@pytest.mark.parametrize(
    "dims, options",
    [
        (PIXELS, dict(hidden_units=(256,))),  # the A3C paper's convolutions, then 256 units
        (FLAT, dict(hidden_units=(16, 8), separate_value_trunk=True)),  # both dense trunks
        (BOX, dict(hidden_units=(16,))),  # the Gaussian head's mean
    ],
    ids=["convolutional", "two dense trunks", "gaussian"],
)
def test_orthogonal_initialisation_gives_each_layer_its_blocks_gain(dims, options):
    keras.utils.set_random_seed(3)
    model = build_model(dims, weight_init="orthogonal", **options)
    blocks = kernels_by_block(model)
    expected_trunk_layers = 3 if dims is PIXELS else 4 if dims is FLAT else 1
    assert len(blocks["trunk"]) == expected_trunk_layers
    for block, kernels in blocks.items():
        gain = ORTHOGONAL_GAINS[block]
        for kernel in kernels:
            product = gram(kernel)
            np.testing.assert_allclose(product, gain**2 * np.eye(len(product)), atol=1e-5 * gain)
    assert ORTHOGONAL_GAINS == {"trunk": 2**0.5, "policy": 0.01, "value": 1.0}
    assert all(not np.any(bias) for bias in model.trainable_variables if bias.ndim == 1)
    # Each layer draws its kernel from a seed of its own (one initialiser shared by two layers
    # would draw both from one).
    layers = [*model.encoder, *model.trunk, *model.value_trunk, model.value_head]
    seeds = [layer.kernel_initializer.seed for layer in layers if hasattr(layer, "kernel")]
    assert len(set(seeds)) == len(seeds) == expected_trunk_layers + 1
    # Seeded: the same seed gives the same weights.
    keras.utils.set_random_seed(3)
    again = build_model(dims, weight_init="orthogonal", **options)
    for first, second in zip(model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(first, second)


def test_glorot_initialisation_stays_keras_default_and_is_not_orthogonal():
    keras.utils.set_random_seed(3)
    model = build_model(PIXELS, (256,))
    assert model.weight_init == "glorot" and A2CConfig().weight_init == "glorot"
    for kernels in kernels_by_block(model).values():
        for kernel in kernels:
            receptive_field = int(np.prod(kernel.shape[:-2]))  # 1 for a dense kernel
            fan_in = receptive_field * kernel.shape[-2]
            fan_out = receptive_field * kernel.shape[-1]
            limit = np.sqrt(6 / (fan_in + fan_out))  # Glorot-uniform's bound
            values = np.asarray(kernel)
            assert np.abs(values).max() <= limit
            product = gram(kernel)
            if len(product) > 1:  # a one-unit kernel (the value head) is trivially so
                assert not np.allclose(product, product[0, 0] * np.eye(len(product)), atol=1e-3)


def test_the_config_offers_exactly_the_models_initialisations():
    for weight_init in WEIGHT_INITS:
        assert A2CConfig(weight_init=weight_init).model_options()["weight_init"] == weight_init
    with pytest.raises(ConfigError, match="--weight_init=he: must be one of glorot, orthogonal$"):
        A2CConfig(weight_init="he")
    with pytest.raises(ValueError, match="weight_init must be one of"):
        ActorCriticModel(2, weight_init="he")


def test_tf1_rmsprop_steps_by_its_formula_with_the_mean_square_starting_at_one():
    lr = 0.01
    weight = keras.Variable(np.array([1.0, -2.0, 0.5], np.float32))
    gradients = [np.array([0.3, -1.0, 0.0], np.float32), np.array([-0.2, 2.0, 1e-3], np.float32)]
    optimizer = TF1RMSprop(lr)
    optimizer.build([weight])
    expected_w, mean_square = weight.numpy().astype(np.float64), np.ones(3)
    np.testing.assert_array_equal(optimizer.variables[-1].numpy(), mean_square)
    for g in gradients:
        optimizer.apply_gradients([(g, weight)])
        mean_square = RMSPROP_DECAY * mean_square + (1 - RMSPROP_DECAY) * g.astype(np.float64) ** 2
        expected_w -= lr * g / np.sqrt(mean_square + RMSPROP_EPSILON)
        np.testing.assert_allclose(weight.numpy(), expected_w, rtol=1e-6)
    # Keras's RMSprop ("rmsprop") starts the mean square at 0: its first step is about
    # 10 lr sign(g), where TensorFlow 1's is about lr g.
    keras_weight = keras.Variable(np.array([1.0, -2.0, 0.5], np.float32))
    keras_rmsprop = keras.optimizers.RMSprop(lr, rho=RMSPROP_DECAY, epsilon=RMSPROP_EPSILON)
    keras_rmsprop.apply_gradients([(gradients[0], keras_weight)])
    step = np.array([1.0, -2.0, 0.5]) - keras_weight.numpy()
    g = gradients[0].astype(np.float64)
    np.testing.assert_allclose(step, lr * g / np.sqrt(0.01 * g**2 + RMSPROP_EPSILON), rtol=1e-5)


def test_torch_rmsprop_adds_epsilon_outside_the_square_root():
    lr = 0.01
    weight = keras.Variable(np.array([1.0, -2.0, 0.5], np.float32))
    gradients = [np.array([0.3, -1.0, 1e-4], np.float32), np.array([-0.2, 2.0, 1e-4], np.float32)]
    optimizer = TorchRMSprop(lr)
    optimizer.build([weight])
    expected_w, mean_square = weight.numpy().astype(np.float64), np.zeros(3)
    for g in gradients:
        optimizer.apply_gradients([(g, weight)])
        mean_square = RMSPROP_DECAY * mean_square + (1 - RMSPROP_DECAY) * g.astype(np.float64) ** 2
        expected_w -= lr * g / (np.sqrt(mean_square) + RMSPROP_EPSILON)
        np.testing.assert_allclose(weight.numpy(), expected_w, rtol=1e-5)
    # A small gradient (1e-4) steps about 5 lr here: epsilon inside the root (Keras's form)
    # would damp it about 30 times.
    assert 0.5 - weight.numpy()[2] > 5 * lr


@pytest.mark.parametrize(
    "name, kind, start",
    [
        ("rmsprop_tf1", TF1RMSprop, 1.0),
        ("rmsprop", keras.optimizers.RMSprop, 0.0),
        ("rmsprop_torch", TorchRMSprop, 0.0),
    ],
)
def test_make_optimizer_builds_the_named_rmsprop_with_its_constants(name, kind, start):
    model = build_model(FLAT, (4,))
    optimizer = make_optimizer(A2CConfig(optimizer=name, lr=7e-4), model, steps_per_update=80)
    assert type(optimizer) is kind
    assert optimizer.rho == RMSPROP_DECAY and optimizer.epsilon == RMSPROP_EPSILON
    velocities = optimizer._velocities
    assert len(velocities) == len(model.trainable_variables)
    assert all(np.all(np.asarray(v) == start) for v in velocities)
