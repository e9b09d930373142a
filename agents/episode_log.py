"""A thread-safe record of finished episodes, shared by the workers of one run."""

from __future__ import annotations

import csv
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import NamedTuple

from utils.files import atomic_write


class Episode(NamedTuple):
    """One finished episode as the log recorded it.

    Attributes:
        index: 1-based number of the episode in the run.
        worker: id of the worker that played it.
        episode_return: undiscounted sum of rewards.
        length: env steps in the episode.
        moving_average: ``0.99 * previous + 0.01 * episode_return`` (the first episode starts it),
            the smoothing of the 2018 example.
        recent_mean: mean return of the last ``window`` episodes (fewer at the start).
        env_steps: env steps taken by all workers when the episode was recorded.
        seconds: wall-clock seconds since the log was created.
        is_best: True if ``recent_mean`` reached a new high (ties count, so the latest of
            equally good models wins) over a full window (``window`` episodes, or all of a
            shorter budget); the caller saves the model then.
    """

    index: int
    worker: int
    episode_return: float
    length: int
    moving_average: float
    recent_mean: float
    env_steps: int
    seconds: float
    is_best: bool

    @classmethod
    def from_values(cls, values) -> Episode:
        """An ``Episode`` from its fields as plain numbers, in order (a saved row)."""
        index, worker, episode_return, length, average, recent, steps, seconds, best = values
        return cls(
            int(index),
            int(worker),
            float(episode_return),
            int(length),
            float(average),
            float(recent),
            int(steps),
            float(seconds),
            bool(best),
        )


class EpisodeLog:
    """Counts episodes and env steps across threads and stops the run after ``max_episodes``.

    Exactly ``max_episodes`` episodes are recorded: ``record`` refuses any episode that finishes
    after the budget is used and sets ``done``, which workers poll to stop.

    Args:
        max_episodes: the run's episode budget, >= 1, or None for no budget (A2C's is in steps).
        window: episodes in ``Episode.recent_mean``, the 100 of gymnasium's "solved" rule.
    """

    def __init__(self, max_episodes: int | None, window: int = 100):
        if max_episodes is not None and max_episodes < 1:
            raise ValueError(f"max_episodes must be >= 1, got {max_episodes}")
        self.max_episodes = max_episodes
        self.window = window
        self.done = threading.Event()
        self.episodes: list[Episode] = []
        self._recent: deque[float] = deque(maxlen=window)
        self._env_steps = 0
        self._best = float("-inf")
        self._lock = threading.Lock()
        self._start = time.perf_counter()

    @property
    def seconds(self) -> float:
        """Seconds since the log started, counting those before a restore."""
        return time.perf_counter() - self._start

    @property
    def env_steps(self) -> int:
        """Env steps added so far by all workers."""
        return self._env_steps

    def add_steps(self, steps: int) -> None:
        """Adds ``steps`` env steps taken by one worker."""
        with self._lock:
            self._env_steps += steps

    def snapshot(self) -> tuple[list[Episode], int]:
        """A consistent copy of ``(episodes, env_steps)``."""
        with self._lock:
            return list(self.episodes), self._env_steps

    def restore(self, episodes: list[Episode], env_steps: int) -> None:
        """Continues from a saved snapshot: counts, averages, best and clock go on from there."""
        with self._lock:
            self.episodes = list(episodes)
            self._env_steps = env_steps
            self._recent.clear()
            self._recent.extend(e.episode_return for e in episodes[-self.window :])
            bests = [e.recent_mean for e in episodes if e.is_best]
            self._best = bests[-1] if bests else float("-inf")
            self._start = time.perf_counter() - (episodes[-1].seconds if episodes else 0.0)
            budget = self.max_episodes
            if budget is not None and len(self.episodes) >= budget:
                self.done.set()

    def record(self, worker: int, episode_return: float, length: int) -> Episode | None:
        """Records a finished episode; returns it, or None if the budget was already used."""
        with self._lock:
            budget = self.max_episodes
            if budget is not None and len(self.episodes) >= budget:
                return None
            previous = self.episodes[-1].moving_average if self.episodes else episode_return
            self._recent.append(episode_return)
            recent_mean = sum(self._recent) / len(self._recent)
            full = len(self._recent) >= min(self.window, budget or self.window)
            is_best = full and recent_mean >= self._best
            if is_best:
                self._best = recent_mean
            episode = Episode(
                index=len(self.episodes) + 1,
                worker=worker,
                episode_return=float(episode_return),
                length=int(length),
                moving_average=0.99 * previous + 0.01 * episode_return,
                recent_mean=recent_mean,
                env_steps=self._env_steps,
                seconds=time.perf_counter() - self._start,
                is_best=is_best,
            )
            self.episodes.append(episode)
            if budget is not None and len(self.episodes) >= budget:
                self.done.set()
            return episode


def solved(episode: Episode, threshold: float | None, window: int = 100) -> bool:
    """Whether ``episode`` closes ``window`` episodes whose mean return reaches ``threshold``:
    gymnasium's "solved" rule (mean over 100 consecutive episodes). False without a threshold."""
    return threshold is not None and episode.index >= window and episode.recent_mean >= threshold


def save_episodes_csv(episodes: list[Episode], path: str | os.PathLike) -> Path:
    """Writes episodes to a CSV file atomically, one row each with ``Episode``'s fields."""

    def write(temporary: str) -> None:
        with open(temporary, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(Episode._fields)
            writer.writerows(episodes)

    return atomic_write(path, write)
