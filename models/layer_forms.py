"""What each kind of layer in an ``ActorCriticModel`` is outside the Keras model: its NumPy form,
which acting runs (``models/acting.py``), the Keras built-in layers an export rebuilds it from
(``models/export.py``), and its size before it is built (``model_size``, which the memory check
counts a model with).

The Keras model is the one definition of the network. Acting and export walk its blocks
(``encoder``, ``trunk``, ``core``, ``policy_head``, ``value_trunk``, ``value_head``) and
translate each layer through ``FORMS``, the one table of layer kinds. So a layer added to a
block works in acting and export with no further code when its kind is in the table (another
``Dense`` in the trunk, say), and otherwise ``check_layers`` (called by the model's
``build_for``) refuses the model at once, naming the layer: so does a layer or weight outside
the blocks, which acting and export would silently leave out.

A NumPy form takes the built layer and gives ``NumpyLayer(variables, bind)``: the weights it
reads, in order, and ``bind(*values)``, which returns the forward function for those values
(NumPy arrays in and out; a recurrent core's takes and returns its state too). A form of
``None`` means acting runs that layer in TensorFlow (the model's own ``step``, compiled): the
convolutions of image models, which TensorFlow computes faster. An export form takes the layer
and gives ``(apply, copies)``: ``apply`` maps a functional Keras tensor through new built-in
layers, and ``copies`` pairs each new layer with the weights to set once it is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import keras
import numpy as np

from models.distributions import GaussianHead, StateDependentNoiseHead
from models.normalization import ObservationNormalization


class NumpyLayer(NamedTuple):
    """A layer's NumPy form: the weights it reads, and ``bind(*values)`` -> forward function."""

    variables: list
    bind: Callable


class LayerSize(NamedTuple):
    """What a layer holds and keeps, worked out before it is built (nothing allocated): its
    weights (numbers), the shape of its output for one sample, and the floats it keeps per
    sample for the backward pass (its activations)."""

    parameters: int
    output_shape: tuple[int, ...]
    activations: int


class LayerForm(NamedTuple):
    """A kind of layer outside Keras: ``numpy(layer) -> NumpyLayer`` (None: acting runs it in
    TensorFlow), ``export(layer) -> (apply, copies)`` in built-in Keras layers, and
    ``size(layer, input_shape) -> LayerSize`` of the unbuilt layer for one sample's input
    shape (the memory check counts a model with it before building one)."""

    numpy: Callable[[keras.layers.Layer], NumpyLayer] | None
    export: Callable[[keras.layers.Layer], tuple]
    size: Callable[[keras.layers.Layer, tuple], LayerSize]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# Dense activations in NumPy, by Keras's name for them.
NUMPY_ACTIVATIONS = {
    "linear": None,
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
}


def _activation_name(function) -> str:
    name = keras.activations.serialize(function)
    return name if isinstance(name, str) else repr(name)


def numpy_dense(layer: keras.layers.Dense) -> NumpyLayer:
    """``activation(x @ kernel + bias)``."""
    name = _activation_name(layer.activation)
    if name not in NUMPY_ACTIVATIONS:
        raise ValueError(
            f"layer {layer.name!r} (Dense) has activation {name!r}, which acting in NumPy does "
            f"not know (it knows {', '.join(NUMPY_ACTIVATIONS)}): add it to NUMPY_ACTIVATIONS "
            "in models/layer_forms.py"
        )
    activation = NUMPY_ACTIVATIONS[name]
    variables = [layer.kernel, *([layer.bias] if layer.use_bias else [])]

    def bind(kernel, bias=0.0):
        if activation is None:
            return lambda x: x @ kernel + bias
        return lambda x: activation(x @ kernel + bias)

    return NumpyLayer(variables, bind)


