"""The command line shared by a3c_cartpole.py and a2c_cartpole.py."""

from cli.signals import one_line_interrupts

one_line_interrupts()  # first: Ctrl-C while the rest imports is one line too

from cli.main import Program, main  # noqa: E402

__all__ = ["Program", "main"]
