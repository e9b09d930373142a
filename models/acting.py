"""The policy's forward pass for acting: in NumPy, or compiled TensorFlow where NumPy cannot.

Acting asks a tiny network for the params of a few envs' action distributions, once a step.
Calling TensorFlow for that costs far more than the arithmetic: a compiled function's dispatch,
argument conversion and ``.numpy()`` took 202 us a step for 8 CartPole envs, the NumPy forward
pass of the same weights with the sampling 18 us (docs/BENCHMARKS.md, ``a2c-step-costs``). So
acting reads the Keras model's weights into NumPy (``NumpyPolicy.sync``, once a rollout, after
the update before it) and computes the policy head there; the Keras model stays the one
definition that is trained, saved and exported, and the loss, values and gradients stay in
TensorFlow. ``tests/test_acting.py`` checks the two agree at every step of training runs, after
every update, for each kind of model this pass covers; ``NumpyPolicy`` refuses a model with a
weight it does not read, so a layer added to the model cannot be skipped here unnoticed.

Image models (a convolutional trunk) and models loaded from a ``.keras`` export act through
``CompiledPolicy``: the model's own ``step`` in a ``tf.function``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from models.actor_critic import ActorCriticModel


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# The trunk's nonlinearities (``actor_critic.ACTIVATIONS``) in NumPy.
NUMPY_ACTIVATIONS = {"relu": lambda x: np.maximum(x, 0.0), "tanh": np.tanh}


class NumpyPolicy:
    """An ``ActorCriticModel``'s policy (observation normalisation, dense trunk, LSTM core,
    policy head) evaluated in NumPy from a copy of its weights.

    Call ``sync()`` whenever the model's weights may have changed (the collector does at the
    start of each rollout; ``GreedyPolicy`` at each reset); between syncs the policy acts with
    the weights of the last one.

    Call: ``policy(states, recurrent_state)`` with float32 ``(batch, obs_dim)`` observations and
    the LSTM state ``(h, c)`` (float32 ``(batch, units)`` each; ``()`` for a feed-forward
    model) -> ``(params, next_recurrent_state)``: float32 ``(batch, params_size)``, as the
    model's ``step`` returns them (no value: acting does not need it).

    Math: the model's (``models/actor_critic.py``); the LSTM cell is Keras' ``LSTMCell`` with its
    defaults (Hochreiter and Schmidhuber 1997, with a forget gate: gates i, f, g, o in that
    order along the kernels' columns; sigmoid gates, tanh cell input and output).

    Args:
        model: a built ``ActorCriticModel`` without an image trunk (``supports``).

    Raises:
        ValueError: if ``supports(model)`` is False, or the model has a weight this pass does
            not read (one a newer model added): the two would drift apart.
    """

    def __init__(self, model: ActorCriticModel):
        if not self.supports(model):
            raise ValueError(
                "NumpyPolicy takes an ActorCriticModel with a dense trunk; use CompiledPolicy "
                f"for {type(model).__name__}"
                + (" with an image trunk" if getattr(model, "image_shape", ()) else "")
            )
        self.model = model
        self.recurrent_units = model.recurrent_units
        self.continuous = model.continuous
        self.activation = NUMPY_ACTIVATIONS[model.activation]
        normalizer, core = model.normalizer, model.core
        # The weights acting reads, in the order ``sync`` takes their values.
        self.variables = [
            *([normalizer.mean, normalizer.variance] if normalizer is not None else []),
            *(weight for layer in model.trunk for weight in (layer.kernel, layer.bias)),
            *([core.kernel, core.recurrent_kernel, core.bias] if core is not None else []),
            model.policy_head.kernel,
            model.policy_head.bias,
            *([model.log_std] if model.continuous else []),
        ]
        # What acting does not need: the value function, and the count of observations seen
        # (it only weighs the next update of the statistics).
        value_only = [weight for layer in model.value_trunk for weight in layer.weights]
        value_only += model.value_head.weights
        value_only += [normalizer.count] if normalizer is not None else []
        known = {id(weight) for weight in [*self.variables, *value_only]}
        unread = [weight.path for weight in model.weights if id(weight) not in known]
        if unread:
            raise ValueError(
                f"NumpyPolicy does not read the model's weights {unread}: teach "
                "models/acting.py the layer, or acting and the model would differ"
            )
        self.sync()

    @staticmethod
    def supports(model) -> bool:
        """Whether ``model`` is an ``ActorCriticModel`` this pass covers (no image trunk)."""
        return isinstance(model, ActorCriticModel) and not model.image_shape

    def sync(self, values=None) -> None:
        """Takes the model's current weights.

        Args:
            values: the values of ``variables``, in order, if the caller has them (arrays or
                tensors: a compiled update that read them after applying its gradients), which
                saves a TensorFlow call a variable (about 30 us each); None reads them.
        """
        if values is None:
            values = [variable.numpy() for variable in self.variables]
        values = [np.asarray(value, np.float32) for value in values]
        model = self.model
        if model.normalizer is not None:
            mean, variance = values[:2]
            values = values[2:]
            self._normalization = (
                mean,
                (1.0 / np.sqrt(variance + model.normalizer.epsilon)).astype(np.float32),
                model.normalizer.clip,
            )
        else:
            self._normalization = None
        layers = len(model.trunk)
        self._trunk = [(values[2 * i], values[2 * i + 1]) for i in range(layers)]
        values = values[2 * layers :]
        if self.recurrent_units:
            self._core, values = tuple(values[:3]), values[3:]
        self._head = (values[0], values[1])
        self._log_std = values[2] if self.continuous else None

    def initial_state(self, batch_size: int) -> tuple:
        """Zeros ``(h, c)``, float32 ``(batch_size, units)`` each; ``()`` without a core."""
        if not self.recurrent_units:
            return ()
        zeros = np.zeros((batch_size, self.recurrent_units), np.float32)
        return (zeros, zeros)

    def __call__(self, states, recurrent_state=()) -> tuple[np.ndarray, tuple]:
        hidden = np.asarray(states, np.float32)
        if self._normalization is not None:
            mean, inverse_std, clip = self._normalization
            hidden = np.clip((hidden - mean) * inverse_std, -clip, clip)
        for kernel, bias in self._trunk:
            hidden = self.activation(hidden @ kernel + bias)
        if self.recurrent_units:
            kernel, recurrent_kernel, bias = self._core
            h, c = recurrent_state
            gates = hidden @ kernel + h @ recurrent_kernel + bias
            i, f, g, o = np.split(gates, 4, axis=-1)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            hidden = _sigmoid(o) * np.tanh(c)
            recurrent_state = (hidden, c)
        kernel, bias = self._head
        params = hidden @ kernel + bias
        if self._log_std is not None:
            log_std = np.broadcast_to(self._log_std, params.shape)
            params = np.concatenate([params, log_std], axis=-1)
        return params, recurrent_state


class CompiledPolicy:
    """A model's policy through its own ``step`` in a ``tf.function``: the acting pass for
    image models and for models loaded from a ``.keras`` export.

    Same interface as ``NumpyPolicy`` (``sync`` has nothing to do: the function reads the
    model's variables at each call); params come back as NumPy, the LSTM state as tensors.

    Args:
        model: an ``ActorCriticModel`` or ``models.export.LoadedPolicy`` (``step`` and
            ``initial_state``).
        states: with ``recurrent_state``, the ``tf.TensorSpec``s of one call's inputs: the
            function is traced once for them (a concrete function: the cheapest call);
            without, it is traced per input shape.
        recurrent_state: the specs of ``(h, c)``, or ``()`` for a feed-forward model.
        jit_compile: compile with XLA.
    """

    def __init__(self, model, states=None, recurrent_state=(), jit_compile: bool = False):
        self.model = model

        def forward(states, recurrent_state):
            params, _, recurrent_state = model.step(states, recurrent_state)
            return params, recurrent_state

        if states is None:
            self._forward = tf.function(forward, reduce_retracing=True, jit_compile=jit_compile)
        else:
            forward = tf.function(forward, jit_compile=jit_compile)
            self._forward = forward.get_concrete_function(states, recurrent_state)

    variables: list = []  # it reads the model's weights itself, at each call

    def sync(self, values=None) -> None:
        """Nothing: the compiled function reads the model's weights as they are."""

    def initial_state(self, batch_size: int) -> tuple:
        """The model's zero state, as NumPy: ``(h, c)`` or ``()``."""
        return tuple(np.asarray(part) for part in self.model.initial_state(batch_size))

    def __call__(self, states, recurrent_state=()) -> tuple[np.ndarray, tuple]:
        params, recurrent_state = self._forward(states, tuple(recurrent_state))
        return params.numpy(), tuple(recurrent_state)


def acting_policy(model, states=None, recurrent_state=(), jit_compile: bool = False):
    """The fastest acting pass for ``model``: ``NumpyPolicy`` where it ``supports`` the model,
    else ``CompiledPolicy(model, states, recurrent_state, jit_compile)``."""
    if NumpyPolicy.supports(model):
        return NumpyPolicy(model)
    return CompiledPolicy(model, states, recurrent_state, jit_compile)
