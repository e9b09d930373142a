"""The peer for benchmarks/benchmark.py: Stable-Baselines3's A2C with its zoo settings for CartPole.

    pip install torch stable-baselines3      # not a dependency of this project
    python benchmarks/sb3_a2c.py --seed=0 --save_dir=/tmp/sb3

The zoo's CartPole-v1 settings (8 envs, ent_coef 0, SB3's A2C defaults otherwise: RMSprop 7e-4,
n_steps 5, max_grad_norm 0.5), stopped as soon as the last 100 training episodes average 475, as
``a2c_cartpole.py --stop-at-threshold`` is. Prints the lines benchmark.py reads and writes the
same episode CSV, so both are measured the same way in one run.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from stable_baselines3 import A2C
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

THRESHOLD = 475.0


class StopAtThreshold(BaseCallback):
    """Records finished episodes; stops when the last 100 average ``THRESHOLD``."""

    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []
        self.returns: list[float] = []
        self.start = time.perf_counter()

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            if "episode" in info:
                self.returns.append(float(info["episode"]["r"]))
                recent = self.returns[-100:]
                self.rows.append(
                    {
                        "index": len(self.returns),
                        "episode_return": self.returns[-1],
                        "recent_mean": float(np.mean(recent)),
                        "env_steps": self.num_timesteps,
                        "seconds": time.perf_counter() - self.start,
                    }
                )
        return not (len(self.returns) >= 100 and self.rows[-1]["recent_mean"] >= THRESHOLD)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save_dir", required=True)
    parser.add_argument("--max_steps", type=int, default=500_000)
    args = parser.parse_args()
    envs = make_vec_env("CartPole-v1", n_envs=8, seed=args.seed)
    model = A2C("MlpPolicy", envs, ent_coef=0.0, seed=args.seed, device="cpu")
    callback = StopAtThreshold()
    model.learn(total_timesteps=args.max_steps, callback=callback)
    seconds = time.perf_counter() - callback.start
    steps = model.num_timesteps
    print(f"trained {len(callback.rows)} episodes, {steps} env steps in {seconds:.1f} s")
    returns, _ = evaluate_policy(
        model,
        make_vec_env("CartPole-v1", n_envs=1, seed=args.seed + 10_000),
        n_eval_episodes=100,
        deterministic=True,
        return_episode_rewards=True,
    )
    print(f"greedy return over 100 episodes: {np.mean(returns):.1f} ± {np.std(returns):.1f}")
    path = Path(args.save_dir) / "CartPole-v1_episodes.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(callback.rows[0]))
        writer.writeheader()
        writer.writerows(callback.rows)


if __name__ == "__main__":
    main()
