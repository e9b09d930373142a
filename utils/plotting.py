"""Training curves as PNG files, drawn without pyplot so no window ever opens."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from agents.episode_log import Episode
from utils.files import atomic_write


def plot_moving_average(
    episodes: Sequence[Episode], path: str | os.PathLike, title: str, threshold: float | None = None
) -> Path:
    """Saves episode returns and their moving average (0.99/0.01) against episodes as a PNG.

    Args:
        episodes: recorded episodes, in order.
        path: the PNG to write (atomically).
        title: the figure's title, such as ``"A3C on CartPole-v1"``.
        threshold: the env's reward threshold, drawn as a dashed line if given.

    Returns:
        ``path`` as a ``Path``.
    """
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.add_subplot()
    index = [episode.index for episode in episodes]
    axes.plot(
        index,
        [e.episode_return for e in episodes],
        color="tab:blue",
        alpha=0.25,
        lw=0.8,
        label="episode return",
    )
    axes.plot(
        index,
        [e.moving_average for e in episodes],
        color="tab:blue",
        lw=2,
        label="moving average (0.99)",
    )
    if threshold is not None:
        axes.axhline(threshold, color="tab:green", ls="--", lw=1, label=f"threshold {threshold:g}")
    axes.set(title=title, xlabel="episode", ylabel="return")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left")
    return atomic_write(path, lambda temporary: figure.savefig(temporary, format="png", dpi=100))
