"""Action distributions: closed forms against hand-computed values, sampling, gradient signs."""

import math

import numpy as np
import pytest
import tensorflow as tf

from models.distributions import Categorical, DiagonalGaussian

LOG_2PI = math.log(2 * math.pi)


def gaussian_params(mean, log_std):
    return tf.constant(np.concatenate([mean, log_std], axis=-1), tf.float32)


def test_gaussian_log_prob_and_entropy_match_the_hand_computed_values():
    gaussian = DiagonalGaussian(2)
    params = gaussian_params([0.0, 1.0], [0.0, math.log(2.0)])
    # dim 0: z = (1 - 0) / 1 = 1; dim 1: z = (1 - 1) / 2 = 0
    expected = (-0.5 - 0.0 - 0.5 * LOG_2PI) + (0.0 - math.log(2.0) - 0.5 * LOG_2PI)
    log_prob = gaussian.log_prob(params, tf.constant([1.0, 1.0]))
    assert float(log_prob) == pytest.approx(expected, abs=1e-6)
    entropy = 2 * 0.5 * (1 + LOG_2PI) + math.log(2.0)
    assert float(gaussian.entropy(params)) == pytest.approx(entropy, abs=1e-6)


def test_gaussian_log_prob_is_a_density_that_integrates_to_one():
    gaussian = DiagonalGaussian(1)
    grid = np.linspace(-12, 12, 24001, dtype=np.float32)[:, None]
    params = tf.broadcast_to(gaussian_params([0.5], [math.log(1.5)]), (len(grid), 2))
    density = np.exp(gaussian.log_prob(params, tf.constant(grid)).numpy())
    assert np.trapezoid(density, grid[:, 0]) == pytest.approx(1.0, abs=1e-4)


def test_gaussian_samples_have_its_mean_and_spread_and_are_seeded():
    gaussian = DiagonalGaussian(2)
    one = gaussian_params([1.0, -2.0], [math.log(0.5), math.log(3.0)])
    params = np.broadcast_to(one.numpy(), (20000, 4))

    def sample(seed):
        return gaussian.sample(params, gaussian.noise(np.random.default_rng(seed), (20000,)))

    first = sample(7)
    np.testing.assert_array_equal(first, sample(7))
    assert not np.array_equal(first, sample(8))
    assert first.shape == (20000, 2) and first.dtype == np.float32
    np.testing.assert_allclose(first.mean(axis=0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(first.std(axis=0), [0.5, 3.0], rtol=0.03)
    np.testing.assert_array_equal(gaussian.greedy(params)[0], [1.0, -2.0])


def test_categorical_samples_follow_the_softmax_and_are_seeded():
    categorical = Categorical(3)
    logits = np.log(np.array([0.2, 0.5, 0.3], np.float32))
    draws = 60000
    noise = categorical.noise(np.random.default_rng(3), (draws,))
    assert noise.shape == (draws, 3) and noise.dtype == np.float32
    actions = categorical.sample(np.broadcast_to(logits, (draws, 3)), noise)
    assert actions.shape == (draws,) and actions.dtype == np.int32
    frequencies = np.bincount(actions, minlength=3) / draws
    np.testing.assert_allclose(frequencies, [0.2, 0.5, 0.3], atol=0.01)
    again = categorical.noise(np.random.default_rng(3), (draws,))
    np.testing.assert_array_equal(noise, again)
    assert categorical.greedy(logits[None])[0] == 1


def test_per_step_terms_keep_the_rollout_shape():
    gaussian = DiagonalGaussian(3)
    params = tf.zeros((5, 4, 6))  # (T, N, 2A)
    actions = tf.zeros((5, 4, 3))
    assert gaussian.log_prob(params, actions).shape == (5, 4)
    assert gaussian.entropy(params).shape == (5, 4)
    assert Categorical(2).log_prob(tf.zeros((5, 4, 2)), tf.zeros((5, 4), tf.int32)).shape == (5, 4)


def test_a_positive_advantage_moves_the_mean_toward_the_action_and_the_bonus_widens():
    gaussian = DiagonalGaussian(1)
    params = tf.Variable(gaussian_params([0.0], [0.0]))
    action = tf.constant([2.0])
    with tf.GradientTape() as tape:
        loss = -gaussian.log_prob(params, action) * 1.0  # advantage +1
    gradient = tape.gradient(loss, params).numpy()
    assert gradient[0] < 0  # descending the loss raises the mean toward 2
    with tf.GradientTape() as tape:
        bonus = -0.01 * gaussian.entropy(params)  # the entropy bonus, subtracted from the loss
    assert tape.gradient(bonus, params).numpy()[1] < 0  # descending it raises log sigma


def test_a_gaussian_needs_a_dimension():
    with pytest.raises(ValueError, match="action_dim must be >= 1"):
        DiagonalGaussian(0)
