"""Action distributions of a policy: the policy head that gives their parameters (a Keras layer),
log-probability and entropy (TensorFlow, for the loss), sampling and the greedy action (NumPy,
for acting).

``compute_loss`` sees a policy only through ``log_prob`` and ``entropy``, and the model builds
its policy head with ``distribution.policy_head``, so another distribution (a Gaussian for
continuous actions) plugs in beside ``Categorical`` without touching the loss or the model.
Acting runs in NumPy (``models.acting``): a rollout's random noise is drawn
at once from a seeded ``np.random.Generator`` (``noise``), and each step turns the policy's
params and its slice of the noise into actions (``sample``). Each function takes the policy
head's output ``params`` with any leading batch shape ``(...)``. A distribution whose
``holds_noise`` is True (``StateDependentGaussian``) keeps one draw of its noise for several
steps: the collector draws it once per resample and reuses it until the next.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf


class Categorical:
    """pi(a|s) = softmax(logits)_a over ``num_actions`` discrete actions.

    ``params`` are the logits, float32 ``(..., num_actions)``; actions are int32 ``(...)``.
    Math: the softmax policy of Mnih et al. 2016 (arXiv:1602.01783, section 5.1).
    """

    action_dtype = tf.int32
    action_shape: tuple[int, ...] = ()  # one action per env is a scalar
    holds_noise = False  # fresh noise at every step

    def __init__(self, num_actions: int | None = None):
        self.num_actions = num_actions  # only the policy head's width needs it

    @property
    def params_size(self) -> int:
        """Width of the policy head: one logit per action."""
        if self.num_actions is None:
            raise ValueError("Categorical(num_actions) is needed to size a policy head")
        return self.num_actions

    def policy_head(
        self, log_std_init: float = 0.0, kernel_initializer="glorot_uniform"
    ) -> keras.layers.Dense:
        """The layer that gives the logits from the policy's features: linear, one unit per
        action, its kernel started by ``kernel_initializer`` (``log_std_init`` is for Gaussian
        policies; a categorical one has none)."""
        return keras.layers.Dense(
            self.params_size, kernel_initializer=kernel_initializer, name="policy_logits"
        )

    def noise(self, generator: np.random.Generator, batch_shape) -> np.ndarray:
        """Standard Gumbel noise for ``sample``: float32 ``(*batch_shape, num_actions)``."""
        return generator.gumbel(size=(*batch_shape, self.params_size)).astype(np.float32)

    def sample(self, logits: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """a ~ softmax(logits), NumPy: float32 ``(..., A)`` logits and Gumbel ``noise`` of the
        same shape (a slice of ``noise``'s) -> int32 ``(...)``.

        The Gumbel-max trick: argmax(logits + Gumbel noise) is distributed as softmax(logits)
        (Gumbel 1954; Maddison et al. 2014, "A* Sampling", section 2).
        """
        return np.argmax(logits + noise, axis=-1).astype(np.int32)

    def log_prob(self, logits, actions):
        """log pi(a|s): logits float32 ``(..., A)``, actions int32 ``(...)`` -> ``(...)``."""
        log_probs = tf.nn.log_softmax(logits)
        return tf.gather(log_probs, actions, axis=-1, batch_dims=len(actions.shape))

    def entropy(self, logits):
        """H(pi(.|s)) = -sum_a pi(a|s) log pi(a|s): float32 ``(..., A)`` -> ``(...)``."""
        log_probs = tf.nn.log_softmax(logits)
        return -tf.reduce_sum(tf.exp(log_probs) * log_probs, axis=-1)

    def greedy(self, logits: np.ndarray) -> np.ndarray:
        """argmax_a pi(a|s), NumPy: float32 ``(..., A)`` -> int32 ``(...)``."""
        return np.argmax(logits, axis=-1).astype(np.int32)


class DiagonalGaussian:
    """pi(a|s) = N(a; mu(s), diag(sigma^2)) over ``action_dim`` continuous actions.

    ``params`` are float32 ``(..., 2 * action_dim)``: the mean mu, then log sigma (the model
    broadcasts one learned log sigma per action dimension, independent of the state, as
    Stable-Baselines3's A2C does; a state-dependent variance head, as Mnih et al. 2016 used for
    MuJoCo, would share the trunk with the value loss). Actions are float32
    ``(..., action_dim)``: the unclipped samples, whose log-probabilities the loss uses (the env
    is to receive them clipped to its bounds).

    Math (closed form, per dimension i, summed over i):
    ``log pi(a|s) = -((a_i - mu_i) / sigma_i)^2 / 2 - log sigma_i - log(2 pi) / 2`` and
    ``H = log sigma_i + (1 + log(2 pi)) / 2``; Mnih et al. 2016 (arXiv:1602.01783, section 5.2,
    continuous action control) with the entropy of a Gaussian.
    """

    action_dtype = tf.float32
    holds_noise = False  # fresh noise at every step

    def __init__(self, action_dim: int):
        if action_dim < 1:
            raise ValueError(f"action_dim must be >= 1, got {action_dim}")
        self.action_dim = int(action_dim)
        self.action_shape: tuple[int, ...] = (self.action_dim,)

    @property
    def params_size(self) -> int:
        """Width of the policy's output: a mean and a log sigma per action dimension."""
        return 2 * self.action_dim

    def policy_head(
        self, log_std_init: float = 0.0, kernel_initializer="glorot_uniform"
    ) -> GaussianHead:
        """The layer that gives the params from the policy's features (``GaussianHead``), its
        log sigmas starting at ``log_std_init``, its mean's kernel by ``kernel_initializer``."""
        return GaussianHead(
            self.action_dim, log_std_init, kernel_initializer=kernel_initializer, name="policy_head"
        )

    def split(self, params):
        """``(mean, log_std)``, each float32 ``(..., action_dim)``."""
        return params[..., : self.action_dim], params[..., self.action_dim :]

    def noise(self, generator: np.random.Generator, batch_shape) -> np.ndarray:
        """eps ~ N(0, I) for ``sample``: float32 ``(*batch_shape, action_dim)``."""
        return generator.standard_normal((*batch_shape, self.action_dim), np.float32)

    def sample(self, params: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """a = mu + sigma * eps, NumPy: params float32 ``(..., 2A)`` and eps ``noise``
        ``(..., A)`` (a slice of ``noise``'s) -> float32 ``(..., A)``."""
        mean, log_std = self.split(params)
        return (mean + np.exp(log_std) * noise).astype(np.float32)

    def log_prob(self, params, actions):
        """log pi(a|s): params ``(..., params_size)``, actions float32 ``(..., A)`` ->
        ``(...)``; the mean and log sigma come from ``split``."""
        mean, log_std = self.split(params)
        z = (actions - mean) * tf.exp(-log_std)
        return tf.reduce_sum(-0.5 * tf.square(z) - log_std - 0.5 * math.log(2 * math.pi), -1)

    def entropy(self, params):
        """H(pi(.|s)) = sum_i log sigma_i + (1 + log 2 pi) / 2: ``(..., params_size)`` ->
        ``(...)``."""
        _, log_std = self.split(params)
        return tf.reduce_sum(log_std + 0.5 * (1.0 + math.log(2 * math.pi)), axis=-1)

    def greedy(self, params: np.ndarray) -> np.ndarray:
        """The mean mu, NumPy: ``(..., 2A)`` -> float32 ``(..., A)``."""
        return np.asarray(self.split(params)[0], np.float32)


@keras.saving.register_keras_serializable(package="a3c_keras")
class GaussianHead(keras.layers.Layer):
    """The policy head of ``DiagonalGaussian``: a linear mean of the features and one learned
    log standard deviation per action dimension, independent of the state, broadcast beside it.

    A state-independent sigma is Stable-Baselines3's A2C's; a sigma head on the trunk (the A3C
    paper's MuJoCo agents) would let the value loss's gradients through the shared trunk move
    the exploration noise, which a separate weight keeps apart.

    Args:
        action_dim: the action's dimensions, >= 1.
        log_std_init: the log sigmas' starting value.
        kernel_initializer: how the mean's kernel starts (a Keras initialiser or its name).

    Call: float32 ``(batch, features)`` -> params float32 ``(batch, 2 * action_dim)``: the mean,
    then log sigma.
    """

    def __init__(
        self,
        action_dim: int,
        log_std_init: float = 0.0,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.action_dim = int(action_dim)
        self.log_std_init = float(log_std_init)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.mean = keras.layers.Dense(
            self.action_dim, kernel_initializer=self.kernel_initializer, name="policy_mean"
        )

    def build(self, input_shape):
        self.mean.build(input_shape)
        self.log_std = self.add_weight(
            shape=(self.action_dim,),
            initializer=keras.initializers.Constant(self.log_std_init),
            name="log_std",
        )

    def call(self, features):
        mean = self.mean(features)
        log_std = tf.broadcast_to(tf.cast(self.log_std, mean.dtype), tf.shape(mean))
        return tf.concat([mean, log_std], axis=-1)

    def get_config(self):
        return {
            **super().get_config(),
            "action_dim": self.action_dim,
            "log_std_init": self.log_std_init,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


class StateDependentGaussian(DiagonalGaussian):
    """Generalised state-dependent exploration (gSDE): pi(a|s) = N(a; mu(s), diag(sigma(s)^2))
    where the noise is a function of the policy's features z(s), held fixed between resamples.

    Raffin, Kober and Stulp 2021, "Smooth Exploration for Robotic Reinforcement Learning"
    (arXiv:2005.05719), section 3 (after Rueckstiess et al. 2008): the exploration noise of
    action dimension i is ``eps_i(s) = sum_j z_j(s) theta_ji`` with ``theta_ji ~ N(0,
    sigma_ji^2)`` drawn per env at the start of each rollout (and every ``sde_sample_freq``
    steps), so the same state gets the same noise until the next draw and the exploration is
    smooth in time. For a given theta the action is deterministic; over theta it is Gaussian
    with ``sigma_i(s)^2 = sum_j z_j(s)^2 sigma_ji^2``: its log-probability and entropy are the
    diagonal Gaussian's (closed form) with that state-dependent sigma, plus ``1e-6`` in the
    variance as Stable-Baselines3's ``StateDependentNoiseDistribution`` adds. ``sigma`` is a
    learned matrix ``exp(log_std)`` of ``(latent_dim, action_dim)`` (SB3's ``full_std``), and
    z is held constant for the noise term (``stop_gradient``): the features are trained by the
    mean and the value only, as in the paper.

    ``params`` are float32 ``(..., action_dim * (1 + latent_dim))``: the mean mu, then the
    noise scales ``q_ji = z_j sigma_ji`` flattened from ``(latent_dim, action_dim)``, row-major.
    The noise (``noise``) is theta's standard normal part ``w`` of ``(..., latent_dim,
    action_dim)``, so ``a_i = mu_i + sum_j q_ji w_ji``. Actions are float32 ``(...,
    action_dim)``, unclipped (the env receives them clipped to its bounds). The greedy action
    is the mean.

    Args:
        action_dim: the action's dimensions, >= 1.
        latent_dim: the width of the features z(s) the head reads, >= 1.
    """

    holds_noise = True  # one draw per resample, held between
    variance_epsilon = 1e-6  # SB3's StateDependentNoiseDistribution.epsilon

    def __init__(self, action_dim: int, latent_dim: int):
        super().__init__(action_dim)
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        self.latent_dim = int(latent_dim)

    @property
    def params_size(self) -> int:
        """Width of the policy's output: the mean, then a noise scale per feature and action
        dimension."""
        return self.action_dim * (1 + self.latent_dim)

    def policy_head(
        self, log_std_init: float = 0.0, kernel_initializer="glorot_uniform"
    ) -> StateDependentNoiseHead:
        """The layer that gives the params from the policy's features
        (``StateDependentNoiseHead``), every log sigma_ji starting at ``log_std_init``."""
        return StateDependentNoiseHead(
            self.action_dim, log_std_init, kernel_initializer=kernel_initializer, name="policy_head"
        )

    def split(self, params):
        """``(mean, log_std)`` of the Gaussian over actions for the state: float32 ``(...,
        action_dim)`` each, ``log_std_i = log(sum_j q_ji^2 + 1e-6) / 2`` (TensorFlow)."""
        mean = params[..., : self.action_dim]
        scales = tf.reshape(
            params[..., self.action_dim :],
            tf.concat([tf.shape(params)[:-1], [self.latent_dim, self.action_dim]], axis=0),
        )
        variance = tf.reduce_sum(tf.square(scales), axis=-2) + self.variance_epsilon
        return mean, 0.5 * tf.math.log(variance)

    def noise(self, generator: np.random.Generator, batch_shape) -> np.ndarray:
        """w ~ N(0, I) for ``sample``: float32 ``(*batch_shape, latent_dim, action_dim)``, one
        exploration matrix per entry (the collector holds one per env between resamples)."""
        shape = (*batch_shape, self.latent_dim, self.action_dim)
        return generator.standard_normal(shape, np.float32)

    def sample(self, params: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """a = mu + z(s) . theta, NumPy: params float32 ``(..., P)`` and ``noise`` ``(...,
        latent_dim, action_dim)`` -> float32 ``(..., action_dim)``."""
        params = np.asarray(params, np.float32)
        mean = params[..., : self.action_dim]
        scales = params[..., self.action_dim :].reshape(
            *params.shape[:-1], self.latent_dim, self.action_dim
        )
        return (mean + np.sum(scales * noise, axis=-2)).astype(np.float32)

    def greedy(self, params: np.ndarray) -> np.ndarray:
        """The mean mu, NumPy: ``(..., P)`` -> float32 ``(..., action_dim)``."""
        return np.asarray(params[..., : self.action_dim], np.float32)


@keras.saving.register_keras_serializable(package="a3c_keras")
class StateDependentNoiseHead(GaussianHead):
    """The policy head of ``StateDependentGaussian``: ``GaussianHead``'s linear mean of the
    features z, and the noise scales ``q_ji = z_j exp(log_std_ji)``, with z held constant for
    the scales (``stop_gradient``: the noise term does not train the features) and ``log_std``
    a learned ``(features, action_dim)`` matrix, independent of the state, every entry starting
    at ``log_std_init``. Arguments as ``GaussianHead``'s.

    Call: float32 ``(batch, features)`` -> params float32 ``(batch, action_dim * (1 +
    features))``: the mean, then q flattened row-major from ``(features, action_dim)``.
    """

    def build(self, input_shape):
        self.mean.build(input_shape)
        self.log_std = self.add_weight(
            shape=(int(input_shape[-1]), self.action_dim),
            initializer=keras.initializers.Constant(self.log_std_init),
            name="log_std",
        )

    def call(self, features):
        mean = self.mean(features)
        sigma = tf.exp(tf.cast(self.log_std, mean.dtype))  # (features, action_dim)
        scales = tf.stop_gradient(features)[:, :, None] * sigma[None]
        scales = tf.reshape(scales, [-1, sigma.shape[0] * self.action_dim])
        return tf.concat([mean, scales], axis=-1)
