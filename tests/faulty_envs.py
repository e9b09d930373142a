"""Envs that fail on purpose, for the reliability tests. Name them on the command line as
``--env=tests.faulty_envs:CrashOddSeed-v0``: gymnasium imports this module, which registers them.
"""

import os
import sys
import threading
import time

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


class DictActions(CartPoleEnv):
    """CartPole with a Dict action space: one the agents do not support."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.action_space = gym.spaces.Dict({"push": gym.spaces.Discrete(2)})

    def step(self, action):
        return super().step(int(action["push"]))


class ImageInDict(CartPoleEnv):
    """CartPole whose observations are a Dict with an image in it: one the agents do not
    support (images only as the whole observation)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        frame = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
        self.observation_space = gym.spaces.Dict({"frame": frame, "state": self.observation_space})


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
gym.register("DictActions-v0", entry_point=DictActions, max_episode_steps=500)
gym.register("ImageInDict-v0", entry_point=ImageInDict, max_episode_steps=500)
gym.register("UnboundedActions-v0", entry_point=UnboundedActions, max_episode_steps=100)
gym.register("NoThreshold-v0", entry_point=CartPoleEnv, max_episode_steps=200)  # no threshold


class StepRaises(CartPoleEnv):
    """CartPole whose 40th step raises (every instance)."""

    def reset(self, *, seed=None, options=None):
        self.steps = 0
        return super().reset(seed=seed, options=options)

    def step(self, action):
        self.steps += 1
        if self.steps == 40:
            raise RuntimeError("the simulator crashed")
        return super().step(action)


class ResetRaises(CartPoleEnv):
    """CartPole whose reset raises."""

    def reset(self, *, seed=None, options=None):
        raise ConnectionError("the simulator is not running")


class WrongShape(CartPoleEnv):
    """CartPole whose observations have 3 numbers where its space says 4."""

    def reset(self, *, seed=None, options=None):
        state, info = super().reset(seed=seed, options=options)
        return state[:3], info

    def step(self, action):
        state, reward, terminated, truncated, info = super().step(action)
        return state[:3], reward, terminated, truncated, info


class TextObservations(CartPoleEnv):
    """CartPole whose observations are strings."""

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed, options=options)
        return np.array(["a", "b", "c", "d"]), {}


class OldGymApi(CartPoleEnv):
    """CartPole in the old gym API: ``step`` returns 4 values, ``reset`` the observation."""

    def reset(self, *, seed=None, options=None):
        return super().reset(seed=seed, options=options)[0]

    def step(self, action):
        state, reward, terminated, truncated, info = super().step(action)
        return state, reward, terminated or truncated, info


class NanObservationLater(CartPoleEnv):
    """CartPole whose observations become NaN from the 300th step of an instance on."""

    steps = 0

    def step(self, action):
        self.steps += 1
        state, reward, terminated, truncated, info = super().step(action)
        if self.steps >= 300:
            state = np.full_like(state, np.nan)
        return state, reward, terminated, truncated, info


