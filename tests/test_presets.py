"""Every preset makes a valid config of its algorithm, says what it reached and how."""

import pytest

from agents.config import A2CConfig, A3CConfig
from agents.presets import PRESETS, apply_preset, with_preset
from utils.envs import resolve_env_id

CONFIGS = {"a2c": A2CConfig, "a3c": A3CConfig}
ENTRIES = [(algorithm, env) for algorithm, presets in PRESETS.items() for env in presets]


@pytest.mark.parametrize("algorithm, env", ENTRIES)
def test_each_preset_is_a_valid_config_with_its_result_and_command(algorithm, env):
    preset = PRESETS[algorithm][env]
    assert resolve_env_id(env) == env
    config = with_preset(CONFIGS[algorithm], env)
    for name, value in preset.settings.items():
        assert getattr(config, name) == value, name
    assert preset.result and f"{algorithm}_cartpole.py --train" in preset.command
    assert env in preset.command or env == "CartPole-v1"


def test_flags_given_override_a_preset_and_others_keep_it():
    config, preset = apply_preset(A2CConfig(env="Acrobot-v1", lr=0.5), lambda name: name == "lr")
    assert preset is PRESETS["a2c"]["Acrobot-v1"]
    assert config.lr == 0.5 and config.entropy_coef == 0.01
