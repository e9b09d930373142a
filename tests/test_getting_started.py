"""Code a user pastes: Stable-Baselines3's getting-started example with only the import changed,
and the README's Python block, each run as a fresh Python does, twice in one folder."""

import re
import subprocess
import sys

import pytest

from tests.programs import ROOT, environment

# SB3's getting started (its README), the import changed, the env loop in gymnasium's API.
SB3_GETTING_STARTED = """
import gymnasium as gym

from a3c_keras import A2C

model = A2C("MlpPolicy", "CartPole-v1", verbose=1)
model.learn(total_timesteps=10_000)

vec_env = model.get_env()
obs, info = vec_env.reset()
for i in range(1000):
    action, _state = model.predict(obs, deterministic=True)
    obs, reward, terminated, truncated, info = vec_env.step(action)
print("ran", i + 1, "steps of", type(vec_env).__name__)
"""


def python_block(text: str) -> str:
    """The README's one ```python block."""
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "the README has one Python block"
    return blocks[0]


def run_as_pasted(code: str, folder) -> subprocess.CompletedProcess:
    """``python -c code`` in ``folder``, the repository importable as after ``pip install -e .``
    (without the test suite's quiet TensorFlow: what a user sees)."""
    env = {k: v for k, v in environment({"PYTHONPATH": str(ROOT)}).items()}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_sb3_getting_started_runs_with_the_import_changed_twice_in_one_folder(tmp_path):
    for _ in range(2):  # the second run is never refused for files the first left
        result = run_as_pasted(SB3_GETTING_STARTED, tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "ran 1000 steps of" in result.stdout
    assert list(tmp_path.iterdir()) == []  # from Python, no file unless asked


@pytest.mark.slow
def test_the_readme_python_block_runs_as_pasted(tmp_path):
    code = python_block((ROOT / "README.md").read_text())
    for _ in range(2):
        result = run_as_pasted(code, tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
