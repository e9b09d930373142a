"""The actor-critic loss, written once for A3C and A2C.

Math: Mnih et al. 2016, "Asynchronous Methods for Deep Reinforcement Learning" (arXiv:1602.01783),
algorithm S3 and section 4; advantages by Schulman et al. 2016, "High-Dimensional Continuous
Control Using Generalized Advantage Estimation" (arXiv:1506.02438), equation 16.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import tensorflow as tf

from agents.memory import Rollout
from models.distributions import Categorical


class LossInfo(NamedTuple):
    """The total loss, its parts, and the targets they were computed from.

    ``total = policy_loss + value_coef * value_loss - entropy_coef * entropy``; the four are
    float32 scalars, each a mean over the valid steps. ``advantages`` and ``returns`` are float32
    ``(T, N)``, constants for the gradient.
    """

    total: tf.Tensor
    policy_loss: tf.Tensor
    value_loss: tf.Tensor
    entropy: tf.Tensor
    advantages: tf.Tensor
    returns: tf.Tensor


def compute_advantages(rewards, values, next_values, episode_ends, gamma, gae_lambda=1.0):
    """Generalised advantage estimates and the returns they imply, over a time-major rollout.

    ``delta_t = r_t + gamma * next_value_t - V(s_t)`` and
    ``A_t = delta_t + gamma * lambda * (1 - end_t) * A_{t+1}`` (GAE, eq. 16), computed backwards
    from the last step with ``A_T = 0``. With ``gae_lambda=1`` this is the n-step return of A3C
    minus V(s_t): ``sum_k gamma^k r_{t+k} + gamma^n V(s_{t+n}) - V(s_t)``, the sum stopping at the
    end of an episode.

    Args:
        rewards: float32 ``(T, N)``.
        values: float32 ``(T, N)``, V(s_t) of the states acted on.
        next_values: float32 ``(T, N)``, the value to bootstrap from after step t: V(s_{t+1}),
            and 0.0 where s_{t+1} is terminal. A truncated step keeps V(s_{t+1}) of its final
            observation.
        episode_ends: float32 ``(T, N)``, 1.0 where the episode ended at step t (terminated or
            truncated): the sum stops there.
        gamma: discount factor in (0, 1].
        gae_lambda: GAE lambda in [0, 1]; 1.0 gives n-step returns.

    Returns:
        ``(advantages, returns)``, float32 ``(T, N)`` each, with ``returns = advantages + values``.
    """
    rewards = tf.convert_to_tensor(rewards, tf.float32)
    values = tf.convert_to_tensor(values, tf.float32)
    next_values = tf.convert_to_tensor(next_values, tf.float32)
    episode_ends = tf.convert_to_tensor(episode_ends, tf.float32)
    deltas = rewards + gamma * next_values - values
    decays = gamma * gae_lambda * (1.0 - episode_ends)

    def accumulate(later_advantage, step):
        delta, decay = step
        return delta + decay * later_advantage

    advantages = tf.scan(
        accumulate,
        (deltas, decays),
        initializer=tf.zeros_like(deltas[0]),
        reverse=True,
    )
    return advantages, advantages + values


def replay(model: Callable, states, valid, recurrent_state=()):
    """The model's outputs on a rollout's ``T + 1`` states, as acting saw them.

    A model with ``unroll`` (``ActorCriticModel``) runs the sequence from the rollout's stored
    ``recurrent_state``, zeroing a recurrent state after each step with ``valid`` 0 (the reset
    step of a vector env), where acting zeroed it; any other callable maps the flattened states.

    Args:
        states: float32 ``(T + 1, N, obs_dim)``.
        valid: float32 ``(T, N)``.

    Returns:
        ``(params, values)``: float32 ``(T + 1, N, P)`` and ``(T + 1, N)``.
    """
    steps, num_envs = tf.shape(states)[0], tf.shape(states)[1]
    if hasattr(model, "unroll"):
        keep = tf.concat([tf.ones_like(valid[:1]), valid], axis=0)  # (T + 1, N)
        return model.unroll(states, keep, recurrent_state)
    params, values = model(tf.reshape(states, [steps * num_envs, -1]))
    return tf.reshape(params, [steps, num_envs, -1]), tf.reshape(values, [steps, num_envs])


def compute_loss(
    model: Callable,
    rollout: Rollout,
    gamma: float,
    gae_lambda: float = 1.0,
    entropy_coef: float = 0.01,
    value_coef: float = 0.5,
    distribution=None,
) -> LossInfo:
    """The A3C/A2C loss of one rollout.

    For each valid step t with advantage A_t (``compute_advantages``, held constant) and target
    return R_t = A_t + V(s_t):

    - policy loss ``-log pi(a_t|s_t) * A_t`` (the policy-gradient term),
    - value loss ``(R_t - V(s_t))^2``,
    - entropy ``H(pi(.|s_t))``, subtracted: a bonus that keeps the policy exploring.

    The bootstrap after step t is 0 if step t ``terminated``, else V(s_{t+1}): after a
    ``truncated`` step s_{t+1} is the final observation of the cut-off episode, not a reset one.
    Steps with ``valid`` 0 (padding, the reset step of a vector env) are left out of every mean
    and of every other step's advantage.

    Args:
        model: an ``ActorCriticModel`` (its ``unroll`` replays the rollout, through an LSTM
            core from ``rollout.recurrent_state``), or any callable mapping float32
            ``(B, obs_dim)`` states to ``(policy params (B, P), value (B,))``, called once on
            all ``(T + 1) * N`` states.
        rollout: a ``Rollout`` of T steps from N envs (numpy arrays or tensors).
        gamma: discount factor in (0, 1].
        gae_lambda: GAE lambda in [0, 1]; 1.0 gives the n-step returns of the A3C paper.
        entropy_coef: weight of the entropy bonus, >= 0.
        value_coef: weight of the value loss, >= 0.
        distribution: the policy's action distribution (``log_prob`` and ``entropy`` of the
            params); default: the model's ``distribution``, else ``Categorical``.

    Returns:
        ``LossInfo`` of float32 scalars.
    """
    states = tf.convert_to_tensor(rollout.states)  # uint8 images stay bytes: the model scales
    if states.dtype != tf.uint8:
        states = tf.cast(states, tf.float32)
    if distribution is None:
        distribution = getattr(model, "distribution", None) or Categorical()
    actions = tf.convert_to_tensor(rollout.actions, distribution.action_dtype)
    rewards = tf.convert_to_tensor(rollout.rewards, tf.float32)
    terminated = tf.convert_to_tensor(rollout.terminated, tf.float32)
    truncated = tf.convert_to_tensor(rollout.truncated, tf.float32)
    valid = tf.convert_to_tensor(rollout.valid, tf.float32)

    params, values = replay(model, states, valid, rollout.recurrent_state)
    params = params[:-1]  # (T, N, P); values (T + 1, N)

    next_values = tf.stop_gradient(values[1:]) * (1.0 - terminated)
    # The sum of an advantage stops at the end of an episode and before an invalid step, so the
    # padding and the reset steps of a vector env reach no valid step's advantage.
    next_valid = tf.concat([valid[1:], tf.ones_like(valid[:1])], axis=0)
    episode_ends = tf.maximum(tf.maximum(terminated, truncated), 1.0 - next_valid)
    advantages, returns = compute_advantages(
        rewards, tf.stop_gradient(values[:-1]), next_values, episode_ends, gamma, gae_lambda
    )

    log_prob_taken = distribution.log_prob(params, actions)  # (T, N)
    entropy = distribution.entropy(params)  # (T, N)
    # Every per-step term is (T, N): a (T, N, 1) advantage would silently broadcast to (T, N, N).
    for term in (log_prob_taken, entropy, advantages, returns):
        term.shape.assert_is_compatible_with(rewards.shape)

    def valid_mean(per_step):
        return tf.reduce_sum(per_step * valid) / tf.maximum(tf.reduce_sum(valid), 1.0)

    policy_loss = valid_mean(-log_prob_taken * advantages)
    value_loss = valid_mean(tf.square(returns - values[:-1]))
    mean_entropy = valid_mean(entropy)
    total = policy_loss + value_coef * value_loss - entropy_coef * mean_entropy
    return LossInfo(total, policy_loss, value_loss, mean_entropy, advantages, returns)