def numpy_lstm(cell: keras.layers.LSTMCell) -> NumpyLayer:
    """Keras's ``LSTMCell`` (Hochreiter and Schmidhuber 1997, with a forget gate): gates i, f,
    g, o in that order along the kernels' columns; sigmoid gates, tanh cell input and output.
    Forward: ``(x, (h, c)) -> (h', (h', c'))``."""
    kinds = (_activation_name(cell.activation), _activation_name(cell.recurrent_activation))
    if kinds != ("tanh", "sigmoid") or not cell.use_bias:
        raise ValueError(
            f"layer {cell.name!r} (LSTMCell) has activations {kinds} or no bias; acting in "
            "NumPy knows tanh, sigmoid and a bias (Keras's defaults)"
        )

    def bind(kernel, recurrent_kernel, bias):
        def forward(x, state):
            h, c = state
            gates = x @ kernel + h @ recurrent_kernel + bias
            i, f, g, o = np.split(gates, 4, axis=-1)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            return h, (h, c)

        return forward

    return NumpyLayer([cell.kernel, cell.recurrent_kernel, cell.bias], bind)


def numpy_normalization(layer: ObservationNormalization) -> NumpyLayer:
    """``clip((x - mean) / sqrt(variance + epsilon), -clip, clip)`` (the count of observations
    seen only weighs the next update of the statistics: acting does not read it)."""
    clip, epsilon = layer.clip, layer.epsilon

    def bind(mean, variance):
        inverse_std = (1.0 / np.sqrt(variance + epsilon)).astype(np.float32)
        return lambda x: np.clip((x - mean) * inverse_std, -clip, clip)

    return NumpyLayer([layer.mean, layer.variance], bind)


def numpy_gaussian_head(layer: GaussianHead) -> NumpyLayer:
    """``[x @ kernel + bias, log_std]``, the log sigmas broadcast over the batch."""

    def bind(kernel, bias, log_std):
        def forward(x):
            mean = x @ kernel + bias
            return np.concatenate([mean, np.broadcast_to(log_std, mean.shape)], axis=-1)

        return forward

    return NumpyLayer([layer.mean.kernel, layer.mean.bias, layer.log_std], bind)


def numpy_state_dependent_head(layer: StateDependentNoiseHead) -> NumpyLayer:
    """``[x @ kernel + bias, (x[:, :, None] * exp(log_std)) flattened]``."""

    def bind(kernel, bias, log_std):
        sigma = np.exp(log_std)

        def forward(x):
            scales = x[:, :, None] * sigma
            return np.concatenate([x @ kernel + bias, scales.reshape(len(x), -1)], axis=-1)

        return forward

    return NumpyLayer([layer.mean.kernel, layer.mean.bias, layer.log_std], bind)


def copy_layer(layer: keras.layers.Layer) -> tuple:
    """A built-in Keras layer exports as a new one of its class and config, with its weights."""
    new = type(layer).from_config(layer.get_config())
    return new, [(new, layer.get_weights())]


def export_normalization(layer: ObservationNormalization) -> tuple:
    """``Normalization`` with the running statistics, then the clip to +-clip made of
    ``Rescaling`` and ``ReLU`` (Keras divides by sqrt(variance); the model by
    sqrt(variance + epsilon), which the statistics given here include)."""
    clip = layer.clip
    normalize = keras.layers.Normalization(
        mean=layer.mean.numpy(),
        variance=layer.variance.numpy() + layer.epsilon,
        name="observation_normalization",
    )
    shift = keras.layers.Rescaling(1.0, offset=clip, name="clip_shift")
    relu = keras.layers.ReLU(max_value=2 * clip, name="clip")
    unshift = keras.layers.Rescaling(1.0, offset=-clip, name="clip_unshift")
    return (lambda x: unshift(relu(shift(normalize(x))))), []


def export_gaussian_head(layer: GaussianHead) -> tuple:
    """The mean's ``Dense``, and the log sigmas as the bias of a ``Dense`` whose kernel is zero
    (so they are broadcast beside the mean exactly as the model does), concatenated."""
    mean = keras.layers.Dense(layer.action_dim, name="policy_mean")
    log_std = keras.layers.Dense(layer.action_dim, name="log_std")
    concatenate = keras.layers.Concatenate(name="policy_params")
    zero_kernel = np.zeros(layer.mean.kernel.shape, np.float32)
    copies = [
        (mean, layer.mean.get_weights()),
        (log_std, [zero_kernel, layer.log_std.numpy()]),
    ]
    return (lambda x: concatenate([mean(x), log_std(x)])), copies


