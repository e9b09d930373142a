"""Where an A2C step's time goes: start-up and the cost per vector step of each part of the loop.

    python benchmarks/step_costs.py                          # this checkout, 3 runs
    git worktree add /tmp/before HEAD~5
    python benchmarks/step_costs.py --compare=/tmp/before    # both, run in turn

Each run is a fresh process in the checkout (``--compare``: this one, then the other, in turn,
so a drifting machine slows both alike). It times the imports (TensorFlow, Keras and the
project's training modules), the agent's construction (model, optimizer, tracing) and the
first rollout and update (XLA compilation), then trains A2C on CartPole-v1 with the defaults (8
envs, t_max 8) through ``training.trainer.Trainer`` for ``--steps`` env steps without evaluations,
timing every call of the parts of the loop:

- acting: the forward pass and sampling (with the rollout's noise and the weight sync);
- env: ``envs.step`` of the vector env;
- bookkeeping: the rest of ``RolloutCollector.collect`` (Memory, episode counts);
- update: the compiled update, per vector step (one update each ``t_max`` steps);
- trainer: the rest of the training loop (episode log, progress, TensorBoard).

Writes the section ``a2c-step-costs`` of docs/BENCHMARKS.md (medians over the runs).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from benchmark import SUITES, machine, revision, versions  # noqa: E402
from evidence import write_sections  # noqa: E402

# Runs in the checkout measured; prints one JSON line. Works with the collector before acting
# moved to NumPy (``collector.act``, a compiled function) and after (``collector.policy``).
PROBE = r"""
import json, sys, tempfile, time
start = time.perf_counter()
import keras, tensorflow as tf
imported_tf = time.perf_counter()
from agents.a2c import A2CAgent
try:  # the layout since the training infrastructure left agents/
    from config.hyperparameters import A2CConfig
    from config.presets import with_preset
    from training.episode_log import EpisodeLog
    from training.trainer import Trainer
except ImportError:
    from agents.config import A2CConfig
    from agents.episode_log import EpisodeLog
    from agents.trainer import Trainer
imported = time.perf_counter()
from absl import logging
logging.set_verbosity(logging.WARNING)

totals = {}

def timed(name, function):
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[name] = totals.get(name, 0.0) + time.perf_counter() - began
    return wrapper

config = CONFIG
agent = A2CAgent(config)
built = time.perf_counter()
collector = agent.collector
collector.envs.step = timed("env", collector.envs.step)
if hasattr(collector, "policy"):  # NumPy acting: forward, sampling, noise, weight sync
    policy = collector.policy
    call = timed("acting", type(policy).__call__)
    policy.__class__ = type("Timed", (type(policy),), {"__call__": call})
    policy.sync = timed("acting", policy.sync)
    distribution = collector.distribution
    distribution.sample = timed("acting", distribution.sample)
    distribution.noise = timed("acting", distribution.noise)
else:  # a compiled acting function, sampling inside
    collector.act = timed("acting", collector.act)
collector.collect = timed("collect", collector.collect)
if hasattr(agent, "learn"):  # the update, the rollout's packing into tensors included
    agent.learn = timed("update", agent.learn)
else:
    agent.update = timed("update", agent.update)
# Start-up: the first rollout and update compile (XLA); timed apart from the steady loop.
agent.start(EpisodeLog(max_steps=10**9))
agent.advance()
compiled = time.perf_counter()
totals.clear()
with tempfile.TemporaryDirectory() as save_dir:
    trainer = Trainer(agent, save_dir)
    began = time.perf_counter()
    trainer.train()
    trained = time.perf_counter() - began
