"""Training curves as PNG files, drawn without pyplot so no window ever opens."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from agents.episode_log import Episode
from agents.evaluation import Evaluation
from utils.files import atomic_write


def plot_moving_average(
    episodes: Sequence[Episode],
    path: str | os.PathLike,
    title: str,
    threshold: float | None = None,
    evaluations: Sequence[Evaluation] = (),
) -> Path:
    """Saves a PNG of episode returns, their moving average (0.99/0.01) and greedy evaluations.

    Args:
        episodes: recorded episodes, in order.
        path: the PNG to write (atomically).
        title: the figure's title, such as ``"A3C on CartPole-v1"``.
        threshold: the env's reward threshold, drawn as a dashed line if given.
        evaluations: greedy evaluations during training, drawn as mean ± std at the episode
            count when they ran.

    Returns:
        ``path`` as a ``Path``.
    """
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.add_subplot()
    index = [episode.index for episode in episodes]
    returns = [episode.episode_return for episode in episodes]
    average = [episode.moving_average for episode in episodes]
    axes.plot(index, returns, color="tab:blue", alpha=0.25, lw=0.8, label="episode return")
    axes.plot(index, average, color="tab:blue", lw=2, label="moving average (0.99)")
    if evaluations:
        axes.errorbar(
            [e.episodes for e in evaluations],
            [e.result.mean for e in evaluations],
            yerr=[e.result.std for e in evaluations],
            color="tab:orange",
            marker="o",
            ms=4,
            lw=1.5,
            capsize=3,
            label=f"greedy evaluation ({len(evaluations[0].result.returns)} episodes)",
        )
    if threshold is not None:
        axes.axhline(threshold, color="tab:green", ls="--", lw=1, label=f"threshold {threshold:g}")
    axes.set(title=title, xlabel="training episode", ylabel="return")
    axes.grid(alpha=0.3)
    axes.legend(loc="best")
    return atomic_write(path, lambda temporary: figure.savefig(temporary, format="png", dpi=100))