class NeverEnds(gym.Env):
    """An episode that never terminates, registered without a time limit; reward 1 a step."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)
    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, render_mode=None):
        self.render_mode = render_mode

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 1.0, False, False, {}

    def render(self):
        return np.zeros((40, 60, 3), np.uint8)


class RendersNothing(CartPoleEnv):
    """CartPole that says it renders rgb_array frames, but whose render returns None."""

    def render(self):
        return None


class NoRenderModes(CartPoleEnv):
    """CartPole with no render modes."""

    metadata = {"render_modes": [], "render_fps": 50}


class EvaluationSeedsFail(CartPoleEnv):
    """CartPole whose reset raises for the seeds of the trainer's greedy evaluations
    (``training.trainer.EVAL_SEED_OFFSET`` = 20000 and up)."""

    def reset(self, *, seed=None, options=None):
        if seed is not None and seed >= 20_000:
            raise ValueError(f"no level for seed {seed}")
        return super().reset(seed=seed, options=options)


class Unpicklable(CartPoleEnv):
    """CartPole whose step info holds a lock, which cannot be sent from an ``async`` env's
    process."""

    def step(self, action):
        state, reward, terminated, truncated, info = super().step(action)
        return state, reward, terminated, truncated, {"lock": threading.Lock()}


class DiesInProcess(CartPoleEnv):
    """CartPole whose process ends itself on the 50th step (an ``async`` env's process dying)."""

    def reset(self, *, seed=None, options=None):
        self.steps = 0
        return super().reset(seed=seed, options=options)

    def step(self, action):
        self.steps += 1
        if self.steps == 50:
            os._exit(3)
        return super().step(action)


def in_ray_worker() -> bool:
    """Whether this process is a Ray worker (not the driver, nor a process without Ray)."""
    ray = sys.modules.get("ray")
    worker = getattr(getattr(getattr(ray, "_private", None), "worker", None), "global_worker", None)
    return ray is not None and getattr(worker, "mode", None) == ray.WORKER_MODE


class EndsRayWorker(CartPoleEnv):
    """CartPole that ends its process (``os._exit(3)``) at the 6th step taken in a Ray worker
    process: with ``--update-freq=5 --envs-per-worker=1`` the worker starts (its first rollout
    compiles the update), then dies at its first step of training, every time it is replaced.
    In the driver it is CartPole."""

    steps = 0  # in this process

    def step(self, action):
        if in_ray_worker():
            EndsRayWorker.steps += 1
            if EndsRayWorker.steps > 5:
                os._exit(3)
        return super().step(action)


class EndsRayWorkerAtOnce(CartPoleEnv):
    """CartPole that ends its process at its first step in a Ray worker: the worker dies as it
    starts."""

    def step(self, action):
        if in_ray_worker():
            os._exit(3)
        return super().step(action)


class EmptyBoxActions(CartPoleEnv):
    """CartPole whose action space is a Box of shape (0,): no action at all."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (0,), np.float32)


class ContinuousCartPole(CartPoleEnv):
    """CartPole pushed with a force in [-1, 1] (a one-dimensional Box action): the same
    observations as CartPole, the same number of policy outputs (a mean and a log sigma)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def step(self, action):
        box, self.action_space = self.action_space, gym.spaces.Discrete(2)  # CartPole checks it
        try:
            return super().step(int(np.asarray(action).reshape(-1)[0] > 0))
        finally:
            self.action_space = box


class ConstructorRaises(CartPoleEnv):
    """CartPole whose constructor fails (a simulator that will not start)."""

    def __init__(self, **kwargs):
        raise OSError("cannot open /dev/simulator")


class OldGymStep(CartPoleEnv):
    """CartPole whose step is in the old gym API (4 values); reset is gymnasium's."""

    def step(self, action):
        state, reward, terminated, truncated, info = super().step(action)
        return state, reward, terminated or truncated, info


class CloseRaises(CartPoleEnv):
    """CartPole whose close raises."""

    def close(self):
        raise RuntimeError("the simulator is already gone")


class RenderRaisesLater(CartPoleEnv):
    """CartPole whose 20th render (counted over every instance) raises."""

    renders = 0

    def render(self):
        RenderRaisesLater.renders += 1
        if RenderRaisesLater.renders == 20:
            raise RuntimeError("the GPU context was lost")
        return super().render()


class ExitInStep(CartPoleEnv):
    """CartPole that calls ``sys.exit(0)`` on the 300th step of an instance."""

    steps = 0

    def step(self, action):
        self.steps += 1
        if self.steps == 300:
            sys.exit(0)
        return super().step(action)


class DiscreteFromMinusOne(CartPoleEnv):
    """CartPole whose actions are -1 (left) and 0 (right): ``Discrete(2, start=-1)``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.action_space = gym.spaces.Discrete(2, start=-1)

    def step(self, action):
        assert action in (-1, 0), action
        space, self.action_space = self.action_space, gym.spaces.Discrete(2)  # CartPole checks
        try:
            return super().step(int(action) + 1)
        finally:
            self.action_space = space


class TextTerminated(CartPoleEnv):
    """CartPole whose ``terminated`` is the string "no" (true, as a string)."""

    def step(self, action):
        state, reward, _, truncated, info = super().step(action)
        return state, reward, "no", truncated, info


class ListInfo(CartPoleEnv):
    """CartPole whose info is a list."""

    def reset(self, *, seed=None, options=None):
        state, _ = super().reset(seed=seed, options=options)
        return state, []


class SlowToMake(CartPoleEnv):
    """CartPole that takes 5 s to make, saying so on stderr first: a run is then in its checks
    before training (``probe_env``) for 5 s."""

    def __init__(self, **kwargs):
        print("making SlowToMake", file=sys.stderr, flush=True)
        time.sleep(5)
        super().__init__(**kwargs)


for _name, _entry, _limit in [
    ("SlowToMake-v0", SlowToMake, 500),
    ("TextTerminated-v0", TextTerminated, 500),
    ("ListInfo-v0", ListInfo, 500),
    ("ExitInStep-v0", ExitInStep, 500),
    ("DiscreteFromMinusOne-v0", DiscreteFromMinusOne, 500),
    ("CloseRaises-v0", CloseRaises, 500),
    ("RenderRaisesLater-v0", RenderRaisesLater, 500),
    ("ConstructorRaises-v0", ConstructorRaises, 500),
    ("OldGymStep-v0", OldGymStep, 500),
    ("ContinuousCartPole-v0", ContinuousCartPole, 500),
    ("StepRaises-v0", StepRaises, 500),
    ("ResetRaises-v0", ResetRaises, 500),
    ("WrongShape-v0", WrongShape, 500),
    ("TextObservations-v0", TextObservations, 500),
    ("OldGymApi-v0", OldGymApi, 500),
    ("NanObservationLater-v0", NanObservationLater, 500),
    ("NeverEnds-v0", NeverEnds, None),
    ("RendersNothing-v0", RendersNothing, 500),
    ("NoRenderModes-v0", NoRenderModes, 500),
    ("EvaluationSeedsFail-v0", EvaluationSeedsFail, 500),
    ("Unpicklable-v0", Unpicklable, 500),
    ("DiesInProcess-v0", DiesInProcess, 500),
    ("EndsRayWorker-v0", EndsRayWorker, 500),
    ("EndsRayWorkerAtOnce-v0", EndsRayWorkerAtOnce, 500),
    ("EmptyBoxActions-v0", EmptyBoxActions, 500),
    ("A" + "x" * 240 + "-v0", CartPoleEnv, 500),
]:
    gym.register(_name, entry_point=_entry, max_episode_steps=_limit)
