"""What holds A3C's worker threads back: each part of a worker's loop, alone and in two threads.

    python benchmarks/thread_costs.py                      # CartPole-v1, 8 envs a worker
    python benchmarks/thread_costs.py --envs-per-worker=1  # the defaults

In one fresh process, two A3C workers (``agents.a3c.Worker``, not started as threads) of
``--envs-per-worker`` CartPole-v1 envs and t_max 20 time the three steps of their loop:

- act: ``collector.collect()``, t_max steps of NumPy acting and the envs (Python and NumPy);
- gradient: ``compute_gradients`` (the compiled ``worker_gradients`` on the local model, the
  rollout's packing included);
- apply: ``apply_gradients`` (the compiled ``apply_to_global`` and copy back, under the lock).

For each: the wall time of a call in one thread, the share of it the calling thread spends on
the CPU itself (``time.thread_time``: what holds the interpreter lock, or TensorFlow's work on
that thread), and the calls per second of two threads doing only that step at once, against
one. A step whose two-thread rate is near 2x runs outside the interpreter lock; one near or
below 1x holds it. Writes the section ``a3c-thread-costs`` of docs/BENCHMARKS.md (medians of
``--repeats`` rounds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from benchmark import SUITES, script_section  # noqa: E402
from evidence import write_sections  # noqa: E402

PROBE = r"""
import json, os, sys, threading, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
sys.path.insert(0, ".")
from agents.a3c import MasterAgent, Worker
from config import A3CConfig

config = A3CConfig(workers=2, envs_per_worker=EPW, max_eps=0, max_steps=10**9, seed=0)
master = MasterAgent(config)
workers = [Worker(i, master) for i in range(2)]

def locked(step, *args):  # as the worker's loop applies: under the update lock
    with master.update_lock:
        return step(*args)

steps = {}
for worker in workers:
    worker.collector.reset(seed=worker.worker_id * 100)
    rollout, _ = worker.collector.collect()
    result = worker.compute_gradients(rollout)
    steps[worker.worker_id] = {
        "act": lambda w=worker: w.collector.collect(),
        "gradient": lambda w=worker, r=rollout: w.compute_gradients(r),
        "apply": lambda w=worker, g=result: locked(w.apply_gradients, *g),
    }
    for _ in range(20):
        for step in steps[worker.worker_id].values():
            step()

def repeat(step, calls):
    for _ in range(calls):
        step()

out = {}
for name, calls in (("act", CALLS // 4), ("gradient", CALLS), ("apply", CALLS)):
    step = steps[0][name]
    wall, cpu = time.perf_counter(), time.thread_time()
    repeat(step, calls)
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    threads = [threading.Thread(target=repeat, args=(steps[i][name], calls)) for i in range(2)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    both = time.perf_counter() - began
    two = (2 * calls / both) / (calls / wall)
    out[name] = {"us": wall / calls * 1e6, "cpu": cpu / wall, "two": two}
print(json.dumps(out))
"""

ROWS = {
    "act": "act: t_max steps of NumPy acting and the envs",
    "gradient": "gradient on the local model (compiled; the rollout's packing included)",
    "apply": "apply to the global model, copy back (compiled; under the update lock)",
}


def measure(envs_per_worker: int, calls: int) -> dict:
    """One probe process; its measurements."""
    code = PROBE.replace("EPW", str(envs_per_worker)).replace("CALLS", str(calls))
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs-per-worker", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="probe processes")
    parser.add_argument("--calls", type=int, default=400, help="gradient and apply calls")
    parser.add_argument("--output", default=str(ROOT / "docs" / "BENCHMARKS.md"))
    args = parser.parse_args()
    runs = [measure(args.envs_per_worker, args.calls) for _ in range(args.repeats)]
    for run in runs:
        print(run, flush=True)

    def median(step: str, key: str) -> float:
        return statistics.median(run[step][key] for run in runs)

    lines = [
        "| step of a worker's loop | wall time of a call, one thread (us) | "
        "its thread on the CPU | two threads at once, calls/s against one |",
        "|---|---:|---:|---:|",
    ]
    for step, words in ROWS.items():
        lines.append(
            f"| {words} | {median(step, 'us'):.0f} | {median(step, 'cpu'):.0%} | "
            f"{median(step, 'two'):.2f}x |"
        )
    key = "a3c-thread-costs" + ("" if args.envs_per_worker == 8 else f"-{args.envs_per_worker}")
    text = script_section(
        key,
        f"what holds A3C's worker threads back, {args.envs_per_worker} envs a worker",
        "Each step of a worker's loop timed alone in one thread, the share of that time its "
        "thread is on the CPU, and the rate of two threads doing only that step at once "
        "(CartPole-v1, t_max 20).",
        f"`python benchmarks/thread_costs.py --envs-per-worker={args.envs_per_worker}`; medians "
        f"of {args.repeats} processes",
        "\n".join(lines) + "\n",
    )
    output = Path(args.output)
    write_sections(output, {key: text}, order=list(SUITES))
    print(text)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
