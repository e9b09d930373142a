"""Action distributions of a policy: the policy head that gives their parameters (a Keras layer),
log-probability and entropy (TensorFlow, for the loss), sampling and the greedy action (NumPy,
for acting).

``Distribution`` is the interface: ``compute_loss`` sees a policy only through ``log_prob`` and
``entropy``, acting through ``noise``, ``sample`` and ``greedy``, and the model builds its policy
head with ``policy_head``. ``distribution_for`` is the one place an env's action space
(``utils.spaces.ActionSpec``) is matched to its distribution, from ``DISTRIBUTIONS``: Discrete
``Categorical``, Box ``DiagonalGaussian`` (``StateDependentGaussian`` with gSDE), MultiDiscrete
``MultiCategorical``, MultiBinary ``Bernoulli``. Acting runs in NumPy (``models.acting``): a
rollout's random noise is drawn at once from a seeded ``np.random.Generator`` (``noise``), and
each step turns the policy's params and its slice of the noise into actions (``sample``). Each
function takes the policy head's output ``params`` with any leading batch shape ``(...)``. A
distribution whose ``holds_noise`` is True (``StateDependentGaussian``) keeps one draw of its
noise for several steps: the collector draws it once per resample and reuses it until the next.
"""

from __future__ import annotations

import abc
import math
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from utils.spaces import ActionSpec


