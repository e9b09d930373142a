"""Small envs for the Python API's tests and the spaces' tests. Ray's worker processes import this
module to make them. ``Corridor`` exists only as a class (registered nowhere); the envs of the
spaces users bring (``DialLock``: MultiDiscrete actions, ``LightSwitches``: MultiBinary actions,
``DiscreteCorridor``: Discrete observations, ``GoalCorridor``: Dict observations) are also
registered, on import, as ``spaces/<Name>-v0`` for the command line
(``--env=tests.custom_envs:spaces/GoalCorridor-v0``; the namespace keeps the ids apart from the
classes' own names, under which the Python API registers a class it is given). They take
gymnasium's ``render_mode`` and render nothing."""

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


class DialLock(gym.Env):
    """MultiDiscrete actions: a lock of two dials, set to the code shown. Observation: the code,
    one-hot per dial (float32 ``(7,)``: 3 positions, then 4); actions ``MultiDiscrete([3, 4],
    start=[1, -1])``, so the first dial's positions are 1..3 and the second's -1..2. Reward:
    the dials set right (0, 1 or 2) each step; a new code each step; ``steps`` steps an
    episode (truncated). The optimum returns ``2 * steps``; uniform random dials return
    ``(1/3 + 1/4) * steps`` on average."""

    metadata = {"render_modes": []}

    def __init__(self, steps: int = 4, render_mode=None):
        self.steps_per_episode = steps
        self.action_space = gym.spaces.MultiDiscrete([3, 4], start=[1, -1])
        self.observation_space = gym.spaces.Box(0.0, 1.0, (7,), np.float32)
        self.code, self.steps = np.zeros(2, np.int64), 0

    def _observation(self):
        observation = np.zeros(7, np.float32)
        first, second = self.code - self.action_space.start
        observation[first] = observation[3 + second] = 1.0
        return observation

    def _new_code(self):
        self.code = self.np_random.integers(0, self.action_space.nvec) + self.action_space.start

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.steps = 0
        self._new_code()
        return self._observation(), {}

    def step(self, action):
        assert self.action_space.contains(action), action
        reward = float(np.sum(np.asarray(action) == self.code))
        self.steps += 1
        self._new_code()
        return self._observation(), reward, False, self.steps >= self.steps_per_episode, {}


class LightSwitches(gym.Env):
    """MultiBinary actions: three switches to set to the pattern shown. Observation: the
    pattern as floats (float32 ``(3,)``, 0 or 1 each); actions ``MultiBinary(3)``. Reward:
    the switches set right (0 to 3) each step; a new pattern each step; ``steps`` steps an
    episode (truncated). The optimum returns ``3 * steps``; random switches ``1.5 * steps``."""

    metadata = {"render_modes": []}

    def __init__(self, steps: int = 4, render_mode=None):
        self.steps_per_episode = steps
        self.action_space = gym.spaces.MultiBinary(3)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (3,), np.float32)
        self.pattern, self.steps = np.zeros(3, np.int8), 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.steps = 0
        self.pattern = self.np_random.integers(0, 2, 3).astype(np.int8)
        return self.pattern.astype(np.float32), {}

    def step(self, action):
        assert self.action_space.contains(action), action
        reward = float(np.sum(action == self.pattern))
        self.steps += 1
        self.pattern = self.np_random.integers(0, 2, 3).astype(np.int8)
        return (
            self.pattern.astype(np.float32),
            reward,
            False,
            self.steps >= self.steps_per_episode,
            {},
        )


class DiscreteCorridor(Corridor):
    """``Corridor`` whose observation is the cell itself, ``Discrete(length)`` (the model sees
    it one-hot): the optimum going right returns ``1 - 0.1 * (length - 2)``."""

    def __init__(self, length: int = 5, max_steps: int = 20, render_mode=None):
        super().__init__(length, max_steps)
        self.observation_space = gym.spaces.Discrete(length)

    def _observation(self):
        return self.position


class GoalCorridor(gym.Env):
    """Dict observations: a corridor of 5 cells, starting in the middle, whose goal is one end,
    told in the observation: ``{"goal": Discrete(2) (0 left, 1 right), "position":
    Discrete(5), "time": Box(0, 1, (1,)) (steps / max_steps)}``; actions 0 (left) and 1
    (right). Reward -0.1 a step, +1 on reaching the goal (terminated), the other end ends the
    episode with -1 (terminated); cut after ``max_steps``. The optimum, two steps toward the
    goal, returns 0.9; a policy that ignores the goal returns at most -0.05 on average."""

    metadata = {"render_modes": []}

    def __init__(self, max_steps: int = 20, render_mode=None):
        self.max_steps = max_steps
        self.observation_space = gym.spaces.Dict(
            {
                "goal": gym.spaces.Discrete(2),
                "position": gym.spaces.Discrete(5),
                "time": gym.spaces.Box(0.0, 1.0, (1,), np.float32),
            }
        )
        self.action_space = gym.spaces.Discrete(2)
        self.goal, self.position, self.steps = 0, 2, 0

    def _observation(self):
        time = np.array([self.steps / self.max_steps], np.float32)
        return {"goal": self.goal, "position": self.position, "time": time}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.goal, self.position, self.steps = int(self.np_random.integers(2)), 2, 0
        return self._observation(), {}

    def step(self, action):
        self.position += 1 if action == 1 else -1
        self.steps += 1
        end = self.position in (0, 4)
        reward = -0.1
        if end:
            reward = 1.0 if self.position == 4 * self.goal else -1.0
        return self._observation(), reward, end, self.steps >= self.max_steps, {}


for _env, _limit in ((DialLock, 4), (LightSwitches, 4), (DiscreteCorridor, 20), (GoalCorridor, 20)):
    if f"spaces/{_env.__name__}-v0" not in gym.registry:
        gym.register(f"spaces/{_env.__name__}-v0", entry_point=_env, max_episode_steps=_limit)
