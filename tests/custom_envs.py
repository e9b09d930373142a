"""Envs that exist only as classes (registered nowhere), for the Python API's tests. Ray's
worker processes import this module to make them."""

import gymnasium as gym
import numpy as np


class Corridor(gym.Env):
    """A walk along a corridor of ``length`` cells: observation the position scaled to [0, 1]
    (float32 ``(1,)``), actions 0 (left) and 1 (right), reward -0.1 a step and +1 at the right
    end (terminated); cut (truncated) after ``max_steps`` steps. Greedy going right from the
    start at cell 0 returns ``1 - 0.1 * (length - 2)``; a random walk rarely gets there."""

    metadata = {"render_modes": []}

    def __init__(self, length: int = 8, max_steps: int = 40):
        self.length, self.max_steps = length, max_steps
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.position, self.steps = 0, 0

    def _observation(self):
        return np.array([self.position / (self.length - 1)], np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position, self.steps = 0, 0
        return self._observation(), {}

    def step(self, action):
        self.position = int(np.clip(self.position + (1 if action == 1 else -1), 0, self.length - 1))
        self.steps += 1
        terminated = self.position == self.length - 1
        reward = 1.0 if terminated else -0.1
        return self._observation(), reward, terminated, self.steps >= self.max_steps, {}


def short_corridor() -> gym.Env:
    """A factory function: a ``Corridor`` of 5 cells."""
    return Corridor(length=5)
