"""Envs that fail on purpose, for the reliability tests. Name them on the command line as
``--env=tests.faulty_envs:CrashOddSeed-v0``: gymnasium imports this module, which registers them.
"""

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control import CartPoleEnv


class CrashOddSeed(CartPoleEnv):
    """CartPole that raises on its 30th step if it was first reset with an odd seed (in A3C with
    ``--seed=0``: worker 1's env)."""

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.crash, self.steps = seed % 2 == 1, 0
        return super().reset(seed=seed, options=options)

    def step(self, action):
        self.steps += 1
        if self.crash and self.steps == 30:
            raise RuntimeError("the simulator crashed")
        return super().step(action)


class NanReward(CartPoleEnv):
    """CartPole whose rewards are NaN: every loss is NaN."""

    def step(self, action):
        state, _, terminated, truncated, info = super().step(action)
        return state, float("nan"), terminated, truncated, info


class OutOfMemory(CartPoleEnv):
    """CartPole whose 2000th step (counted over every instance) fails to allocate."""

    calls = 0

    def step(self, action):
        OutOfMemory.calls += 1
        if OutOfMemory.calls == 2000:
            raise MemoryError("cannot allocate 8589934592 bytes")
        return super().step(action)


class TwoDiscreteActions(CartPoleEnv):
    """CartPole with a MultiDiscrete action space: one the agents do not support."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.action_space = gym.spaces.MultiDiscrete([2, 2])

    def step(self, action):
        return super().step(int(action[0]))


class UnboundedActions(gym.Env):
    """A Box action space without bounds (-inf to inf): the reward is -(a - 3)^2, the
    observation the last action."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
    action_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)

    def __init__(self, render_mode=None):
        self.render_mode = render_mode

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        action = np.asarray(action, np.float32).reshape(1)
        return action, -float((action[0] - 3.0) ** 2), False, False, {}


gym.register("CrashOddSeed-v0", entry_point=CrashOddSeed, max_episode_steps=500)
gym.register("NanReward-v0", entry_point=NanReward, max_episode_steps=500)
gym.register("OutOfMemory-v0", entry_point=OutOfMemory, max_episode_steps=500)
gym.register("TwoDiscreteActions-v0", entry_point=TwoDiscreteActions, max_episode_steps=500)
gym.register("UnboundedActions-v0", entry_point=UnboundedActions, max_episode_steps=100)
gym.register("NoThreshold-v0", entry_point=CartPoleEnv, max_episode_steps=200)  # no threshold
