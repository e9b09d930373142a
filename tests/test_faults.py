"""Faults that hung or traced (issue 37, class 3): each ends in one line with its exit status, or
in one exception of one line from the Python API, with the last good state kept.

Through the real command line (``tests.programs.run``) or the API; the Ray cases start a local
Ray each (slow)."""

import time

import pytest

from tests.programs import error_line, run

QUIET = {"verbose": 0}


# Ray: a worker whose process dies before any progress ---------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "env, says",
    [
        (
            "EndsRayWorker-v0",
            "process died 3 times in a row, each time before it returned a gradient",
        ),
        ("EndsRayWorkerAtOnce-v0", "did not start: its process died while it made and stepped"),
    ],
)
def test_a_ray_worker_whose_env_ends_its_process_stops_the_run_naming_the_env(tmp_path, env, says):
    pytest.importorskip("ray")
    began = time.monotonic()
    result = run(
        "--train",
        "--backend=ray",
        "--workers=2",
        "--envs-per-worker=1",
        "--update-freq=5",
        f"--env=tests.faulty_envs:{env}",
        "--max-steps=100000",
        f"--save_dir={tmp_path}",
    )
    seconds = time.monotonic() - began
    assert result.returncode == 1, result.stderr[-3000:]
    line = error_line(result)
    assert says in line and f"tests.faulty_envs:{env}" in line, line
    # Replaced at most twice in a row (17 times in 120 s before, each death starting the wait
    # for a gradient again).
    assert result.stderr.count("starting a new one") <= 4
    assert seconds < 240
    assert not (tmp_path / f"model_{env}.weights.h5").exists()