def export_state_dependent_head(layer: StateDependentNoiseHead) -> tuple:
    """The mean's ``Dense``, and the noise scales as a bias-free ``Dense`` whose kernel puts
    ``exp(log_std_ji)`` at row j, column ``j * action_dim + i`` (so it computes ``z_j
    sigma_ji`` exactly as the model does), concatenated."""
    sigma = np.exp(layer.log_std.numpy())  # (features, action_dim)
    features, action_dim = sigma.shape
    kernel = np.zeros((features, features * action_dim), np.float32)
    for j in range(features):
        kernel[j, j * action_dim : (j + 1) * action_dim] = sigma[j]
    mean = keras.layers.Dense(action_dim, name="policy_mean")
    scales = keras.layers.Dense(features * action_dim, use_bias=False, name="noise_scales")
    concatenate = keras.layers.Concatenate(name="policy_params")
    copies = [(mean, layer.mean.get_weights()), (scales, [kernel])]
    return (lambda x: concatenate([mean(x), scales(x)])), copies


def dense_size(layer: keras.layers.Dense, input_shape: tuple) -> LayerSize:
    """A kernel ``(features, units)`` and a bias ``(units,)``; it keeps its output."""
    features, units = int(input_shape[-1]), int(layer.units)
    parameters = features * units + (units if layer.use_bias else 0)
    return LayerSize(parameters, (*input_shape[:-1], units), units)


def lstm_size(cell: keras.layers.LSTMCell, input_shape: tuple) -> LayerSize:
    """Kernels ``(features, 4 units)`` and ``(units, 4 units)`` and a bias ``(4 units,)``; it
    keeps its four gates, h and c."""
    features, units = int(input_shape[-1]), int(cell.units)
    parameters = 4 * units * (features + units) + (4 * units if cell.use_bias else 0)
    return LayerSize(parameters, (units,), 6 * units)


def normalization_size(layer: ObservationNormalization, input_shape: tuple) -> LayerSize:
    """A mean and a variance per input, and a count; it keeps its output."""
    features = int(input_shape[-1])
    return LayerSize(2 * features + 1, tuple(input_shape), features)


def gaussian_head_size(layer: GaussianHead, input_shape: tuple) -> LayerSize:
    """Its mean's ``Dense``, and a log sigma per action dimension."""
    mean = dense_size(layer.mean, input_shape)
    width = 2 * layer.action_dim
    return LayerSize(mean.parameters + layer.action_dim, (width,), width)


def state_dependent_head_size(layer: StateDependentNoiseHead, input_shape: tuple) -> LayerSize:
    """Its mean's ``Dense``, and a log sigma per feature and action dimension."""
    mean = dense_size(layer.mean, input_shape)
    features = int(input_shape[-1])
    width = layer.action_dim * (1 + features)
    return LayerSize(mean.parameters + features * layer.action_dim, (width,), width)


def keras_shape_size(layer: keras.layers.Layer, input_shape: tuple) -> LayerSize:
    """A layer without weights (``Permute``, ``Rescaling``, ``Flatten``): the output shape
    Keras computes for it; it keeps its output."""
    shape = tuple(layer.compute_output_shape((1, *input_shape))[1:])
    return LayerSize(0, shape, int(np.prod(shape)))


def convolution_size(layer: keras.layers.Conv2D, input_shape: tuple) -> LayerSize:
    """A kernel ``(height, width, channels in, filters)`` and a bias per filter; the output
    shape is Keras's; it keeps its output."""
    channels = int(input_shape[-1])  # channels last, as the encoder permutes them
    height, width = layer.kernel_size
    bias = layer.filters if layer.use_bias else 0
    parameters = height * width * channels * layer.filters + bias
    return keras_shape_size(layer, input_shape)._replace(parameters=parameters)


