"""compute_advantages and compute_loss against numbers computed by hand."""

import numpy as np
import pytest
import tensorflow as tf

from agents.losses import compute_advantages, compute_loss
from agents.memory import Memory, Rollout


class ScriptedModel:
    """A stand-in for ActorCriticModel whose outputs are read off the states.

    A state is ``[value, logit_0, logit_1]``: the test writes V(s) and the policy into the state.
    """

    def __call__(self, states):
        return states[:, 1:3], states[:, 0]


def one_env_rollout(values, rewards, terminated=None, truncated=None, logits=None, actions=None):
    """A one-env Rollout of T steps; ``values`` has T + 1 entries, the last the bootstrap."""
    steps = len(rewards)
    logits = np.zeros((steps + 1, 2)) if logits is None else np.asarray(logits, float)
    states = np.concatenate([np.asarray(values, float)[:, None], logits], axis=1)
    zeros = np.zeros(steps)
    return Rollout(
        states=states[:, None, :].astype(np.float32),
        actions=np.asarray(zeros if actions is None else actions, np.int32)[:, None],
        rewards=np.asarray(rewards, np.float32)[:, None],
        terminated=np.asarray(zeros if terminated is None else terminated, np.float32)[:, None],
        truncated=np.asarray(zeros if truncated is None else truncated, np.float32)[:, None],
        valid=np.ones((steps, 1), np.float32),
    )


def test_returns_of_a_terminated_episode_do_not_bootstrap():
    # gamma 0.9, rewards 1, 1, 1, terminal at the end: R = 2.71, 1.9, 1; V(s_T) = 100 is ignored.
    rollout = one_env_rollout([0, 0, 0, 100], [1, 1, 1], terminated=[0, 0, 1])
    loss = compute_loss(ScriptedModel(), rollout, gamma=0.9)
    np.testing.assert_allclose(loss.returns[:, 0], [2.71, 1.9, 1.0], rtol=1e-6)


def test_returns_of_a_cut_rollout_bootstrap_from_the_next_state():
    # Not done after 3 steps, V(s_3) = 5: R_2 = 1 + 0.9 * 5 = 5.5, R_1 = 5.95, R_0 = 6.355.
    rollout = one_env_rollout([0, 0, 0, 5], [1, 1, 1])
    loss = compute_loss(ScriptedModel(), rollout, gamma=0.9)
    np.testing.assert_allclose(loss.returns[:, 0], [6.355, 5.95, 5.5], rtol=1e-6)


def test_truncated_bootstraps_from_the_final_observation_and_terminated_does_not():
    truncated = compute_loss(
        ScriptedModel(), one_env_rollout([0, 0, 0, 5], [1, 1, 1], truncated=[0, 0, 1]), gamma=0.9
    )
    terminated = compute_loss(
        ScriptedModel(), one_env_rollout([0, 0, 0, 5], [1, 1, 1], terminated=[0, 0, 1]), gamma=0.9
    )
    np.testing.assert_allclose(truncated.returns[:, 0], [6.355, 5.95, 5.5], rtol=1e-6)
    np.testing.assert_allclose(terminated.returns[:, 0], [2.71, 1.9, 1.0], rtol=1e-6)


def test_an_episode_end_inside_a_rollout_stops_the_sum():
    # Two envs stepped together; env 0 terminates at step 0 and a new episode runs on.
    rewards = np.array([[1.0, 1.0], [2.0, 1.0]])
    values = np.zeros((2, 2))
    next_values = np.array([[0.0, 0.0], [10.0, 10.0]])  # V(s_1) of env 0 is terminal: 0
    ends = np.array([[1.0, 0.0], [0.0, 0.0]])
    advantages, returns = compute_advantages(rewards, values, next_values, ends, gamma=0.5)
    # env 0: A_1 = 2 + 0.5 * 10 = 7; A_0 = 1 (the sum stops). env 1: A_1 = 6, A_0 = 1 + 0.5 * 6.
    np.testing.assert_allclose(advantages, [[1.0, 4.0], [7.0, 6.0]])
    np.testing.assert_allclose(returns, advantages)


