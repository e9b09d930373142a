"""An exported .keras model loads with Keras alone (no project on the path) and computes what the
trained model computes, for a categorical and a Gaussian policy with normalised observations, a
ReLU shared trunk and a tanh one with a separate value trunk."""

import json
import subprocess
import sys

import numpy as np
import pytest

from models import build_model
from models.export import plain_model
from tests.programs import environment, run
from utils.checkpoint import export_model, model_path, save_weights
from utils.envs import Dims

# Run by a Python in isolated mode (-I: no PYTHONPATH, no current directory on the path) from
# outside the project: only the installed packages, keras and tensorflow among them, are there.
CLEAN_LOAD = """
import importlib.util, json, sys
import numpy as np
assert importlib.util.find_spec("models") is None, "the project is importable"
import keras
model = keras.saving.load_model(sys.argv[1])
observations = np.array(json.loads(sys.argv[2]), np.float32)
params, value = model(observations)
print(json.dumps({"params": np.asarray(params).tolist(), "value": np.asarray(value).tolist()}))
"""


def load_in_a_clean_python(path, observations, cwd):
    result = subprocess.run(
        [sys.executable, "-I", "-c", CLEAN_LOAD, str(path), json.dumps(observations.tolist())],
        cwd=cwd,
        env={k: v for k, v in environment().items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    outputs = json.loads(result.stdout.strip().splitlines()[-1])
    return np.array(outputs["params"]), np.array(outputs["value"])


@pytest.mark.slow
def test_a_cartpole_export_from_the_command_line_loads_without_the_project(tmp_path):
    model = build_model(Dims(4, 2, False), (16, 8))
    save_weights(model, model_path(tmp_path, "CartPole-v1"), "CartPole-v1")
    exported = tmp_path / "cartpole.keras"
    result = run(f"--save_dir={tmp_path}", "--hidden_units=16,8", f"--export={exported}")
    assert result.returncode == 0, result.stderr[-2000:]
    observations = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    params, value = load_in_a_clean_python(exported, observations, tmp_path)
    expected_params, expected_value = model(observations)
    np.testing.assert_allclose(params, expected_params, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(value, expected_value, rtol=1e-5, atol=1e-6)
    played = run(f"--model={exported}", "--episodes=1", f"--save_dir={tmp_path}/none")
    assert played.returncode == 0 and "episode 1 finished" in played.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    "continuous, activation, separate_value_trunk",
    [(False, "relu", False), (True, "relu", False), (False, "tanh", True), (True, "tanh", True)],
)
def test_the_plain_model_equals_the_trained_one_with_its_statistics(
    tmp_path, continuous, activation, separate_value_trunk
):
    dims = Dims(3, 2, continuous)
    model = build_model(
        dims,
        (8, 5),
        log_std_init=-0.7,
        normalize_observations=True,
        activation=activation,
        separate_value_trunk=separate_value_trunk,
    )
    rng = np.random.default_rng(1)
    model.update_statistics(rng.normal(4.0, 3.0, (200, 3)).astype(np.float32))
    for weight in model.trainable_variables:  # not the initial weights
        weight.assign(weight + rng.normal(0, 0.1, weight.shape).astype(np.float32))
    # Raw observations, some far enough out to be clipped after normalisation.
    observations = np.concatenate([rng.normal(4.0, 3.0, (6, 3)), [[100.0, -80.0, 4.0]]]).astype(
        np.float32
    )
    path = export_model(plain_model(model), tmp_path / "model.keras")
    params, value = load_in_a_clean_python(path, observations, tmp_path)
    expected_params, expected_value = model(observations)
    assert params.shape == (7, 4 if continuous else 2) and value.shape == (7,)
    np.testing.assert_allclose(params, expected_params, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(value, expected_value, rtol=1e-5, atol=1e-5)
