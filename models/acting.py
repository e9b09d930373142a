"""The policy's forward pass for acting: in NumPy, or compiled TensorFlow where NumPy cannot.

Acting asks a tiny network for the params of a few envs' action distributions, once a step.
Calling TensorFlow for that costs far more than the arithmetic (a compiled function's dispatch,
argument conversion and ``.numpy()``), so acting reads the Keras model's weights into NumPy
(``NumpyPolicy.sync``, once a rollout, after the update before it) and computes the policy
there. The NumPy pass is not a second network: it walks the model's own blocks (encoder, trunk,
core, policy head) and runs each layer's NumPy form from ``models/layer_forms.py``, so a layer
added to a block acts here with no further code, and one of a kind the forms do not know is
refused when the model is built. The loss, values and gradients stay in TensorFlow;
``tests/test_acting.py`` checks that the two agree at every step of training runs, after every
update, for every kind of model.

A model with a layer that acts in TensorFlow (the convolutions of image models) and a model
loaded from a ``.keras`` export act through ``CompiledPolicy``: the model's own ``step`` in a
``tf.function``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from models.layer_forms import check_layers, form_of


class NumpyPolicy:
    """An ``ActorCriticModel``'s policy (encoder, trunk, core, policy head), evaluated in NumPy
    from a copy of its weights, layer by layer through their NumPy forms.

    Call ``sync()`` whenever the model's weights may have changed (the collector does at the
    start of each rollout unless the update before it handed the new weights over; greedy
    evaluation at each reset); between syncs the policy acts with the weights of the last one.

    Call: ``policy(states, recurrent_state)`` with float32 ``(batch, obs_dim)`` observations and
    the LSTM state ``(h, c)`` (float32 ``(batch, units)`` each; ``()`` for a feed-forward
    model) -> ``(params, next_recurrent_state)``: float32 ``(batch, params_size)``, as the
    model's ``step`` returns them (no value: acting does not need it).

    Math: the model's (``models/actor_critic.py``), layer by layer (``models/layer_forms.py``).

    Args:
        model: a built ``ActorCriticModel`` whose policy path has NumPy forms (``supports``).

    Raises:
        ValueError: if ``supports(model)`` is False, or the model fails
            ``models.layer_forms.check_layers`` (naming the layer).
    """

    def __init__(self, model):
        if not self.supports(model):
            raise ValueError(
                f"{type(model).__name__} has a layer that acts in TensorFlow; use CompiledPolicy"
            )
        self.model = model
        self.recurrent_units = model.recurrent_units
        self._torso_forms = [form_of(layer).numpy(layer) for layer in policy_path(model)]
        self._core_form = form_of(model.core).numpy(model.core) if model.core else None
        self._head_form = form_of(model.policy_head).numpy(model.policy_head)
        forms = [*self._torso_forms, *([self._core_form] if self._core_form else [])]
        forms.append(self._head_form)
        # The weights acting reads, in the order ``sync`` takes their values.
        self.variables = [variable for form in forms for variable in form.variables]
        self._shapes = [tuple(variable.shape) for variable in self.variables]
        self.sync()

    @staticmethod
    def supports(model) -> bool:
        """Whether ``model`` is an ``ActorCriticModel`` whose every layer on the policy path
        has a NumPy form (image models' convolutions act in TensorFlow)."""
        if not hasattr(model, "encoder"):
            return False  # a model loaded from a .keras export
        check_layers(model)
        core = [model.core] if model.core is not None else []
        layers = [*policy_path(model), *core, model.policy_head]
        return all(form_of(layer).numpy is not None for layer in layers)

    def sync(self, values=None) -> None:
        """Takes the model's current weights.

        Args:
            values: the values of ``variables``, in order (NumPy arrays: what a compiled update
                returns after applying its gradients), if the caller has them; None reads each
                variable (a TensorFlow call each).
        """
        if values is None:
            arrays = [np.asarray(variable.numpy(), np.float32) for variable in self.variables]
        else:
            arrays = [np.asarray(value, np.float32) for value in values]
            shapes = [array.shape for array in arrays]
            if shapes != self._shapes:
                raise ValueError(
                    f"sync takes the values of variables of shapes {self._shapes}, got {shapes}"
                )
        bound = []
        for form in [*self._torso_forms, self._core_form, self._head_form]:
            if form is None:
                bound.append(None)
                continue
            count = len(form.variables)
            bound.append(form.bind(*arrays[:count]))
            arrays = arrays[count:]
        *self._torso, self._core, self._head = bound

    def initial_state(self, batch_size: int) -> tuple:
        """Zeros ``(h, c)``, float32 ``(batch_size, units)`` each; ``()`` without a core."""
        if not self.recurrent_units:
            return ()
        zeros = np.zeros((batch_size, self.recurrent_units), np.float32)
        return (zeros, zeros)

    def __call__(self, states, recurrent_state=()) -> tuple[np.ndarray, tuple]:
        hidden = np.asarray(states, np.float32)
        for forward in self._torso:
            hidden = forward(hidden)
        if self._core is not None:
            hidden, recurrent_state = self._core(hidden, recurrent_state)
        return self._head(hidden), recurrent_state


def policy_path(model) -> list:
    """The layers the policy runs before its core: the encoder's, then the trunk's."""
    return [*model.encoder, *model.trunk]


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