def test_advantage_is_return_minus_value_with_shape_t_by_n():
    rollout = one_env_rollout([1, 2, 3, 5], [1, 1, 1])
    loss = compute_loss(ScriptedModel(), rollout, gamma=0.9)
    assert loss.advantages.shape == (3, 1) and loss.returns.shape == (3, 1)
    np.testing.assert_allclose(loss.advantages, loss.returns - np.array([[1], [2], [3]]), rtol=1e-6)


def test_policy_loss_is_elementwise_not_broadcast():
    # Distinct advantages and log-probabilities: an (N,) x (N, 1) product would average N*N terms.
    logits = [[0.0, 1.0], [2.0, 0.0], [0.5, 0.5], [0.0, 0.0]]
    rollout = one_env_rollout(
        [0, 0, 0, 0], [3, -1, 2], terminated=[0, 0, 1], logits=logits, actions=[1, 1, 0]
    )
    loss = compute_loss(ScriptedModel(), rollout, gamma=1.0, entropy_coef=0.0, value_coef=0.0)
    log_pi = tf.nn.log_softmax(np.array(logits[:3], np.float32)).numpy()[[0, 1, 2], [1, 1, 0]]
    advantages = np.array([4.0, 1.0, 2.0])  # returns 3-1+2, -1+2, 2 minus V = 0
    np.testing.assert_allclose(loss.advantages[:, 0], advantages)
    expected = np.mean(-log_pi * advantages)
    broadcast = np.mean(-log_pi[:, None] * advantages[None, :])
    assert abs(expected - broadcast) > 0.1  # the example can tell the two apart
    np.testing.assert_allclose(float(loss.policy_loss), expected, rtol=1e-5)
    np.testing.assert_allclose(float(loss.total), expected, rtol=1e-5)


def test_value_loss_is_the_mean_squared_error_to_the_return():
    rollout = one_env_rollout([1, 2, 0, 0], [1, 1, 1], terminated=[0, 0, 1])
    loss = compute_loss(ScriptedModel(), rollout, gamma=1.0, value_coef=0.5, entropy_coef=0.0)
    # Returns 3, 2, 1 against V = 1, 2, 0: errors 2, 0, 1.
    np.testing.assert_allclose(float(loss.value_loss), (4 + 0 + 1) / 3, rtol=1e-6)
    np.testing.assert_allclose(float(loss.total), float(loss.policy_loss) + 0.5 * 5 / 3, rtol=1e-5)


class TrainableModel(tf.Module):
    """Logits and value as free variables, the same for every state."""

    def __init__(self, logits=(0.0, 0.0), value=0.0):
        self.logits = tf.Variable([logits], dtype=tf.float32)
        self.value = tf.Variable(value, dtype=tf.float32)

    def __call__(self, states):
        batch = tf.shape(states)[0]
        return tf.tile(self.logits, [batch, 1]), tf.fill([batch], self.value)


def gradient_step(model, rollout, learning_rate=0.1, **loss_kwargs):
    with tf.GradientTape() as tape:
        loss = compute_loss(model, rollout, **loss_kwargs)
    gradients = tape.gradient(loss.total, model.trainable_variables)
    for variable, gradient in zip(model.trainable_variables, gradients, strict=True):
        variable.assign_sub(learning_rate * gradient)
    return loss


def entropy(logits):
    probs = tf.nn.softmax(logits).numpy()
    return float(-(probs * np.log(probs)).sum())


def test_minimising_the_loss_raises_the_entropy():
    # Zero rewards and values: the advantage is 0 and only the entropy term moves the policy.
    model = TrainableModel(logits=(2.0, -1.0))
    rollout = one_env_rollout([0, 0, 0], [0, 0], terminated=[0, 1])
    before = entropy(model.logits)
    for _ in range(30):
        loss = gradient_step(model, rollout, learning_rate=1.0, gamma=0.99, entropy_coef=0.5)
    after = entropy(model.logits)
    assert float(loss.policy_loss) == 0.0
    assert after > before + 0.2  # from 0.19 toward log(2) = 0.69
    assert float(loss.total) == pytest.approx(-0.5 * after, rel=1e-3)


