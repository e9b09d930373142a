"""The baseline: an agent that picks actions uniformly at random."""

from __future__ import annotations

from utils.envs import make_env


class RandomAgent:
    """Plays episodes with uniformly random actions (about 22 an episode on CartPole).

    Args:
        env_id: gymnasium id of a supported env (see ``utils.envs.check_spaces``).
        seed: seeds the env's first reset and the action space's sampler.

    Raises:
        utils.errors.EnvError: if the env is unknown or unsupported.
    """

    def __init__(self, env_id: str, seed: int = 0):
        self.env = make_env(env_id)
        self.seed = seed

    def run(self, episode_log) -> list:
        """Plays episodes until ``episode_log`` (a ``training.episode_log.EpisodeLog``) is
        ``done`` (its budget is checked after each episode); closes the env; returns the
        episodes as the log recorded them (``training.episode_log.Episode``).

        Raises:
            ValueError: if the log has no budget (it would never be done).
        """
        env, log = self.env, episode_log
        if log.max_episodes is None and log.max_steps is None and log.stop_at is None:
            env.close()
            raise ValueError("the random baseline needs a budget: max_eps or max_steps")
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
