"""Action distributions: closed forms against hand-computed values, sampling, gradient signs; the
one place an action space is matched to its distribution."""

import math

import numpy as np
import pytest
import tensorflow as tf

from models.distributions import (
    DISTRIBUTIONS,
    Bernoulli,
    Categorical,
    DiagonalGaussian,
    Distribution,
    MultiCategorical,
    StateDependentGaussian,
    distribution_for,
)
from utils.spaces import SUPPORTED_ACTIONS, ActionSpec

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


def test_multi_categorical_log_prob_and_entropy_are_the_entries_sums():
    multi = MultiCategorical(2, 3)
    # entry 0: probabilities (0.25, 0.75); entry 1: (0.2, 0.3, 0.5)
    logits = tf.constant(np.log([0.25, 0.75, 0.2, 0.3, 0.5]), tf.float32)
    log_prob = multi.log_prob(logits, tf.constant([1, 2]))
    assert float(log_prob) == pytest.approx(math.log(0.75) + math.log(0.5), abs=1e-6)
    assert float(multi.log_prob(logits, tf.constant([0, 0]))) == pytest.approx(
        math.log(0.25 * 0.2), abs=1e-6
    )
    entropy = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    entropy -= 0.2 * math.log(0.2) + 0.3 * math.log(0.3) + 0.5 * math.log(0.5)
    assert float(multi.entropy(logits)) == pytest.approx(entropy, abs=1e-6)
    np.testing.assert_array_equal(multi.greedy(logits.numpy()[None]), [[1, 2]])
    # The probabilities of every action sum to one.
    total = sum(
        math.exp(float(multi.log_prob(logits, tf.constant([a, b]))))
        for a in range(2)
        for b in range(3)
    )
    assert total == pytest.approx(1.0, abs=1e-6)


def test_multi_categorical_samples_each_entry_from_its_softmax_and_is_seeded():
    multi = MultiCategorical(3, 2)
    probabilities = [[0.2, 0.5, 0.3], [0.9, 0.1]]
    logits = np.log(np.concatenate(probabilities)).astype(np.float32)
    draws = 60000
    noise = multi.noise(np.random.default_rng(5), (draws,))
    assert noise.shape == (draws, 5) and noise.dtype == np.float32
    actions = multi.sample(np.broadcast_to(logits, (draws, 5)), noise)
    assert actions.shape == (draws, 2) and actions.dtype == np.int32
    for entry, expected in enumerate(probabilities):
        frequencies = np.bincount(actions[:, entry], minlength=len(expected)) / draws
        np.testing.assert_allclose(frequencies, expected, atol=0.01)
    # Independent entries: the joint frequency is the product.
    joint = np.mean((actions[:, 0] == 1) & (actions[:, 1] == 0))
    assert joint == pytest.approx(0.5 * 0.9, abs=0.01)
    np.testing.assert_array_equal(noise, multi.noise(np.random.default_rng(5), (draws,)))


def test_bernoulli_log_prob_and_entropy_match_the_hand_computed_values():
    bernoulli = Bernoulli(3)
    p = np.array([0.2, 0.5, 0.9])
    logits = tf.constant(np.log(p / (1 - p)), tf.float32)
    log_prob = bernoulli.log_prob(logits, tf.constant([1, 0, 1]))
    assert float(log_prob) == pytest.approx(math.log(0.2 * 0.5 * 0.9), abs=1e-6)
    entropy = -sum(q * math.log(q) + (1 - q) * math.log(1 - q) for q in p)
    assert float(bernoulli.entropy(logits)) == pytest.approx(entropy, abs=1e-6)
    # Extreme logits stay finite (softplus, not log of a sigmoid that rounds to 0).
    extreme = tf.constant([60.0, -60.0, 0.0])
    assert np.isfinite(bernoulli.log_prob(extreme, tf.constant([0, 1, 1])).numpy())
    assert np.isfinite(bernoulli.entropy(extreme).numpy())
    np.testing.assert_array_equal(bernoulli.greedy(logits.numpy()), [0, 0, 1])


def test_bernoulli_bits_are_set_with_their_sigmoid_and_are_seeded():
    bernoulli = Bernoulli(3)
    p = np.array([0.1, 0.5, 0.8])
    logits = np.log(p / (1 - p)).astype(np.float32)
    draws = 60000
    noise = bernoulli.noise(np.random.default_rng(9), (draws,))
    assert noise.shape == (draws, 3) and noise.dtype == np.float32
    actions = bernoulli.sample(np.broadcast_to(logits, (draws, 3)), noise)
    assert actions.dtype == np.int32 and set(np.unique(actions)) == {0, 1}
    np.testing.assert_allclose(actions.mean(axis=0), p, atol=0.01)
    np.testing.assert_array_equal(noise, bernoulli.noise(np.random.default_rng(9), (draws,)))


def test_the_new_distributions_keep_the_rollout_shape_and_a_positive_advantage_raises_the_action():
    for distribution, actions in (
        (MultiCategorical(2, 3), tf.zeros((5, 4, 2), tf.int32)),
        (Bernoulli(3), tf.ones((5, 4, 3), tf.int32)),
    ):
        params = tf.zeros((5, 4, distribution.params_size))
        assert distribution.log_prob(params, actions).shape == (5, 4)
        assert distribution.entropy(params).shape == (5, 4)
        one = tf.Variable(tf.zeros(distribution.params_size))
        with tf.GradientTape() as tape:
            loss = -distribution.log_prob(one, actions[0, 0]) * 1.0  # advantage +1
        before = float(distribution.log_prob(one, actions[0, 0]))
        one.assign_sub(0.1 * tape.gradient(loss, one))
        assert float(distribution.log_prob(one, actions[0, 0])) > before


def test_each_supported_action_space_has_its_distribution_in_one_place():
    assert set(DISTRIBUTIONS) == {"Discrete", "Box", "MultiDiscrete", "MultiBinary"}
    assert all(name in SUPPORTED_ACTIONS for name in DISTRIBUTIONS)
    for cls in DISTRIBUTIONS.values():
        assert issubclass(cls, Distribution)
    cases = [
        (ActionSpec("Discrete", (4,)), Categorical, 4, ()),
        (ActionSpec("Box", (2,)), DiagonalGaussian, 4, (2,)),
        (ActionSpec("MultiDiscrete", (3, 4)), MultiCategorical, 7, (2,)),
        (ActionSpec("MultiBinary", (5,)), Bernoulli, 5, (5,)),
    ]
    for action, cls, params_size, action_shape in cases:
        distribution = distribution_for(action)
        assert type(distribution) is cls
        assert distribution.params_size == params_size
        assert distribution.action_shape == action_shape
    sde = distribution_for(ActionSpec("Box", (2,)), use_sde=True, features=8)
    assert isinstance(sde, StateDependentGaussian) and sde.params_size == 2 * 9
    with pytest.raises(ValueError, match="needs continuous actions"):
        distribution_for(ActionSpec("MultiBinary", (3,)), use_sde=True, features=8)
    with pytest.raises(ValueError, match="no distribution for actions"):
        distribution_for(ActionSpec("Text", (3,)))
    with pytest.raises(TypeError):  # an interface: its methods must all be given
        Distribution()
