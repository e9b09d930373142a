"""The command line shared by a3c_cartpole.py and a2c_cartpole.py."""

from cli.main import Program, main

__all__ = ["Program", "main"]