steps = agent.episode_log.env_steps
vector_steps = steps / config.num_envs
loop = trainer.train_seconds
print(json.dumps({
    "import TensorFlow and Keras (s)": imported_tf - start,
    "import the project (s)": imported - imported_tf,
    "build the agent: model, optimizer, tracing (s)": built - imported,
    "first rollout and update: compilation (s)": compiled - built,
    "acting": totals["acting"] / vector_steps * 1e6,
    "env": totals["env"] / vector_steps * 1e6,
    "bookkeeping": (totals["collect"] - totals["acting"] - totals["env"]) / vector_steps * 1e6,
    "update": totals["update"] / vector_steps * 1e6,
    "trainer": (loop - totals["collect"] - totals["update"]) / vector_steps * 1e6,
    "total": loop / vector_steps * 1e6,
    "env steps/s": steps / loop,
}))
"""

PER_STEP = {
    "acting": "acting: forward pass and sampling",
    "env": "`envs.step` (8 CartPole envs)",
    "bookkeeping": "bookkeeping: Memory, episode counts",
    "update": "update (one per 8 vector steps), per step",
    "trainer": "the training loop's own work (and, before the update packed it, the rollout's "
    "conversion to tensors)",
    "total": "**total per vector step**",
}


# The probe's run: A2C's defaults on CartPole-v1, without evaluations.
DEFAULT_CONFIG = "A2CConfig(max_steps=STEPS, eval_interval=0, seed=0)"


def measure(root: Path, steps: int, config: str = DEFAULT_CONFIG) -> dict:
    """One probe run in the checkout ``root`` of ``config`` (Python code of an ``A2CConfig``,
    ``STEPS`` standing for ``steps``): its measurements."""
    code = PROBE.replace("CONFIG", config).replace("STEPS", str(steps))
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"the probe failed in {root}:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def table(columns: dict[str, list[dict]]) -> str:
    """Medians of each measure, one column per checkout."""
    names = list(columns)
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]

    def median(name: str, key: str) -> float:
        return statistics.median(run[key] for run in columns[name])

    first = columns[names[0]][0]
    for key in first:
        if key.endswith("(s)"):
            lines.append(f"| {key} | " + " | ".join(f"{median(n, key):.2f}" for n in names) + " |")
    for key, label in PER_STEP.items():
        lines.append(
            f"| {label} (us) | " + " | ".join(f"{median(n, key):.0f}" for n in names) + " |"
        )
    lines.append(
        "| **env steps/s** | "
        + " | ".join(f"{median(n, 'env steps/s'):,.0f}" for n in names)
        + " |"
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="probe runs per checkout")
    parser.add_argument("--steps", type=int, default=100_000, help="env steps a run")
    parser.add_argument("--compare", default="", help="another checkout, measured in turn")
    parser.add_argument("--tag", default="before", help="with --compare: its column's name")
    parser.add_argument("--output", default=str(ROOT / "docs" / "BENCHMARKS.md"))
    args = parser.parse_args()
    checkouts = {"this": ROOT}
    if args.compare:
        checkouts = {args.tag: Path(args.compare).resolve(), "after": ROOT}
    columns = {name: [] for name in checkouts}
    for _ in range(args.runs):
        for name, root in checkouts.items():
            run = measure(root, args.steps)
            print(name, run, flush=True)
            columns[name].append(run)
    where = ", ".join(f"{name}: {revision(root)}" for name, root in checkouts.items())
    how = f" --compare=... --tag={args.tag}" if args.compare else ""
    text = (
        "## `a2c-step-costs`: Where an A2C step's time goes (8 CartPole envs, defaults)\n\n"
        "Start-up, then microseconds per vector step of 8 envs by part of the training loop "
        "(every call timed in a run of the Trainer, no evaluations), median of "
        f"{args.runs} fresh processes per checkout.\n\n"
        f"- Measured {time.strftime('%Y-%m-%d')} by `python benchmarks/step_costs.py "
        f"--runs={args.runs} --steps={args.steps}{how}` ({where}) on {machine()}.\n"
        f"- Versions: {versions()}.\n\n{table(columns)}"
    )
    output = Path(args.output)
    write_sections(output, {"a2c-step-costs": text}, order=list(SUITES))
    print(text)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
