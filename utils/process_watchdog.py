"""A watchdog that kills what a driver process started when the driver dies, SIGKILL included.

Used for the local Ray of ``--backend=ray`` (``agents/a3c_ray.py``): Ray's own fate-sharing
kills its GCS server and raylet with the driver, but left its dashboard and runtime-env agents
running after a SIGKILL of the driver. ``start_watchdog`` runs this file as a Python process of
its own (standard library only, so it starts in milliseconds), in a session of its own (Ctrl-C
or a kill of the driver's process group does not reach it). It notes, every half second, the
driver's children whose command line holds a marker (Ray's package directory) and every process
below them; once the driver is gone, or closes the watchdog's stdin (``stop_watchdog``), it
SIGKILLs each noted process that is still the one it noted (same pid, same start time: a
reused pid is never killed).

Linux only: it reads ``/proc``. Elsewhere ``start_watchdog`` returns None and a driver killed by
SIGKILL may leave processes behind (docs/RAY.md).

    python -I utils/process_watchdog.py DRIVER_PID DRIVER_START_TIME MARKER
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys


def process_table() -> dict[int, tuple[int, int]]:
    """Every process of this machine as ``pid -> (parent pid, start time)`` (Linux ``/proc``;
    the start time, in clock ticks since boot, tells a reused pid from the process that had it);
    a process that ends while the table is read is left out."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    stat = handle.read()
            except OSError:
                continue
            fields = stat[stat.rindex(b")") + 2 :].split()  # after "pid (command) "
            table[int(name)] = (int(fields[1]), int(fields[19]))
    return table


def command_line(pid: int) -> bytes:
    """The command line of process ``pid`` (empty if it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def descendants(table: dict[int, tuple[int, int]], roots: set[int]) -> set[int]:
    """``roots`` and every process below them in ``table``."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), [pid for pid in roots if pid in table]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def watched(
    table: dict[int, tuple[int, int]], driver: int, marker: bytes, known: set[tuple[int, int]]
) -> set[tuple[int, int]]:
    """The processes to kill with the driver, as ``(pid, start time)``: the driver's children
    whose command line has ``marker`` and the processes below them, and below the ``known``
    ones still running (an agent whose raylet died)."""
    roots = {pid for pid, (parent, _) in table.items() if parent == driver}
    roots = {pid for pid in roots if marker in command_line(pid)}
    roots |= {pid for pid, start in known if table.get(pid, (0, None))[1] == start}
    return {(pid, table[pid][1]) for pid in descendants(table, roots)}


def watch(driver: int, driver_start: int, marker: bytes, period: float = 0.5) -> None:
    """The watchdog's loop (the module docstring). It ignores SIGINT: Ctrl-C is the driver's."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    known: set[tuple[int, int]] = set()
    while True:
        table = process_table()
        known |= watched(table, driver, marker, known)
        if table.get(driver, (0, None))[1] != driver_start:
            break  # the driver died
        readable, _, _ = select.select([sys.stdin], [], [], period)
        if readable and not os.read(sys.stdin.fileno(), 1):
            break  # closed: the driver is done
    known |= watched(process_table(), driver, marker, known)
    for pid, start in known:
        if pid != os.getpid() and process_table().get(pid, (0, None))[1] == start:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def start_watchdog(marker: str) -> subprocess.Popen | None:
    """Starts the watchdog of the processes this process is about to start whose command line
    holds ``marker`` (and of theirs).

    Returns:
        The watchdog's process (give it to ``stop_watchdog``), or None where there is no Linux
        ``/proc`` to watch from.
    """
    if not os.path.isdir("/proc/self/task"):
        return None
    me = os.getpid()
    arguments = [str(me), str(process_table()[me][1]), marker]
    return subprocess.Popen(
        [sys.executable, "-I", os.path.abspath(__file__), *arguments],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_watchdog(watchdog: subprocess.Popen | None) -> None:
    """Closes the watchdog's stdin, so it kills what is left of the watched processes and ends;
    waits for it (5 s at most, then kills it)."""
    if watchdog is None:
        return
    with contextlib.suppress(OSError):
        watchdog.stdin.close()
    try:
        watchdog.wait(timeout=5)
    except subprocess.TimeoutExpired:
        watchdog.kill()


if __name__ == "__main__":
    watch(int(sys.argv[1]), int(sys.argv[2]), os.fsencode(sys.argv[3]))
