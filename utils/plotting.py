"""Training curves as PNG files, drawn without pyplot so no window ever opens."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from utils.files import atomic_write


def plot_training_curve(
    path: str | os.PathLike,
    title: str,
    episode_returns: Sequence[float],
    moving_average: Sequence[float],
    threshold: float | None = None,
    evaluations: Sequence[tuple[float, float, float]] = (),
    eval_episodes: int | None = None,
) -> Path:
    """Saves a PNG of episode returns, their moving average and greedy evaluations.

    Args:
        path: the PNG to write (atomically).
        title: the figure's title, such as ``"A3C on CartPole-v1"``.
        episode_returns: the return of each training episode, in order (x: 1, 2, ...).
        moving_average: the smoothed returns, one per episode.
        threshold: the env's reward threshold, drawn as a dashed line if given.
        evaluations: ``(training episodes before it, mean return, std)`` of each greedy
            evaluation during training, drawn as mean ± std.
        eval_episodes: episodes of each evaluation, for the legend.

    Returns:
        ``path`` as a ``Path``.
    """
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.add_subplot()
    index = range(1, len(episode_returns) + 1)
    axes.plot(index, episode_returns, color="tab:blue", alpha=0.25, lw=0.8, label="episode return")
    axes.plot(index, moving_average, color="tab:blue", lw=2, label="moving average (0.99)")
    if evaluations:
        x, mean, std = zip(*evaluations, strict=True)
        count = f" ({eval_episodes} episodes)" if eval_episodes else ""
        axes.errorbar(
            x,
            mean,
            yerr=std,
            color="tab:orange",
            marker="o",
            ms=4,
            lw=1.5,
            capsize=3,
            label=f"greedy evaluation{count}",
        )
    if threshold is not None:
        axes.axhline(threshold, color="tab:green", ls="--", lw=1, label=f"threshold {threshold:g}")
    axes.set(title=title, xlabel="training episode", ylabel="return")
    axes.grid(alpha=0.3)
    axes.legend(loc="best")
    return atomic_write(path, lambda temporary: figure.savefig(temporary, format="png", dpi=100))
