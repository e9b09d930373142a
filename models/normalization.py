"""Running mean and variance: observation normalisation inside the model, and the statistics
reward scaling divides by.

As Stable-Baselines3's ``VecNormalize`` does, observations are normalised by the running mean and
variance of every observation seen in training, then clipped; the statistics are weights of the
model (not trainable), so checkpoints, saved weights and exported ``.keras`` models carry them and
a saved model acts on raw observations. Statistics are merged a batch at a time with the parallel
algorithm of Chan, Golub and LeVeque (1979, "Updating formulae and a pairwise algorithm for
computing sample variances"), so A3C's workers can send their batches' moments to one place.
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import tensorflow as tf

# The statistics start as a prior of this many observations of mean 0 and variance 1
# (VecNormalize's epsilon), so the first batch does not divide by a variance of 0.
PRIOR_COUNT = 1e-4


class Moments(NamedTuple):
    """Count, mean and (population) variance of a batch: float32 ``()``, ``(D,)``, ``(D,)``."""

    count: tf.Tensor
    mean: tf.Tensor
    variance: tf.Tensor


def batch_moments(batch) -> Moments:
    """The ``Moments`` of ``batch``, float32 ``(B, D)``, over its first axis."""
    batch = tf.convert_to_tensor(batch, tf.float32)
    mean, variance = tf.nn.moments(batch, axes=[0])
    return Moments(tf.cast(tf.shape(batch)[0], tf.float32), mean, variance)


def merge_moments(a: Moments, b: Moments) -> Moments:
    """The moments of two batches together (Chan et al. 1979):

    ``n = n_a + n_b``, ``mean = mean_a + delta * n_b / n`` and
    ``var = (var_a * n_a + var_b * n_b + delta^2 * n_a * n_b / n) / n`` with
    ``delta = mean_b - mean_a``.
    """
    count = a.count + b.count
    delta = b.mean - a.mean
    mean = a.mean + delta * (b.count / count)
    squares = (
        a.variance * a.count + b.variance * b.count + tf.square(delta) * a.count * b.count / count
    )
    return Moments(count, mean, squares / count)


@keras.saving.register_keras_serializable(package="a3c_keras")
class ObservationNormalization(keras.layers.Layer):
    """``clip((x - mean) / sqrt(variance + epsilon), -clip, clip)`` with running statistics.

    The statistics are non-trainable weights (``mean`` and ``variance`` ``(obs_dim,)``, ``count``
    ``()``, float32); only ``update`` and ``merge`` change them, never the optimizer.

    Args:
        clip: bound of the normalised values, > 0 (VecNormalize's default 10).
        epsilon: added to the variance, > 0.

    Call: float32 ``(batch, obs_dim)`` -> float32 ``(batch, obs_dim)``.
    """

    def __init__(self, clip: float = 10.0, epsilon: float = 1e-8, **kwargs):
        super().__init__(**kwargs)
        if clip <= 0 or epsilon <= 0:
            raise ValueError(f"clip and epsilon must be > 0, got {clip} and {epsilon}")
        self.clip = float(clip)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        dim = int(input_shape[-1])
        self.mean = self.add_weight(shape=(dim,), initializer="zeros", trainable=False, name="mean")
        self.variance = self.add_weight(
            shape=(dim,), initializer="ones", trainable=False, name="variance"
        )
        self.count = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(PRIOR_COUNT),
            trainable=False,
            name="count",
        )

    def call(self, observations):
        scaled = (observations - self.mean) * tf.math.rsqrt(self.variance + self.epsilon)
        return tf.clip_by_value(scaled, -self.clip, self.clip)

    def moments(self) -> Moments:
        """The running statistics as ``Moments``."""
        return Moments(
            tf.convert_to_tensor(self.count),
            tf.convert_to_tensor(self.mean),
            tf.convert_to_tensor(self.variance),
        )

    def merge(self, moments: Moments) -> None:
        """Adds a batch's ``Moments`` (``batch_moments``) to the running statistics."""
        count, mean, variance = merge_moments(self.moments(), moments)
        self.count.assign(count)
        self.mean.assign(mean)
        self.variance.assign(variance)

    def update(self, observations) -> None:
        """Adds float32 ``(batch, obs_dim)`` observations to the running statistics."""
        self.merge(batch_moments(observations))

    def get_config(self):
        return {**super().get_config(), "clip": self.clip, "epsilon": self.epsilon}
