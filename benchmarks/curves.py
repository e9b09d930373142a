"""Learning curves of several runs on one plot: the mean return of the last 100 training
episodes against env steps, from each run's episode CSV (``a2c_cartpole.py``'s, or
``benchmarks/sb3_a2c.py``'s, which writes the same columns).

    python benchmarks/curves.py --output=docs/pong/pong_zoo_a2c_vs_sb3.png \\
        --title="A2C on PongNoFrameskip-v4" \\
        "a3c-keras A2C=runs/pong-zoo-a2c/PongNoFrameskip-v4_episodes.csv" \\
        "Stable-Baselines3 A2C=runs/pong-zoo-sb3/PongNoFrameskip-v4_episodes.csv"

Env steps are agent steps of all envs together (for Atari, 4 frames each), as both count them.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from matplotlib.figure import Figure

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.files import atomic_write  # noqa: E402


def read_curve(path: Path) -> tuple[list[float], list[float]]:
    """(env steps, mean of the last 100 episodes) of each episode of an episode CSV."""
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    return [float(r["env_steps"]) for r in rows], [float(r["recent_mean"]) for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="LABEL=EPISODE_CSV, one per run")
    parser.add_argument("--output", required=True, help="the PNG to write")
    parser.add_argument("--title", default="")
    parser.add_argument("--target", type=float, default=None, help="a return to draw as a line")
    args = parser.parse_args()
    runs = [run.rpartition("=") for run in args.runs]  # a label may hold "="
    for label, equals, path in runs:
        if not equals or not label:
            sys.exit(f"error: {label}{equals}{path}: each run is LABEL=EPISODE_CSV")
        if not Path(path).is_file():
            sys.exit(f"error: {label}: no episode CSV at {path}")
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.add_subplot()
    for label, _, path in runs:
        steps, means = read_curve(Path(path))
        label = f"{label} ({steps[-1]:,.0f} steps)"
        axes.plot([step / 1e6 for step in steps], means, lw=1.8, label=label)
    if args.target is not None:
        axes.axhline(args.target, color="tab:green", ls="--", lw=1, label=f"target {args.target:g}")
    axes.set(
        title=args.title,
        xlabel="env steps (millions; all envs together)",
        ylabel="mean return of the last 100 episodes",
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    atomic_write(args.output, lambda temporary: figure.savefig(temporary, dpi=100))
    print(f"plot: {args.output}")


if __name__ == "__main__":
    main()
