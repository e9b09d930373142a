"""TensorBoard scalars of a training run (``tf.summary``), and the compact progress line."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from training.episode_log import Episode
from training.evaluation import EvalResult


def run_directory(save_dir: str | os.PathLike, algorithm: str) -> Path:
    """``<save_dir>/logs/<algorithm>-<date>-<time>``: a new TensorBoard run directory's path,
    one no run has used (``-2``, ``-3``, ... added if a run started in the same second)."""
    base = Path(save_dir) / "logs" / f"{algorithm}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, number = base, 1
    while path.exists():
        number += 1
        path = base.with_name(f"{base.name}-{number}")
    return path


class Summaries:
    """Writes a run's scalars for TensorBoard; call from one thread only.

    Tags, each a plain scalar (``simple_value``) against env steps:

    - ``episode/return``, ``episode/length``: means over the episodes finished since the last
      point, a point per progress report (each 2% of the budget, and at the end; every episode
      is in the run's CSV file), ``episode/moving_average`` (0.99/0.01) and
      ``worker_<i>/return`` for each A3C worker (or A2C env),
    - ``train/policy_loss``, ``train/value_loss``, ``train/entropy``, ``train/grad_norm``
      (before clipping), ``train/learning_rate``, ``train/env_steps_per_second``,
    - ``eval/mean_return``, ``eval/std_return`` of the greedy evaluations,
    - the run's settings (``hyperparameters``), for the HPARAMS tab.

    Args:
        log_dir: the run's directory, as made by ``run_directory``; created on the first write.
        per_worker: also write each worker's (or env's) episode returns.
    """

    def __init__(self, log_dir: str | os.PathLike, per_worker: bool = True):
        self.log_dir = Path(log_dir)
        self.per_worker = per_worker
        self._writer = None

    @property
    def writer(self):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.log_dir))
        return self._writer

    def episodes(self, episodes: Sequence[Episode], env_steps: int) -> None:
        """Writes the means of episodes finished since the last call (nothing if none).

        One point per call, not per episode: an eager summary op costs tens of microseconds,
        and a run finishes thousands of short episodes.
        """
        if not episodes:
            return
        scalars = {
            "episode/return": np.mean([e.episode_return for e in episodes]),
            "episode/length": np.mean([e.length for e in episodes]),
            "episode/moving_average": episodes[-1].moving_average,
        }
        if self.per_worker:
            for worker in sorted({e.worker for e in episodes}):
                returns = [e.episode_return for e in episodes if e.worker == worker]
                scalars[f"worker_{worker}/return"] = np.mean(returns)
        self._write(env_steps, scalars)

    def hyperparameters(self, settings: dict) -> None:
        """Writes the run's settings for TensorBoard's HPARAMS tab (tuples as ``64,64``)."""
        from tensorboard.plugins.hparams import api as hparams

        plain = {
            name: ",".join(map(str, value)) if isinstance(value, tuple | list) else value
            for name, value in settings.items()
            if isinstance(value, bool | int | float | str | tuple | list)
        }
        with self.writer.as_default():
            hparams.hparams(plain)

    def update(self, env_steps: int, update: dict, learning_rate, steps_per_second: float) -> None:
        """Writes the latest update's losses (its metrics by name,
        ``agents.on_policy.METRICS``) and the training speed."""
        self._write(
            env_steps,
            {
                "train/policy_loss": update["policy_loss"],
                "train/value_loss": update["value_loss"],
                "train/entropy": update["entropy"],
                "train/grad_norm": update["grad_norm"],
                "train/learning_rate": learning_rate,
                "train/env_steps_per_second": steps_per_second,
            },
        )

    def evaluation(self, env_steps: int, result: EvalResult) -> None:
        """Writes a greedy evaluation's mean and standard deviation."""
        self._write(env_steps, {"eval/mean_return": result.mean, "eval/std_return": result.std})

    def _write(self, env_steps: int, scalars: dict) -> None:
        """One event at ``env_steps`` holding ``scalars`` (tag -> number) as plain scalar
        values (``simple_value``), which TensorBoard plots and ``EventAccumulator.Scalars``
        and pandas readers take as they are; one op for all tags."""
        summary = tf.compat.v1.Summary(
            value=[
                tf.compat.v1.Summary.Value(tag=tag, simple_value=float(value))
                for tag, value in scalars.items()
            ]
        )
        with self.writer.as_default():
            tf.summary.experimental.write_raw_pb(summary.SerializeToString(), step=env_steps)

    def close(self) -> None:
        """Flushes and closes the event file; a later write opens a new one."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def progress_line(
    done: int,
    budget: int,
    unit: str,
    moving_average: float,
    steps_per_second: float,
    eta: float,
) -> str:
    """``episode 120/1000 (12%) | moving avg 45.3 | 4100 steps/s | ETA 1m05s``; ``eta`` in
    seconds (``inf``: unknown)."""
    # The last rollout may end past the budget; progress stops at it.
    if done >= budget:
        done, eta = budget, 0.0
    fraction = done / max(budget, 1)
    return (
        f"{unit} {done}/{budget} ({fraction:.0%}) | moving avg {format_return(moving_average)} | "
        f"{steps_per_second:.0f} steps/s | ETA {format_seconds(eta)}"
    )


def format_return(value: float) -> str:
    """A return as the console shows it: one decimal from 10 on (``211.0``), three below it,
    where the returns are a few units (FrozenLake's success rate ``0.726``, Blackjack's
    ``-0.049``)."""
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"


def format_seconds(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``; ``?`` for an unknown time."""
    if seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
