"""Measures where an A3C update on Ray spends its time, and what that predicts for more workers.

    python benchmarks/ray_costs.py --envs-per-worker=16 --workers=1,2

For each worker count it runs the real ``RayMasterAgent`` on a local Ray for ``--seconds`` (after
a warm-up) and reports updates and env steps per second, and the driver's busy time per update
(applying the gradient and sending the new weights: the global side, which is one thread). A
worker process alone is timed too (one rollout and its gradient). The global side saturates at
``1 / driver seconds`` updates per second, so workers beyond ``worker seconds / driver seconds``
add nothing: that is the prediction printed for a cluster. Writes the section
``a3c-ray-costs`` of docs/BENCHMARKS.md (``a3c-ray-costs-N`` for N envs a worker other than 16).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from benchmark import SUITES, script_section  # noqa: E402
from evidence import write_sections  # noqa: E402

from agents.a3c_ray import RayMasterAgent, RemoteWorker  # noqa: E402
from config.hyperparameters import A3CConfig  # noqa: E402
from training.episode_log import EpisodeLog  # noqa: E402


def time_worker(config: A3CConfig, rounds: int = 100) -> float:
    """Seconds of one rollout and its gradient in a worker, in this process."""
    worker = RemoteWorker(config, worker_id=0, seed=0)
    weights = [variable.numpy() for variable in worker.model.synced_variables]
    for _ in range(10):
        worker.rollout_gradients(weights)
    start = time.perf_counter()
    for _ in range(rounds):
        worker.rollout_gradients(weights)
    worker.close()
    return (time.perf_counter() - start) / rounds


def time_driver(config: A3CConfig, seconds: float) -> tuple[float, float, float]:
    """``(updates/s, env steps/s, driver busy seconds per update)`` of a real run on Ray."""
    master = RayMasterAgent(config)
    log = EpisodeLog(max_steps=10**12)
    master.start(log)
    try:
        for _ in range(50):  # warm-up: the workers' first rollouts
            master.advance()
        waiting = 0.0
        wait = master.ray.wait

        def timed_wait(*args, **kwargs):
            nonlocal waiting
            begin = time.perf_counter()
            result = wait(*args, **kwargs)
            waiting += time.perf_counter() - begin
            return result

        master.ray.wait = timed_wait
        updates, steps, start = master.update_log.count, log.env_steps, time.perf_counter()
        while time.perf_counter() - start < seconds:
            master.advance()
        elapsed = time.perf_counter() - start
        master.ray.wait = wait
        done = master.update_log.count - updates
        return done / elapsed, (log.env_steps - steps) / elapsed, (elapsed - waiting) / done
    finally:
        master.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs-per-worker", type=int, default=16)
    parser.add_argument("--update-freq", type=int, default=20)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--output", default=str(ROOT / "docs" / "BENCHMARKS.md"))
    args = parser.parse_args()
    base = A3CConfig(
        backend="ray",
        envs_per_worker=args.envs_per_worker,
        update_freq=args.update_freq,
        max_eps=0,
        max_steps=10**12,
    )
    worker_seconds = time_worker(base)
    steps = args.update_freq * args.envs_per_worker
    lines = [
        f"worker alone: {worker_seconds * 1e3:.2f} ms a rollout of {steps} env steps and its "
        f"gradient ({steps / worker_seconds:,.0f} env steps/s)"
    ]
    print(lines[-1])
    driver = None
    for workers in (int(w) for w in args.workers.split(",")):
        config = dataclasses.replace(base, workers=workers)
        rate, env_rate, driver = time_driver(config, args.seconds)
        lines.append(
            f"{workers} workers: {rate:.0f} updates/s, {env_rate:,.0f} env steps/s, driver busy "
            f"{driver * 1e3:.2f} ms an update"
        )
        print(lines[-1])
    ceiling = 1 / driver
    lines.append(
        f"the global side applies at most {ceiling:.0f} updates/s ({ceiling * steps:,.0f} env "
        f"steps/s); workers of {worker_seconds * 1e3:.1f} ms a rollout saturate it at about "
        f"{worker_seconds / driver:.0f} workers, each with a core of its own"
    )
    print(lines[-1])
    key = "a3c-ray-costs" + ("" if args.envs_per_worker == 16 else f"-{args.envs_per_worker}")
    text = script_section(
        key,
        f"where an A3C update on Ray spends its time, {args.envs_per_worker} envs a worker",
        "A worker process's rollout and gradient timed alone, then the real RayMasterAgent on a "
        "local Ray: updates and env steps per second, and the driver's busy time an update (the "
        "global side, one thread), which bounds what more workers can add.",
        f"`python benchmarks/ray_costs.py --envs-per-worker={args.envs_per_worker} "
        f"--update-freq={args.update_freq} --workers={args.workers} --seconds={args.seconds:g}`",
        "\n".join(f"- {line}" for line in lines) + "\n",
    )
    write_sections(Path(args.output), {key: text}, order=list(SUITES))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