@pytest.mark.parametrize("reward, direction", [(1.0, +1), (-1.0, -1)])
def test_policy_gradient_makes_actions_with_positive_advantage_more_likely(reward, direction):
    model = TrainableModel()
    rollout = one_env_rollout([0, 0], [reward], terminated=[1], actions=[1])
    gradient_step(model, rollout, gamma=0.99, entropy_coef=0.0, value_coef=0.0)
    probability = tf.nn.softmax(model.logits)[0, 1].numpy()
    assert direction * (probability - 0.5) > 0.01


def test_value_gradient_moves_the_value_toward_the_return():
    model = TrainableModel(value=0.0)
    rollout = one_env_rollout([0, 0], [4.0], terminated=[1])
    for _ in range(3):
        gradient_step(model, rollout, gamma=0.99, entropy_coef=0.0, value_coef=0.5)
    assert 0.0 < float(model.value) < 4.0


def test_invalid_steps_change_nothing():
    memory = Memory()
    for value, reward in [(1.0, 1.0), (2.0, 0.5), (0.5, 2.0)]:
        memory.store([value, 0.3, -0.2], 1, reward, False, False)
    plain = compute_loss(ScriptedModel(), memory.to_rollout([4.0, 0.0, 0.0]), gamma=0.9)
    padded = compute_loss(ScriptedModel(), memory.to_rollout([4.0, 0.0, 0.0], pad_to=7), gamma=0.9)
    for name in ("total", "policy_loss", "value_loss", "entropy"):
        np.testing.assert_allclose(
            float(getattr(padded, name)), float(getattr(plain, name)), rtol=1e-6
        )
    np.testing.assert_allclose(padded.returns[:3], plain.returns, rtol=1e-6)


def test_gae_with_lambda_one_is_n_step_return_minus_value():
    rng = np.random.default_rng(0)
    steps, envs, gamma = 6, 4, 0.9
    rewards = rng.normal(size=(steps, envs))
    values = rng.normal(size=(steps + 1, envs))  # V(s_0) .. V(s_T)
    final_values = rng.normal(size=(steps, envs))  # V of a truncated episode's final observation
    ends = (rng.random((steps, envs)) < 0.3).astype(float)
    next_values = np.where(ends > 0, final_values, values[1:])
    advantages, returns = compute_advantages(rewards, values[:-1], next_values, ends, gamma, 1.0)
    expected = np.zeros((steps, envs))
    for env in range(envs):
        for t in range(steps):
            total, discount = 0.0, 1.0
            for k in range(t, steps):  # sum rewards until the episode or the rollout ends
                total += discount * rewards[k, env]
                discount *= gamma
                if ends[k, env] or k == steps - 1:
                    total += discount * next_values[k, env]
                    break
            expected[t, env] = total - values[t, env]
    np.testing.assert_allclose(advantages, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(returns, expected + values[:-1], rtol=1e-5, atol=1e-5)


def test_gae_matches_a_hand_computed_example():
    # gamma 0.5, lambda 0.5, V = 0 everywhere, bootstrap 4: deltas 1, 1, 1 + 0.5 * 4 = 3.
    # A_2 = 3, A_1 = 1 + 0.25 * 3 = 1.75, A_0 = 1 + 0.25 * 1.75 = 1.4375.
    advantages, _ = compute_advantages(
        [[1.0], [1.0], [1.0]], [[0.0]] * 3, [[0.0], [0.0], [4.0]], [[0.0]] * 3, 0.5, 0.5
    )
    np.testing.assert_allclose(advantages[:, 0], [1.4375, 1.75, 3.0])
