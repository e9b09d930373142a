"""Atari throughput: the emulator's floor, A2C's training and Stable-Baselines3's, side by side.

    python benchmarks/atari_costs.py                             # 3 runs of 40k agent steps
    python benchmarks/atari_costs.py --sb3-python=/path/to/venv/bin/python
    git worktree add /tmp/before HEAD~1
    python benchmarks/atari_costs.py --compare=/tmp/before --tag=before   # A2C there too

Each run starts three fresh processes (four with ``--compare``) in turn on the same cores (so a
drifting machine slows all alike), each for ``--steps`` agent steps of ALE/Pong-v5 (4 frames
each) after a warm-up:

- the floor: ale-py's native vector env of the Atari preset's 16 envs with its preprocessing
  (``utils.envs.make_vector_env``: 84x84 grey, 4 stacked, 4 frames skipped), random actions;
- A2C: the Atari preset (``config/presets.py``) trained through ``training.trainer.Trainer``
  without evaluations, every call of the loop's parts timed (``benchmarks/step_costs.py``'s
  probe): acting, ``envs.step``, bookkeeping, the update, the trainer's own work;
- SB3: Stable-Baselines3's A2C on RL Zoo's Atari settings (``benchmarks/sb3_a2c.py``: 16 envs,
  ``CnnPolicy``, ``RMSpropTFLike``), run by ``--sb3-python`` (an environment with torch and
  stable-baselines3, which are not this project's dependencies); throughput only;
- with ``--compare``, A2C again in that checkout (another commit), after this one's.

Writes the section ``atari-throughput`` of docs/BENCHMARKS.md (medians over the runs).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from benchmark import SUITES, machine, revision, versions  # noqa: E402
from evidence import write_sections  # noqa: E402
from step_costs import measure  # noqa: E402

ENV = "ALE/Pong-v5"
ENVS = 16  # the Atari preset's
WARM_UP = 1_600  # agent steps before the clock starts (SB3's and the floor's; A2C's probe
# times its first rollout and update apart)

FLOOR = r"""
import json, time
import numpy as np
from utils.envs import make_vector_env
envs = make_vector_env("ENV", ENVS)
envs.reset(seed=0)
generator = np.random.default_rng(0)
actions = envs.action_space.n if hasattr(envs.action_space, "n") else envs.single_action_space.n
for _ in range(WARM_UP // ENVS):
    envs.step(generator.integers(0, actions, ENVS))
began = time.perf_counter()
for _ in range(STEPS // ENVS):
    envs.step(generator.integers(0, actions, ENVS))
seconds = time.perf_counter() - began
print(json.dumps({"env steps/s": STEPS // ENVS * ENVS / seconds}))
"""

SB3 = r"""
import json, sys, time
sys.path.insert(0, "benchmarks")
from sb3_a2c import ZOO, make_envs
zoo = ZOO["ENV"]
model = zoo.algorithm(zoo.policy, make_envs("ENV", zoo, 0), seed=0, device="cpu", **zoo.settings)
model.learn(WARM_UP)
began = time.perf_counter()
model.learn(STEPS, reset_num_timesteps=False)
seconds = time.perf_counter() - began
import stable_baselines3, torch
print(json.dumps({
    "env steps/s": (model.num_timesteps - WARM_UP) / seconds,
    "versions": f"stable-baselines3 {stable_baselines3.__version__}, torch {torch.__version__}",
}))
"""

# The A2C probe's run (``step_costs.measure``): the Atari preset without evaluations.
A2C_CONFIG = 'with_preset(A2CConfig, "ENV", max_steps=STEPS, eval_interval=0, seed=0)'


def probe(python: str, code: str, steps: int) -> dict:
    """Runs ``code`` (``ENV``, ``ENVS``, ``STEPS`` and ``WARM_UP`` filled in) with ``python`` in
    this checkout; returns the JSON it prints last."""
    for name, value in (("WARM_UP", WARM_UP), ("ENVS", ENVS), ("STEPS", steps), ("ENV", ENV)):
        code = code.replace(name, str(value))
    result = subprocess.run(
        [python, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{python} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


PARTS = {
    "acting": "acting: the forward pass of 16 frames and sampling",
    "env": "`envs.step` (16 games)",
    "bookkeeping": "bookkeeping: Memory, lives, episode counts",
    "update": "update (one per 5 vector steps), per step",
    "trainer": "the training loop's own work",
    "total": "**total per vector step**",
}


def table(runs: list[dict], labels: dict[str, str]) -> str:
    """Medians: agent steps/s of each kind of process in ``labels`` (kind -> row label) and its
    share of the floor's, then each A2C's microseconds per vector step by part."""

    def median(kind: str, key: str) -> float:
        return statistics.median(run[kind][key] for run in runs)

    floor = median("floor", "env steps/s")
    lines = ["| | agent steps/s | of the floor |", "|---|---:|---:|"]
    for kind, label in labels.items():
        rate = median(kind, "env steps/s")
        lines.append(f"| {label} | {rate:,.0f} | {rate / floor:.0%} |")
    a2cs = [kind for kind in labels if kind.startswith("a2c")]
    lines += [
        "",
        "| A2C's vector step of 16 games, by part (us) | " + " | ".join(a2cs) + " |",
        "|---|" + "---:|" * len(a2cs),
    ]
    for key, label in PARTS.items():
        values = " | ".join(f"{median(kind, key):,.0f}" for kind in a2cs)
        lines.append(f"| {label} | {values} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of the three processes")
    parser.add_argument("--steps", type=int, default=40_000, help="agent steps a process")
    parser.add_argument("--sb3-python", default="", help="a Python with stable-baselines3")
    parser.add_argument("--compare", default="", help="another checkout: A2C there too")
    parser.add_argument("--tag", default="before", help="with --compare: its name")
    parser.add_argument("--output", default=str(ROOT / "docs" / "BENCHMARKS.md"))
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        run = {
            "floor": probe(sys.executable, FLOOR, args.steps),
            "a2c": measure(ROOT, args.steps, A2C_CONFIG.replace("ENV", ENV)),
        }
        if args.compare:
            run[f"a2c@{args.tag}"] = measure(
                Path(args.compare), args.steps, A2C_CONFIG.replace("ENV", ENV)
            )
        if args.sb3_python:
            run["sb3"] = probe(args.sb3_python, SB3, args.steps)
        print(json.dumps(run), flush=True)
        runs.append(run)
    labels = {
        "floor": "the floor: ale-py's vector env alone, random actions",
        "a2c": f"A2C, the Atari preset (this project, {revision(ROOT)})",
    }
    how = ""
    if args.compare:
        labels[f"a2c@{args.tag}"] = f"A2C at {args.tag} ({revision(Path(args.compare))})"
        how += f" --compare=... --tag={args.tag}"
    if args.sb3_python:
        labels["sb3"] = "SB3's A2C, RL Zoo's Atari settings"
        how += " --sb3-python=..."
    peer = f", ale-py {metadata.version('ale-py')}"
    if args.sb3_python:
        peer += f", {runs[0]['sb3']['versions']}"
    text = (
        "## `atari-throughput`: Atari throughput against the emulator's floor (Pong, 16 envs)\n\n"
        f"Agent steps a second (4 frames each) of ALE/Pong-v5 over {args.steps:,} steps after "
        "a warm-up, median of "
        f"{args.runs} runs, each a fresh process per row in turn on the same cores: the floor "
        "(the preset's vector env and preprocessing with random actions) and A2C's training "
        "with the Atari preset (no evaluations)"
        + (
            ", and Stable-Baselines3's A2C on RL Zoo's Atari settings (NatureCNN, Python "
            "wrappers per env)"
            if args.sb3_python
            else ""
        )
        + ".\n\n"
        f"- Measured {time.strftime('%Y-%m-%d')} by `python benchmarks/atari_costs.py "
        f"--runs={args.runs} --steps={args.steps}{how}` at {revision(ROOT)} on {machine()}.\n"
        f"- Versions: {versions()}{peer}.\n\n{table(runs, labels)}"
    )
    output = Path(args.output)
    write_sections(output, {"atari-throughput": text}, order=list(SUITES))
    print(text)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
