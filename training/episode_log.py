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
        seconds: wall-clock seconds since the run started (resumed parts included).
    """

    index: int
    worker: int
    episode_return: float
    length: int
    moving_average: float
    recent_mean: float
    env_steps: int
    seconds: float

    @classmethod
    def from_values(cls, values) -> Episode:
        """An ``Episode`` from its fields as plain numbers, in order (a saved row)."""
        index, worker, episode_return, length, average, recent, steps, seconds = values
        return cls(
            int(index),
            int(worker),
            float(episode_return),
            int(length),
            float(average),
            float(recent),
            int(steps),
            float(seconds),
        )


class EpisodeLog:
    """Counts episodes and env steps across threads, and says when the run's budget is used.

    ``done`` is set when ``max_episodes`` episodes are recorded, when ``max_steps`` env steps are
    added, or, with ``stop_at``, at the first episode that closes ``window`` episodes whose mean
    return reaches it (``solved_at``). From then on ``record`` refuses episodes, so exactly
    ``max_episodes`` are recorded however many workers race; workers poll ``done`` to stop.

    Args:
        max_episodes: episode budget, >= 1, or None for none.
        max_steps: env-step budget, >= 1, or None for none.
        stop_at: a mean return over ``window`` episodes that ends the run (the env's reward
            threshold), or None.
        window: episodes in ``Episode.recent_mean``, the 100 of gymnasium's "solved" rule.
    """

    def __init__(
        self,
        max_episodes: int | None = None,
        max_steps: int | None = None,
        stop_at: float | None = None,
        window: int = 100,
    ):
        for name, budget in (("max_episodes", max_episodes), ("max_steps", max_steps)):
            if budget is not None and budget < 1:
                raise ValueError(f"{name} must be >= 1 or None, got {budget}")
        self.max_episodes = max_episodes
        self.max_steps = max_steps
        self.stop_at = stop_at
        self.window = window
        self.done = threading.Event()
        self.episodes: list[Episode] = []
        self.solved_at: Episode | None = None
        self._recent: deque[float] = deque(maxlen=window)
        self._env_steps = 0
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

    @property
    def progress(self) -> float:
        """The fraction of the budget used: the larger of episodes and env steps, at most 1."""
        fractions = [0.0]
        if self.max_episodes:
            fractions.append(len(self.episodes) / self.max_episodes)
        if self.max_steps:
            fractions.append(self._env_steps / self.max_steps)
        return min(1.0, max(fractions))

    def add_steps(self, steps: int) -> None:
        """Adds ``steps`` env steps taken by one worker (or all envs of a vector env)."""
        with self._lock:
            self._env_steps += steps
            if self.max_steps is not None and self._env_steps >= self.max_steps:
                self.done.set()

    def snapshot(self) -> tuple[list[Episode], int]:
        """A consistent copy of ``(episodes, env_steps)``."""
        with self._lock:
            return list(self.episodes), self._env_steps

    def restore(self, episodes: list[Episode], env_steps: int) -> None:
        """Continues from a saved snapshot: counts, averages and clock go on from there."""
        with self._lock:
            self.episodes = list(episodes)
            self._env_steps = env_steps
            self._recent.clear()
            self._recent.extend(e.episode_return for e in episodes[-self.window :])
            self._start = time.perf_counter() - (episodes[-1].seconds if episodes else 0.0)
            self.solved_at = None
            self.done.clear()
            episode_budget = self.max_episodes is not None and len(episodes) >= self.max_episodes
            step_budget = self.max_steps is not None and env_steps >= self.max_steps
            if episode_budget or step_budget:
                self.done.set()

    def set_budget(self, max_episodes: int | None, max_steps: int | None) -> None:
        """New budgets (totals, counting what is recorded already) for a run that goes on
        (another ``learn``): ``done`` clears, unless a budget is used already, and a run solved
        before may be solved again."""
        with self._lock:
            self.max_episodes, self.max_steps = max_episodes, max_steps
            self.solved_at = None
            self.done.clear()
            full = max_episodes is not None and len(self.episodes) >= max_episodes
            if full or (max_steps is not None and self._env_steps >= max_steps):
                self.done.set()

    def record(self, worker: int, episode_return: float, length: int) -> Episode | None:
        """Records a finished episode; returns it, or None (nothing recorded) after the episode
        budget is used or the run is solved."""
        with self._lock:
            full = self.max_episodes is not None and len(self.episodes) >= self.max_episodes
            if full or self.solved_at is not None:
                return None
            previous = self.episodes[-1].moving_average if self.episodes else episode_return
            self._recent.append(episode_return)
            episode = Episode(
                index=len(self.episodes) + 1,
                worker=worker,
                episode_return=float(episode_return),
                length=int(length),
                moving_average=0.99 * previous + 0.01 * episode_return,
                recent_mean=sum(self._recent) / len(self._recent),
                env_steps=self._env_steps,
                seconds=time.perf_counter() - self._start,
            )
            self.episodes.append(episode)
            if solved(episode, self.stop_at, self.window):
                self.solved_at = episode
                self.done.set()
            if self.max_episodes is not None and len(self.episodes) >= self.max_episodes:
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
