"""Every preset makes a valid config of its algorithm, says what it reached and how."""

import fnmatch

import pytest

from config.hyperparameters import A2CConfig, A3CConfig
from config.presets import PRESETS, apply_preset, preset_for, with_preset
from utils.envs import resolve_env_id

CONFIGS = {"a2c": A2CConfig, "a3c": A3CConfig}
ENTRIES = [(algorithm, env) for algorithm, presets in PRESETS.items() for env in presets]


@pytest.mark.parametrize("algorithm, env", ENTRIES)
def test_each_preset_is_a_valid_config_with_its_command(algorithm, env):
    preset = PRESETS[algorithm][env]
    # A family's preset (ALE/*) is shown with one of its envs.
    example = env if "*" not in env else preset.command.split("--env=")[1].split()[0]
    assert fnmatch.fnmatchcase(example, env)
    assert resolve_env_id(example) == example
    assert preset_for(algorithm, example) is preset
    config = with_preset(CONFIGS[algorithm], example)
    for name, value in preset.settings.items():
        assert getattr(config, name) == value, name
    assert f"{algorithm}_cartpole.py --train" in preset.command
    assert example in preset.command or env == "CartPole-v1"


def test_a_family_preset_covers_every_game_and_an_own_preset_comes_first():
    assert preset_for("a2c", "ALE/Breakout-v5") is PRESETS["a2c"]["ALE/*"]
    assert preset_for("a2c", "CartPole-v1") is PRESETS["a2c"]["CartPole-v1"]
    assert preset_for("a2c", "FrozenLake8x8-v1") is None  # an env without a preset


def test_flags_given_override_a_preset_and_others_keep_it():
    config, preset = apply_preset(A2CConfig(env="Acrobot-v1", lr=0.5), lambda name: name == "lr")
    assert preset is PRESETS["a2c"]["Acrobot-v1"]
    assert config.lr == 0.5 and config.entropy_coef == 0.01