# Every kind of layer an ActorCriticModel may hold, and its forms outside Keras.
FORMS: dict[type, LayerForm] = {
    keras.layers.Dense: LayerForm(numpy_dense, copy_layer, dense_size),
    keras.layers.LSTMCell: LayerForm(numpy_lstm, copy_layer, lstm_size),
    ObservationNormalization: LayerForm(
        numpy_normalization, export_normalization, normalization_size
    ),
    GaussianHead: LayerForm(numpy_gaussian_head, export_gaussian_head, gaussian_head_size),
    StateDependentNoiseHead: LayerForm(
        numpy_state_dependent_head, export_state_dependent_head, state_dependent_head_size
    ),
    # The convolutional encoder of image models: acting runs it in TensorFlow.
    keras.layers.Permute: LayerForm(None, copy_layer, keras_shape_size),
    keras.layers.Rescaling: LayerForm(None, copy_layer, keras_shape_size),
    keras.layers.Conv2D: LayerForm(None, copy_layer, convolution_size),
    keras.layers.Flatten: LayerForm(None, copy_layer, keras_shape_size),
}


def form_of(layer: keras.layers.Layer) -> LayerForm:
    """The ``LayerForm`` of ``layer``'s kind.

    Raises:
        ValueError: naming the layer, if its kind is not in ``FORMS``.
    """
    form = FORMS.get(type(layer))
    if form is None:
        raise ValueError(
            f"layer {layer.name!r} ({type(layer).__name__}) has no NumPy or export form: add "
            "its kind to FORMS in models/layer_forms.py, or acting and export would differ "
            "from the model"
        )
    return form


class ModelSize(NamedTuple):
    """What a model holds and keeps, from its unbuilt blocks (``model_size``): its weights
    (numbers) and the floats its layers keep per sample for the backward pass."""

    parameters: int
    activations: int


def model_size(model) -> ModelSize:
    """The size of ``model`` (an ``ActorCriticModel``, built or not, whose ``spec`` knows its
    observations), worked out block by block through each layer's size form, with nothing
    built or allocated: the encoder from the observation's shape, the trunk, the core, the
    policy head, the value trunk and head from the features they read.

    Raises:
        ValueError: naming the layer, if its kind is not in ``FORMS``.
    """
    parameters = activations = 0

    def run(layers, shape):
        nonlocal parameters, activations
        for layer in layers:
            size = form_of(layer).size(layer, shape)
            parameters += size.parameters
            activations += size.activations
            shape = size.output_shape
        return shape

    features = run(model.encoder, tuple(model.spec.observation.shape))
    hidden = run(model.trunk, features)
    if model.core is not None:
        hidden = run([model.core], hidden)
    run([model.policy_head], hidden)
    if model.value_trunk:
        hidden = run(model.value_trunk, features)
    run([model.value_head], hidden)
    return ModelSize(parameters, activations)


def block_layers(model) -> list:
    """Every layer in ``model``'s blocks, in the order they run: encoder, trunk, core, policy
    head, value trunk, value head."""
    core = [model.core] if model.core is not None else []
    return [
        *model.encoder,
        *model.trunk,
        *core,
        model.policy_head,
        *model.value_trunk,
        model.value_head,
    ]


def check_layers(model) -> None:
    """Checks that acting and export can be derived from the built ``model``: every layer it
    holds is in one of its blocks and of a kind in ``FORMS`` (whose NumPy form accepts it), and
    every weight belongs to such a layer.

    Raises:
        ValueError: naming the first layer or weight that breaks this.
    """
    layers = block_layers(model)
    known = {id(layer) for layer in layers}
    for layer in model.layers:
        if id(layer) not in known:
            raise ValueError(
                f"layer {layer.name!r} ({type(layer).__name__}) of {type(model).__name__} is "
                "in none of its blocks (encoder, trunk, value_trunk, core, policy_head, "
                "value_head): acting and export would leave it out; put it in one"
            )
    owned = set()
    for layer in layers:
        form = form_of(layer)
        if form.numpy is not None:
            form.numpy(layer)  # refuses settings its NumPy form cannot compute
        owned.update(id(weight) for weight in layer.weights)
    stray = [weight.path for weight in model.weights if id(weight) not in owned]
    if stray:
        raise ValueError(
            f"{type(model).__name__} has weights outside its blocks' layers, {stray}: acting "
            "and export would leave them out; give them to a layer in a block"
        )
