"""Trains with the defaults for several seeds, one process per run, and writes docs/BENCHMARKS.md.

    python benchmarks/benchmark.py                      # seeds 0-4, the table to docs/BENCHMARKS.md
    python benchmarks/benchmark.py --seeds=0,1 --output=/tmp/b.md

Each run is the README's command, ``python a3c_cartpole.py --train --seed=S``, in a fresh process,
so the times include start-up, XLA compilation and the final greedy evaluation. From its output
and episode CSV the script takes: whole-process wall seconds; training env steps and env steps
per second; the first episode at which the mean return of the last 100 training episodes reached
the env's threshold (the classic "solved"), with its env steps and seconds since training began;
the greedy 100-episode evaluation of the saved model; and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THRESHOLD = 475.0  # CartPole-v1


def run_once(script: str, seed: int, extra: list[str]) -> dict:
    """Runs one training process; returns its measurements."""
    with tempfile.TemporaryDirectory() as save_dir:
        command = [sys.executable, script, "--train", f"--seed={seed}", f"--save_dir={save_dir}"]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        start = time.perf_counter()
        process = subprocess.Popen(
            command + extra,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)  # reaps the child with its own peak memory
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{output[-2000:]}")
        trained = re.search(r"trained (\d+) episodes, (\d+) env steps in ([\d.]+) s", output)
        greedy = re.search(r"greedy return over (\d+) episodes: ([\d.]+) ± ([\d.]+)", output)
        episodes = list(csv.DictReader(open(Path(save_dir) / "CartPole-v1_episodes.csv")))
    solved = next((e for e in episodes if float(e["recent_mean"]) >= THRESHOLD), None)
    return {
        "seed": seed,
        "wall_s": wall,
        "episodes": int(trained[1]),
        "env_steps": int(trained[2]),
        "train_s": float(trained[3]),
        "steps_per_s": int(trained[2]) / float(trained[3]),
        "solved_episode": int(solved["index"]) if solved else None,
        "solved_steps": int(solved["env_steps"]) if solved else None,
        "solved_s": float(solved["seconds"]) if solved else None,
        "greedy_mean": float(greedy[2]),
        "greedy_std": float(greedy[3]),
        "peak_mib": usage.ru_maxrss / 1024,  # KiB on Linux
    }


def versions() -> str:
    names = ["tensorflow-cpu", "tensorflow", "keras", "gymnasium", "numpy"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join([f"Python {platform.python_version()}", *found])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({cpu})"


def fmt(value, spec: str) -> str:
    return "not reached" if value is None else format(value, spec)


def table(rows: list[dict]) -> str:
    header = (
        "| seed | whole process (s) | episodes | env steps | env steps/s | solved at episode | "
        "env steps to solve | s to solve | greedy mean ± std (100 ep.) | peak memory (MiB) |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = [
        f"| {r['seed']} | {r['wall_s']:.1f} | {r['episodes']} | {r['env_steps']} | "
        f"{r['steps_per_s']:.0f} | {fmt(r['solved_episode'], 'd')} | "
        f"{fmt(r['solved_steps'], 'd')} | {fmt(r['solved_s'], '.1f')} | "
        f"{r['greedy_mean']:.1f} ± {r['greedy_std']:.1f} | {fmt(r['peak_mib'], '.0f')} |"
        for r in rows
    ]
    return header + "\n".join(lines) + "\n"


def summary(rows: list[dict]) -> str:
    solved = [r for r in rows if r["greedy_mean"] >= THRESHOLD]
    reached = [r for r in rows if r["solved_steps"] is not None]
    parts = [
        f"greedy mean >= {THRESHOLD:g} in {len(solved)} of {len(rows)} seeds",
        f"median whole-process time {statistics.median(r['wall_s'] for r in rows):.1f} s",
        f"median {statistics.median(r['steps_per_s'] for r in rows):.0f} env steps/s",
    ]
    if reached:
        parts.append(
            f"training mean(100) reached {THRESHOLD:g} in {len(reached)} of {len(rows)} seeds, "
            f"median {statistics.median(r['solved_steps'] for r in reached):.0f} env steps"
        )
    return "; ".join(parts) + "."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds")
    parser.add_argument("--output", default=str(ROOT / "docs" / "BENCHMARKS.md"))
    parser.add_argument("extra", nargs="*", help="flags passed on to a3c_cartpole.py")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    rows = []
    for seed in seeds:
        row = run_once("a3c_cartpole.py", seed, args.extra)
        print(row, flush=True)
        rows.append(row)
    command = "python benchmarks/benchmark.py --seeds=" + args.seeds
    if args.extra:
        command += " -- " + " ".join(args.extra)
    text = f"""# Benchmarks

Produced by `{command}` on {time.strftime("%Y-%m-%d")}.

- Machine: {machine()}; shared and noisy, so compare ratios within one run and read medians.
- Versions: {versions()}.
- Each run: `python a3c_cartpole.py --train --seed=S` (the defaults: CartPole-v1, {os.cpu_count()}
  workers, 1000 episodes, t_max 20, Adam 1e-3), a fresh process, wall time measured around it.
- "Solved at" is the first episode at which the mean return of the last 100 training episodes
  reached 475 (the classic rule), with the env steps and seconds of training until then. The
  greedy mean is the saved (best) model over 100 new seeded episodes after training.

## A3C, CartPole-v1

{table(rows)}
Summary: {summary(rows)}
"""
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