class Distribution(abc.ABC):
    """A policy's distribution over one env's actions.

    Class attributes:
        space: the action space it is for, as gymnasium names its class (``"Discrete"``):
            ``distribution_for`` picks it by this.
        action_dtype: the ``tf.DType`` of its actions (int32 or float32).
        holds_noise: whether one draw of ``noise`` serves several steps (gSDE).

    Instances have ``action_shape``, the shape of one env's action (``()`` for one integer),
    and ``params_size``, the width of the policy head's output.
    """

    space: ClassVar[str] = ""
    action_dtype: ClassVar[tf.DType]
    action_shape: tuple[int, ...]
    holds_noise: ClassVar[bool] = False

    @classmethod
    def for_action(cls, action: ActionSpec) -> Distribution:
        """The distribution of an action space's sizes (``ActionSpec.sizes``)."""
        return cls(*action.sizes)

    @property
    @abc.abstractmethod
    def params_size(self) -> int:
        """Width of the policy head's output."""

    @abc.abstractmethod
    def policy_head(
        self, log_std_init: float = 0.0, kernel_initializer="glorot_uniform"
    ) -> keras.layers.Layer:
        """The layer that gives the params from the policy's features, float32 ``(batch,
        features)`` -> ``(batch, params_size)``; a kind of layer ``models/layer_forms.py``
        knows."""

    @abc.abstractmethod
    def noise(self, generator: np.random.Generator, batch_shape) -> np.ndarray:
        """The random numbers ``sample`` turns into actions, for ``batch_shape`` draws."""

    @abc.abstractmethod
    def sample(self, params: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """Actions drawn from the policy, NumPy: params ``(..., params_size)`` and a slice of
        ``noise``'s -> ``(..., *action_shape)`` of ``action_dtype``."""

    @abc.abstractmethod
    def greedy(self, params: np.ndarray) -> np.ndarray:
        """The most likely action (a Gaussian's mean), NumPy: ``(..., params_size)`` ->
        ``(..., *action_shape)``."""

    @abc.abstractmethod
    def log_prob(self, params, actions):
        """log pi(a|s), TensorFlow: params ``(..., params_size)``, actions ``(...,
        *action_shape)`` -> float32 ``(...)``."""

    @abc.abstractmethod
    def entropy(self, params):
        """H(pi(.|s)), TensorFlow: ``(..., params_size)`` -> float32 ``(...)``."""


def logits_head(size: int, kernel_initializer) -> keras.layers.Dense:
    """The policy head of logits: linear, ``size`` units, its kernel started by
    ``kernel_initializer``."""
    return keras.layers.Dense(size, kernel_initializer=kernel_initializer, name="policy_logits")


class Categorical(Distribution):
    """pi(a|s) = softmax(logits)_a over ``num_actions`` discrete actions (a ``Discrete`` space).

    ``params`` are the logits, float32 ``(..., num_actions)``; actions are int32 ``(...)``.
    Math: the softmax policy of Mnih et al. 2016 (arXiv:1602.01783, section 5.1).
    """

    space = "Discrete"
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
        return logits_head(self.params_size, kernel_initializer)

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


class DiagonalGaussian(Distribution):
    """pi(a|s) = N(a; mu(s), diag(sigma^2)) over ``action_dim`` continuous actions (a flat
    ``Box`` space).

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

    space = "Box"
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


class MultiCategorical(Distribution):
    """Independent categoricals, one per entry of a ``MultiDiscrete`` space:
    ``pi(a|s) = prod_i softmax(logits_i)_{a_i}``, entry i choosing among ``nvec[i]``.

    ``params`` are the entries' logits concatenated, float32 ``(..., sum(nvec))``; actions are
    int32 ``(..., k)`` for the ``k`` entries, each in ``0..nvec[i]-1`` (the env receives them
    shifted by its ``start``: ``utils.envs.action_clipper``). The log-probability and the
    entropy are the sums of the entries' (independence), as Stable-Baselines3's
    ``MultiCategoricalDistribution``; sampling is ``Categorical``'s Gumbel-max per entry.

    Args:
        *nvec: each entry's number of choices, >= 1 each, at least one entry.
    """

    space = "MultiDiscrete"
    action_dtype = tf.int32

    def __init__(self, *nvec: int):
        if not nvec or min(nvec) < 1:
            raise ValueError(f"nvec must be one or more sizes >= 1, got {nvec}")
        self.nvec = tuple(int(size) for size in nvec)
        self.action_shape: tuple[int, ...] = (len(self.nvec),)
        ends = np.cumsum(self.nvec)
        self._segments = list(zip(ends - self.nvec, ends, strict=True))  # each entry's logits

    @property
    def params_size(self) -> int:
        """Width of the policy head: every entry's logits."""
        return sum(self.nvec)

    def policy_head(
        self, log_std_init: float = 0.0, kernel_initializer="glorot_uniform"
    ) -> keras.layers.Dense:
        """Linear logits of every entry, side by side (``log_std_init`` is for Gaussians)."""
        return logits_head(self.params_size, kernel_initializer)

    def noise(self, generator: np.random.Generator, batch_shape) -> np.ndarray:
        """Standard Gumbel noise for ``sample``: float32 ``(*batch_shape, sum(nvec))``."""
        return generator.gumbel(size=(*batch_shape, self.params_size)).astype(np.float32)

    def sample(self, logits: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """a_i ~ softmax(logits_i) for each entry, NumPy: float32 ``(..., sum(nvec))`` logits
        and Gumbel ``noise`` of the same shape -> int32 ``(..., k)``: the Gumbel-max trick
        (``Categorical.sample``) on each entry's slice."""
        return self.greedy(logits + noise)

    def greedy(self, logits: np.ndarray) -> np.ndarray:
        """argmax of each entry's logits, NumPy: ``(..., sum(nvec))`` -> int32 ``(..., k)``."""
        logits = np.asarray(logits)
        entries = [np.argmax(logits[..., start:end], axis=-1) for start, end in self._segments]
        return np.stack(entries, axis=-1).astype(np.int32)

    def _log_probs(self, logits) -> list:
        return [tf.nn.log_softmax(part) for part in tf.split(logits, list(self.nvec), axis=-1)]

    def log_prob(self, logits, actions):
        """log pi(a|s) = sum_i log softmax(logits_i)_{a_i}: logits float32 ``(...,
        sum(nvec))``, actions int32 ``(..., k)`` -> ``(...)``."""
        actions = tf.convert_to_tensor(actions, tf.int32)
        batch_dims = len(actions.shape) - 1
        taken = [
            tf.gather(log_probs, actions[..., i], axis=-1, batch_dims=batch_dims)
            for i, log_probs in enumerate(self._log_probs(logits))
        ]
        return tf.add_n(taken)

    def entropy(self, logits):
        """H = sum_i H(softmax(logits_i)), each ``-sum_a p log p``: ``(..., sum(nvec))`` ->
        ``(...)``."""
        return tf.add_n(
            [-tf.reduce_sum(tf.exp(lp) * lp, axis=-1) for lp in self._log_probs(logits)]
        )


class Bernoulli(Distribution):
    """Independent Bernoullis, one per bit of a ``MultiBinary`` space:
    ``pi(a|s) = prod_j sigma(l_j)^{a_j} (1 - sigma(l_j))^{1 - a_j}`` with ``sigma`` the
    logistic sigmoid of the bit's logit ``l_j``.

    ``params`` are the logits, float32 ``(..., n)``; actions are int32 ``(..., n)`` of 0 and 1
    (the env receives them in its space's dtype). Log-probability and entropy are sums over
    the bits (independence), as Stable-Baselines3's ``BernoulliDistribution``:
    ``log pi = sum_j a_j log sigma(l_j) + (1 - a_j) log sigma(-l_j)`` and ``H = sum_j
    sigma(l_j) softplus(-l_j) + sigma(-l_j) softplus(l_j)`` (as ``-log sigma(l) =
    softplus(-l)``). A bit is sampled as ``l_j + L_j > 0`` with ``L_j`` standard logistic noise,
    which holds with probability ``P(L > -l) = sigma(l)``.

    Args:
        bits: the number of bits, >= 1.
    """

    space = "MultiBinary"
    action_dtype = tf.int32

    def __init__(self, bits: int):
        if bits < 1:
            raise ValueError(f"bits must be >= 1, got {bits}")
        self.bits = int(bits)
        self.action_shape: tuple[int, ...] = (self.bits,)

    @property
    def params_size(self) -> int:
        """Width of the policy head: one logit per bit."""
        return self.bits

    def policy_head(
        self, log_std_init: float = 0.0, kernel_initializer="glorot_uniform"
    ) -> keras.layers.Dense:
        """Linear logits, one per bit (``log_std_init`` is for Gaussians)."""
        return logits_head(self.params_size, kernel_initializer)

    def noise(self, generator: np.random.Generator, batch_shape) -> np.ndarray:
        """Standard logistic noise for ``sample``: float32 ``(*batch_shape, bits)``."""
        return generator.logistic(size=(*batch_shape, self.bits)).astype(np.float32)

    def sample(self, logits: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """a_j = [l_j + L_j > 0], NumPy: float32 ``(..., bits)`` logits and logistic ``noise``
        of the same shape -> int32 ``(..., bits)`` of 0 and 1."""
        return (np.asarray(logits) + noise > 0).astype(np.int32)

    def greedy(self, logits: np.ndarray) -> np.ndarray:
        """Each bit's likelier value, [l_j > 0], NumPy: ``(..., bits)`` -> int32."""
        return (np.asarray(logits) > 0).astype(np.int32)

    def log_prob(self, logits, actions):
        """log pi(a|s): logits float32 ``(..., bits)``, actions int32 ``(..., bits)`` ->
        ``(...)``; each bit's term is minus its sigmoid cross-entropy."""
        labels = tf.cast(actions, logits.dtype)
        terms = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
        return -tf.reduce_sum(terms, axis=-1)

    def entropy(self, logits):
        """H(pi(.|s)) = sum_j sigma(l_j) softplus(-l_j) + sigma(-l_j) softplus(l_j):
        ``(..., bits)`` -> ``(...)``."""
        p = tf.sigmoid(logits)
        return tf.reduce_sum(
            p * tf.nn.softplus(-logits) + (1.0 - p) * tf.nn.softplus(logits), axis=-1
        )


# Each action space's distribution, by the space's name (``utils.spaces.ActionSpec.space``).
DISTRIBUTIONS: dict[str, type[Distribution]] = {
    distribution.space: distribution
    for distribution in (Categorical, DiagonalGaussian, MultiCategorical, Bernoulli)
}


def distribution_for(action: ActionSpec, use_sde: bool = False, features: int = 0) -> Distribution:
    """The distribution of a policy over ``action`` (``utils.spaces.ActionSpec``): the one
    place an action space is matched to its distribution (``DISTRIBUTIONS``). With
    ``use_sde``, a Box's is ``StateDependentGaussian`` over ``features`` (the width of what
    the policy head reads).

    Raises:
        ValueError: for a space no distribution is for, or ``use_sde`` with another than Box.
    """
    if action.space not in DISTRIBUTIONS:
        raise ValueError(
            f"no distribution for actions {action}; there are for {', '.join(DISTRIBUTIONS)}"
        )
    if use_sde:
        if action.space != "Box":
            raise ValueError(
                "use_sde (state-dependent exploration) needs continuous actions (a Box), "
                f"not {action}"
            )
        return StateDependentGaussian(action.sizes[0], features)
    return DISTRIBUTIONS[action.space].for_action(action)
