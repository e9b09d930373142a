"""Shared test set-up: quiet TensorFlow, run on the CPU, and a few helpers."""

import os
import signal

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

# The Ctrl-C tests need SIGINT delivered, in this process and in the programs it starts. A
# shell starts a background job (`bash .ci/run &`) with SIGINT ignored, Python then raises no
# KeyboardInterrupt, and the children inherit the ignoring: Python's own handler undoes both
# (a caught signal is reset to the default in a child).
signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config, items):
    """Marks what each test needs: ``atari`` for tests/test_atari.py, ``ray`` for every test
    of Ray (its module, a word ``ray`` of its name, or its parameter ``ray``), so
    ``-m "not ray"`` leaves them."""
    import re

    import pytest

    for item in items:
        if item.path.name == "test_atari.py":
            item.add_marker(pytest.mark.atari)
        callspec = getattr(item, "callspec", None)
        if (
            item.path.name == "test_ray.py"
            or re.search(r"(^|_)ray(_|$)", item.originalname)
            or (callspec is not None and "ray" in callspec.id.split("-"))
        ):
            item.add_marker(pytest.mark.ray)
    # The slow tests first: run in two processes, the long ones then overlap the many short
    # ones instead of ending the run alone (the order of the rest is kept).
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
