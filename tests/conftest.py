"""Shared test set-up: quiet TensorFlow, run on the CPU, and a few helpers."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


def pytest_collection_modifyitems(config, items):
    """Marks what each test needs: ``atari`` for tests/test_atari.py, ``ray`` for every test
    that starts a local Ray (its name or its module says Ray), so ``-m "not ray"`` leaves them."""
    import pytest

    for item in items:
        if item.path.name == "test_atari.py":
            item.add_marker(pytest.mark.atari)
        if item.path.name == "test_ray.py" or "ray" in item.name.lower():
            item.add_marker(pytest.mark.ray)
