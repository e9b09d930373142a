"""Action distributions of a policy: sample, log-probability, entropy, greedy action.

``compute_loss`` sees a policy only through these four functions, so another distribution (a
Gaussian for continuous actions) plugs in beside ``Categorical`` without touching the loss.
Each takes the policy head's output ``params`` with any leading batch shape ``(...)``.
"""

from __future__ import annotations

import tensorflow as tf


class Categorical:
    """pi(a|s) = softmax(logits)_a over ``num_actions`` discrete actions.

    ``params`` are the logits, float32 ``(..., num_actions)``; actions are int32 ``(...)``.
    Math: the softmax policy of Mnih et al. 2016 (arXiv:1602.01783, section 5.1).
    """

    action_dtype = tf.int32
    action_shape: tuple[int, ...] = ()  # one action per env is a scalar

    def __init__(self, num_actions: int | None = None):
        self.num_actions = num_actions  # only the policy head's width needs it

    @property
    def params_size(self) -> int:
        """Width of the policy head: one logit per action."""
        if self.num_actions is None:
            raise ValueError("Categorical(num_actions) is needed to size a policy head")
        return self.num_actions

    def sample(self, logits, rng: tf.random.Generator):
        """a ~ softmax(logits): float32 ``(..., A)`` -> int32 ``(...)``.

        The Gumbel-max trick: argmax(logits + Gumbel noise) is distributed as softmax(logits).
        ``rng`` is a ``tf.random.Generator``, so a seeded run samples the same actions.
        """
        uniform = rng.uniform(tf.shape(logits), minval=1e-20, maxval=1.0)
        return tf.argmax(logits - tf.math.log(-tf.math.log(uniform)), axis=-1, output_type=tf.int32)

    def log_prob(self, logits, actions):
        """log pi(a|s): logits float32 ``(..., A)``, actions int32 ``(...)`` -> ``(...)``."""
        log_probs = tf.nn.log_softmax(logits)
        return tf.gather(log_probs, actions, axis=-1, batch_dims=len(actions.shape))

    def entropy(self, logits):
        """H(pi(.|s)) = -sum_a pi(a|s) log pi(a|s): float32 ``(..., A)`` -> ``(...)``."""
        log_probs = tf.nn.log_softmax(logits)
        return -tf.reduce_sum(tf.exp(log_probs) * log_probs, axis=-1)

    def greedy(self, logits):
        """argmax_a pi(a|s): float32 ``(..., A)`` -> int32 ``(...)``."""
        return tf.argmax(logits, axis=-1, output_type=tf.int32)
