"""The command line shared by a3c_cartpole.py and a2c_cartpole.py."""

import os

# NumPy's OpenBLAS threads its larger products (a one-hot Taxi observation times the first
# layer, 16 x 500 x 128) over every core; acting makes thousands of such small products a
# second, and when another process keeps the cores busy each one waits for its threads: 4.2 ms
# instead of 0.11 ms single-threaded (measured on the 2-core machine under load). One thread,
# unless the user set another number, before NumPy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from cli.signals import one_line_interrupts  # noqa: E402

one_line_interrupts()  # first: Ctrl-C while the rest imports is one line too

from cli.main import Program, main  # noqa: E402

__all__ = ["Program", "main"]
