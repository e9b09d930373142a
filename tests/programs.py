"""Running the command-line programs as a user does, for the tests."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def environment(extra=None) -> dict:
    """The environment of a test run: quiet TensorFlow, CPU only, plus ``extra``."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", **(extra or {})}


def command(program: str, *args) -> list:
    return [sys.executable, program, *args]


def start(program: str, *args, new_session: bool = False) -> subprocess.Popen:
    """Starts ``python <program> <args>`` in the background, stdout and stderr piped (text);
    with ``new_session``, as the leader of its own process group (as a terminal runs it)."""
    return subprocess.Popen(
        command(program, *args),
        cwd=ROOT,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )


def run(*args, program="a3c_cartpole.py", env=None, check=False, timeout=300):
    """Runs ``python <program> <args>`` from the repository root; with ``check``, asserts it
    exited 0."""
    result = subprocess.run(
        command(program, *args),
        cwd=ROOT,
        env=environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def error_lines(result) -> list:
    """The program's own lines on stderr, without TensorFlow's start-up notices."""
    return [line for line in result.stderr.splitlines() if re.match(r"a[23]c_cartpole.py:", line)]


def error_line(result) -> str:
    """The program's one error line; asserts there is exactly one and no traceback."""
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]
