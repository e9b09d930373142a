"""Reward scaling: rewards divided by the running standard deviation of the discounted return.

Stable-Baselines3's ``VecNormalize(norm_reward=True)`` (after OpenAI Baselines): each env keeps
its discounted return ``R_t = gamma * R_{t-1} + r_t`` (0 again after an episode ends); the loss
sees ``clip(r_t / sqrt(var(R) + epsilon), -clip, clip)`` with var(R) the running variance of all
R_t so far. Rewards keep their sign and their order; values and advantages come out in units of
about one, whatever the env's reward scale (Pendulum: -16 to 0 a step). Reported episode
returns stay raw: only the loss sees scaled rewards.
"""

from __future__ import annotations

import tensorflow as tf

from models.normalization import PRIOR_COUNT, Moments, merge_moments


class RewardScaler(tf.Module):
    """The running discounted return of ``num_envs`` envs and the variance of those returns.

    Its variables (each env's running return, and the count, mean and variance of the returns)
    are ``tf.Variable``s, so a ``tf.train.Checkpoint`` saves and restores it.

    Args:
        num_envs: envs of the rollouts it scales (N), >= 1.
        gamma: the discount of the returns, in (0, 1].
        clip: bound of the scaled rewards, > 0.
        epsilon: added to the variance, > 0.
    """

    def __init__(self, num_envs: int, gamma: float, clip: float = 10.0, epsilon: float = 1e-8):
        super().__init__(name="reward_scaler")
        self.gamma = float(gamma)
        self.clip = float(clip)
        self.epsilon = float(epsilon)
        self.returns = tf.Variable(tf.zeros([num_envs]), trainable=False, name="returns")
        self.count = tf.Variable(PRIOR_COUNT, trainable=False, name="count")
        self.mean = tf.Variable(0.0, trainable=False, name="mean")
        self.variance = tf.Variable(1.0, trainable=False, name="variance")

    def __call__(self, rewards, episode_ends, valid):
        """Updates the statistics with a rollout's returns and scales its rewards.

        Args:
            rewards: float32 ``(T, N)``, raw.
            episode_ends: float32 ``(T, N)``, 1.0 where an episode ended at step t.
            valid: float32 ``(T, N)``; steps with 0 (a vector env's reset steps) add no return
                to the statistics.

        Returns:
            float32 ``(T, N)``: the scaled rewards.
        """
        gamma = self.gamma

        def step(carry, inputs):
            _, running = carry
            reward, end = inputs
            discounted = gamma * running + reward
            return discounted, discounted * (1.0 - end)

        returns, running = tf.scan(
            step, (rewards, episode_ends), initializer=(self.returns, self.returns)
        )
        self.returns.assign(running[-1])
        weights = tf.reshape(valid, [-1])
        count = tf.reduce_sum(weights)
        mean, variance = tf.nn.weighted_moments(tf.reshape(returns, [-1]), [0], weights)
        now = Moments(self.count, self.mean, self.variance)
        merged = merge_moments(now, Moments(count, mean, variance))
        # A rollout of reset steps only (count 0) leaves the statistics as they were.
        for variable, value, old in zip(
            (self.count, self.mean, self.variance), merged, now, strict=True
        ):
            variable.assign(tf.where(count > 0, value, old))
        scaled = rewards * tf.math.rsqrt(self.variance + self.epsilon)
        return tf.clip_by_value(scaled, -self.clip, self.clip)
