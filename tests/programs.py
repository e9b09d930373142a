"""Running the command-line programs as a user does, for the tests."""

import contextlib
import dataclasses
import importlib
import io
import logging
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


def run(*args, program="a3c_cartpole.py", env=None, check=False, timeout=300, process=False):
    """Runs ``program`` with ``args`` as ``python <program> <args>`` from the repository root
    does, and returns its exit status and output (``subprocess.CompletedProcess``); with
    ``check``, asserts it exited 0.

    The program runs in this process (``run_here``), which spares each call the start of a
    Python with TensorFlow; it runs as a process of its own where the process is what is
    tested: with ``process``, or with ``env`` (variables of its environment)."""
    if process or env:
        result = subprocess.run(
            command(program, *args),
            cwd=ROOT,
            env=environment(env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    else:
        result = run_here(program, *args)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def run_here(program: str, *args) -> subprocess.CompletedProcess:
    """``program`` (an entry point's file name) run in this process as its ``__main__`` runs
    it: its flags defined afresh with its own defaults and parsed from ``args``, the mode they
    ask for run from the repository root; the exit status is what it exits with (0 when it
    returns), stdout and stderr what it writes to them (its log lines included)."""
    from absl import logging as absl_logging

    cli_main = importlib.import_module("cli.main")  # the module (cli.main is also its function)
    from cli.flags import FLAGS
    from cli.options import RunOptions
    from config import A2CConfig, A3CConfig

    entry = importlib.import_module(program.removesuffix(".py"))
    for fields_of in (RunOptions, A2CConfig, A3CConfig):  # the last program's flags go
        for field in dataclasses.fields(fields_of):
            if field.name in FLAGS:
                delattr(FLAGS, field.name)
    FLAGS.unparse_flags()
    cli_main.define_program_flags(entry.PROGRAM)
    stdout, stderr = io.StringIO(), io.StringIO()
    absl_logging.use_absl_handler()  # as absl's app.run does
    handler = absl_logging.get_absl_handler().python_handler
    saved = sys.argv, os.getcwd(), handler.stream, logging.root.level
    status = 0
    try:
        sys.argv = [program, *args]
        os.chdir(ROOT)
        handler.stream = stderr
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                argv = cli_main.parse_flags(sys.argv)
                if FLAGS["verbosity"].using_default_value:  # as absl's app.run does
                    FLAGS.verbosity = 0
                cli_main.run(entry.PROGRAM, argv)
            except SystemExit as exit:
                status = exit.code if isinstance(exit.code, int) else (exit.code is not None)
    finally:
        sys.argv, cwd, handler.stream, level = saved
        logging.root.setLevel(level)  # a run's --verbosity ends with it
        os.chdir(cwd)
    return subprocess.CompletedProcess(
        [program, *args], status, stdout.getvalue(), stderr.getvalue()
    )


def error_lines(result) -> list:
    """The program's own lines on stderr, without TensorFlow's start-up notices."""
    return [line for line in result.stderr.splitlines() if re.match(r"a[23]c_cartpole.py:", line)]


def error_line(result) -> str:
    """The program's one error line; asserts there is exactly one and no traceback."""
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]
