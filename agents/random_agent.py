"""The baseline: an agent that picks actions uniformly at random."""

from __future__ import annotations

from agents.episode_log import Episode, EpisodeLog
from utils.envs import make_env


class RandomAgent:
    """Plays episodes with uniformly random actions (about 22 a episode on CartPole) until its
    budget is used: ``max_eps`` episodes or ``max_steps`` env steps, whichever comes first
    (checked after each episode).

    Args:
        env_id: gymnasium id of a supported env (see ``utils.envs.check_spaces``).
        max_eps: episode budget, >= 1, or None for none.
        seed: seeds the env's first reset and the action space's sampler.
        max_steps: env-step budget, >= 1, or None for none.

    Raises:
        utils.envs.EnvError: if the env is unknown or unsupported.
        ValueError: if a budget is < 1, or neither is given.
    """

    def __init__(
        self, env_id: str, max_eps: int | None, seed: int = 0, max_steps: int | None = None
    ):
        if not (max_eps or max_steps):
            raise ValueError("the random baseline needs a budget: max_eps or max_steps")
        self.episode_log = EpisodeLog(max_eps, max_steps)
        self.env = make_env(env_id)
        self.seed = seed

    def run(self) -> list[Episode]:
        """Plays the episodes; returns them as recorded by the episode log."""
        env, log = self.env, self.episode_log
        env.action_space.seed(self.seed)
        env.reset(seed=self.seed)
        try:
            while not log.done.is_set():
                episode_return, length, over = 0.0, 0, False
                while not over:
                    _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
                    episode_return += float(reward)
                    length += 1
                    over = terminated or truncated
                log.add_steps(length)
                log.record(worker=0, episode_return=episode_return, length=length)
                env.reset()
        finally:
            env.close()
        return list(log.episodes)
