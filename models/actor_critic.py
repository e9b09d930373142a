"""The actor-critic network shared by A3C and A2C."""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from models.distributions import distribution_for
from models.layer_forms import check_layers
from models.normalization import ObservationNormalization
from models.specs import (  # noqa: F401  (ACTIVATIONS and WEIGHT_INITS re-exported)
    ACTIVATIONS,
    IMAGE_ENCODER_LAYERS,
    IMAGE_ENCODERS,
    KERAS_ARGUMENTS,
    WEIGHT_INITS,
    check_spec,
    spec_config,
    spec_from_config,
    spec_of_arguments,
)
from utils.model_spec import ModelSpec
from utils.spaces import ObservationSpec

# How the kernels start: glorot, Keras's default (Glorot and Bengio 2010, uniform); orthogonal
# (Saxe et al. 2014, arXiv:1312.6120) scaled by a gain per block, as OpenAI Baselines' A2C and
# Stable-Baselines3's policies (``ortho_init``) start theirs: sqrt(2) for the convolutions and
# the trunks, 0.01 for the policy head (near-uniform first actions), 1 for the value head.
# Their biases start at 0 either way; an LSTM core keeps Keras's initialisers.
ORTHOGONAL_GAINS = {"trunk": 2**0.5, "policy": 0.01, "value": 1.0}


@keras.saving.register_keras_serializable(package="a3c_keras")
class ActorCriticModel(keras.Model):
    """Policy and value function on one shared trunk: the one definition of the network.

    The model is a chain of blocks, each a tuple of Keras layers run in order::

        observations -> encoder -> trunk -> [core] -> policy_head -> params
                               |
                               +-> [value_trunk] -> value_head -> V(s)
                                   (without a value trunk: the trunk's or core's output)

    - ``encoder``: observations as both trunks see them, chosen by their kind
      (``spec.observation``, ``utils.spaces``): flat observations (a flat Box's, or a Discrete's
      or Dict's that gymnasium flattened where the env was made) through nothing or running
      normalisation (``normalize_observations``: ``ObservationNormalization``, updated by the
      algorithms from their rollouts, so a saved or exported model acts on raw observations);
      uint8 frames ``(channels, height, width)`` through the convolutions of the A3C paper's
      Atari agents (``image_encoder="a3c"``: Mnih et al. 2016, section 8, after Mnih et al.
      2013: 16 filters 8x8 stride 4, 32 filters 4x4 stride 2, ReLU) or Nature DQN's
      (``"nature"``: Mnih et al. 2015: 32 8x8 stride 4, 64 4x4 stride 2, 64 3x3 stride 1, as
      Stable-Baselines3's NatureCNN); the model scales the bytes to [0, 1] itself, so
      rollouts keep them as uint8.
    - ``trunk``: ``Dense`` layers (ReLU or tanh). Sharing it between the heads follows Mnih et
      al. 2016 (arXiv:1602.01783, section 5.1: "a softmax output for the policy and a single
      linear output for the value function"). With ``separate_value_trunk`` the value head
      has a trunk of its own (``value_trunk``), of the same widths, as Stable-Baselines3's MLP
      policies and the 2018 TensorFlow example have: the value loss then cannot move the
      policy's features (MountainCar-v0 needs that, and tanh, to learn).
    - ``core``: with ``recurrent_units`` an LSTM (``keras.layers.LSTMCell``) between the trunk
      and the heads, as in A3C-LSTM (section 5.1: 256 LSTM cells after the trunk on Atari). Its
      state, a pair ``(h, c)`` of float32 ``(batch, recurrent_units)``, is carried by the
      caller: ``initial_state`` gives zeros, ``step`` takes one state and returns the next, and
      ``unroll`` runs a time-major sequence from a stored state, zeroing it where an episode
      started, which is how an update replays a rollout.
    - ``policy_head``: made by the action distribution (``self.distribution``, chosen by
      ``models.distributions.distribution_for`` from ``spec.action``). Discrete actions:
      ``Categorical``, a linear layer of logits, float32 ``(batch, n)``; MultiDiscrete:
      ``MultiCategorical``, every entry's logits side by side, ``(batch, sum(nvec))``;
      MultiBinary: ``Bernoulli``, a logit per bit, ``(batch, n)``. Box actions:
      ``DiagonalGaussian``, whose ``GaussianHead`` gives a linear mean per action dimension and
      one learned, state-independent log sigma beside it (starting at ``log_std_init``):
      float32 ``(batch, 2 * dimensions)``. With ``use_sde``: ``StateDependentGaussian``
      (gSDE), whose head gives the mean and the noise scales of the features it reads (the
      trunk's or core's output), float32 ``(batch, dimensions * (1 + features))``.
    - ``value_head``: linear, V(s).

    Acting (``models/acting.py``, in NumPy) and export (``models/export.py``, Keras's own
    layers) are derived from these blocks, layer by layer, through ``models/layer_forms.py``;
    ``build_for`` refuses, naming it, a layer outside the blocks or one of a kind those forms do
    not know, so the three cannot drift apart.

    Args:
        spec: every setting of the model and the spaces it is for
            (``utils.model_spec.ModelSpec``: ``action``, ``observation``, ``hidden_units``,
            ``activation``, ``separate_value_trunk``, ``recurrent_units``,
            ``normalize_observations``, ``use_sde``, ``image_encoder``, ``log_std_init``,
            ``weight_init``); its
            settings are the model's attributes too (``model.recurrent_units``).
        *args, **kwargs: instead of ``spec``, a model from sizes: ``num_actions`` (discrete
            actions, or with ``continuous=True`` a Box's dimensions), ``hidden_units``,
            ``image_shape`` for image observations (else flat ones, whose size ``build_for``
            takes), and the spec's settings by name (``spec_of_arguments``). Keras's ``name``,
            ``trainable`` and ``dtype`` go to Keras.

    Call:
        ``model(states)`` with float32 ``states`` of shape ``(batch, obs_dim)`` returns
        ``(params, value)``: float32 ``(batch, distribution.params_size)`` and ``(batch,)``.
        A recurrent model takes ``model(states, recurrent_state)`` (zeros if omitted) and
        returns ``(params, value, next_recurrent_state)``. ``step`` and ``unroll`` have one
        signature for both kinds.

    Saving: ``save_weights`` to a ``.weights.h5`` file, or the whole model to a ``.keras`` file
    that ``keras.saving.load_model`` reads back wherever this module has been imported.

    Raises:
        ValueError: for a spec the model cannot be built from (``check_spec``), or
            ``num_actions`` < 1.
    """

    def __init__(self, *args, spec: ModelSpec | None = None, **kwargs):
        keras_arguments = {name: kwargs.pop(name) for name in KERAS_ARGUMENTS if name in kwargs}
        super().__init__(**keras_arguments)
        if spec is None:
            spec = spec_of_arguments(*args, **kwargs)
        elif args or kwargs:
            raise TypeError("ActorCriticModel takes a spec or the settings, not both")
        check_spec(spec)
        self.spec = spec
        # The settings as attributes (model.hidden_units, model.recurrent_units, ...).
        for field in ModelSpec.setting_fields():
            setattr(self, field.name, getattr(spec, field.name))
        # The blocks, each a tuple of layers run in order (tuples: tf.train.Checkpoint tracks
        # the layers in them, where it loses Keras's tracked lists). ``models/layer_forms.py``
        # derives acting and export from these blocks, and ``build_for`` refuses a layer
        # outside them.
        self.encoder = self._encoder()
        self.trunk = self._dense_stack("trunk")
        self.value_trunk = self._dense_stack("value_trunk") if self.separate_value_trunk else ()
        units = self.recurrent_units
        self.core = keras.layers.LSTMCell(units, name="lstm") if units else None
        # The noise of gSDE reads the features the policy head reads.
        features = self.recurrent_units or self.hidden_units[-1]
        self.distribution = distribution_for(spec.action, self.use_sde, features)
        self.policy_head = self.distribution.policy_head(
            self.log_std_init, self._kernel_initializer("policy")
        )
        self.value_head = keras.layers.Dense(
            1, kernel_initializer=self._kernel_initializer("value"), name="value"
        )

    def _encoder(self) -> tuple:
        """The encoder block, by the kind of observations (``spec.observation.kind``; the one
        place it is chosen): for images the convolutions of ``image_encoder``
        (``IMAGE_ENCODER_LAYERS``: the A3C paper's or Nature DQN's), for flat observations
        (a flat Box's, or a Dict's flattened by gymnasium) running normalisation or nothing."""
        observation = self.spec.observation
        if observation is not None and observation.kind == "image":
            # Scaled before the permutation: TensorFlow's graph optimiser would otherwise move
            # the transpose before the cast to float, onto bytes, which its oneDNN kernels do
            # not take (a C++ error line at the first update).
            layers = IMAGE_ENCODER_LAYERS[self.image_encoder]
            return (
                keras.layers.Rescaling(1.0 / 255.0, name="scale_pixels"),
                keras.layers.Permute((2, 3, 1), name="channels_last"),
                *(
                    self._conv(filters, size, strides=stride, name=f"conv_{index}")
                    for index, (filters, size, stride) in enumerate(layers)
                ),
                keras.layers.Flatten(name="flatten"),
            )
        if self.normalize_observations:
            return (ObservationNormalization(name="observation_normalization"),)
        return ()

    @property
    def image_shape(self) -> tuple[int, ...]:
        """``(channels, height, width)`` of image observations, else ``()``."""
        observation = self.spec.observation
        return observation.shape if observation and observation.kind == "image" else ()

    @property
    def num_actions(self) -> int:
        """Discrete: the actions; Box: the action's dimensions; MultiDiscrete: its entries;
        MultiBinary: its bits."""
        sizes = self.spec.action.sizes
        return len(sizes) if self.spec.action.space == "MultiDiscrete" else sizes[0]

    @property
    def continuous(self) -> bool:
        """Whether the actions are a Box (a Gaussian policy)."""
        return self.spec.action.space == "Box"

    def _kernel_initializer(self, block: str):
        """The kernel initialiser of a block ("trunk", "policy" or "value") under
        ``weight_init``."""
        if self.weight_init == "glorot":
            return "glorot_uniform"
        return keras.initializers.Orthogonal(gain=ORTHOGONAL_GAINS[block])

    def _conv(self, filters: int, size: int, strides: int, name: str) -> keras.layers.Conv2D:
        """A ReLU convolution of the encoder, its kernel started as the trunk's (an initialiser
        of its own: one shared by two layers would draw both from one seed)."""
        return keras.layers.Conv2D(
            filters,
            size,
            strides=strides,
            activation="relu",
            kernel_initializer=self._kernel_initializer("trunk"),
            name=name,
        )

    def _dense_stack(self, name: str) -> tuple:
        return tuple(
            keras.layers.Dense(
                units,
                activation=self.activation,
                kernel_initializer=self._kernel_initializer("trunk"),
                name=f"{name}_{i}",
            )
            for i, units in enumerate(self.hidden_units)
        )

    @property
    def normalizer(self) -> ObservationNormalization | None:
        """The observation normalisation layer (the encoder's), or None."""
        first = self.encoder[0] if self.encoder else None
        return first if isinstance(first, ObservationNormalization) else None

    def _torso(self, states):
        """``(features, hidden)``: the encoder's output, which both trunks read, and the
        policy trunk's."""
        features = run_layers(self.encoder, tf.cast(states, tf.float32))
        return features, run_layers(self.trunk, features)

    def _heads(self, features, hidden):
        """``(params, value)`` from the features and the policy trunk's (or core's) output."""
        params = self.policy_head(hidden)
        if self.value_trunk:
            hidden = run_layers(self.value_trunk, features)
        return params, tf.squeeze(self.value_head(hidden), axis=-1)

    def call(self, states, recurrent_state=None):
        features, hidden = self._torso(states)
        if self.core is None:
            return self._heads(features, hidden)
        if recurrent_state is None:
            recurrent_state = self.initial_state(tf.shape(states)[0])
        hidden, recurrent_state = self.core(hidden, list(recurrent_state))
        params, value = self._heads(features, hidden)
        return params, value, tuple(recurrent_state)

    def initial_state(self, batch_size) -> tuple:
        """The state before an episode's first step: ``(h, c)``, float32 zeros of shape
        ``(batch_size, recurrent_units)``; ``()`` for a feed-forward model."""
        if self.core is None:
            return ()
        zeros = tf.zeros([batch_size, self.recurrent_units], tf.float32)
        return (zeros, zeros)

    def step(self, states, recurrent_state=()):
        """One step for a batch of envs: float32 ``(batch, obs_dim)`` states and the state
        carried from the last step (``initial_state`` at an episode's start) ->
        ``(params, value, next_recurrent_state)``; the state is ``()`` without a core."""
        if self.core is None:
            return (*self(states), ())
        return self(states, recurrent_state)

    def unroll(self, states, keep, recurrent_state=()):
        """Runs a time-major sequence, as an update replays a rollout.

        Args:
            states: float32 ``(T, N, obs_dim)``.
            keep: float32 ``(T, N)``: 1.0 where the state carried into step t goes on, 0.0
                where it is zeroed first (an episode starts at step t). Ignored without a core.
            recurrent_state: the state carried into step 0 (``()`` without a core).

        Returns:
            ``(params, values)``: float32 ``(T, N, params_size)`` and ``(T, N)``. The trunk and
            heads run on all ``T * N`` states at once; only the core steps through time.
        """
        steps, num_envs = tf.shape(states)[0], tf.shape(states)[1]
        observation_shape = states.shape[2:]  # static: (obs_dim,) or an image's shape
        features, hidden = self._torso(tf.reshape(states, [steps * num_envs, *observation_shape]))
        if self.core is not None:
            hidden = tf.reshape(hidden, [steps, num_envs, hidden.shape[-1]])

            def advance(carry, step_inputs):
                _, h, c = carry
                features, keep_t = step_inputs
                mask = keep_t[:, None]
                output, (h, c) = self.core(features, [h * mask, c * mask])
                return output, h, c

            h, c = recurrent_state
            outputs, _, _ = tf.scan(advance, (hidden, keep), initializer=(h, h, c))
            hidden = tf.reshape(outputs, [steps * num_envs, self.recurrent_units])
        params, values = self._heads(features, hidden)
        return (
            tf.reshape(params, [steps, num_envs, -1]),
            tf.reshape(values, [steps, num_envs]),
        )

    @property
    def synced_variables(self) -> list:
        """What a worker's local model takes from the global model: the trainable weights, then
        the observation statistics (if any)."""
        statistics = self.normalizer.weights if self.normalizer is not None else []
        return [*self.trainable_variables, *statistics]

    def update_statistics(self, states) -> None:
        """Adds float32 ``(..., obs_dim)`` observations to the normalisation statistics (nothing
        without ``normalize_observations``)."""
        if self.normalizer is not None:
            states = tf.convert_to_tensor(states, tf.float32)
            self.normalizer.update(tf.reshape(states, [-1, states.shape[-1]]))

    def build_for(self, obs_dim: int | None = None) -> ActorCriticModel:
        """Creates the weights for the observations of ``spec`` (for a model made from sizes
        alone, flat observations of ``obs_dim`` floats, which the spec then records); returns
        ``self``.

        Keras 3 subclassed models have no weights until first called; saving, loading and
        ``set_weights`` all need them.

        Raises:
            ValueError: naming the layer, if the model holds one that acting or export do not
                know, or one outside its blocks (``models.layer_forms.check_layers``); an
                ``obs_dim`` other than the spec's.
        """
        observation = self.spec.observation
        if observation is None:
            observation = ObservationSpec("flat", (int(obs_dim),))
            self.spec = dataclasses.replace(self.spec, observation=observation)
        elif observation.kind != "image" and obs_dim not in (None, *observation.shape):
            raise ValueError(
                f"build_for({obs_dim}): the model's observations are {observation.shape}"
            )
        dtype = tf.uint8 if observation.kind == "image" else tf.float32
        self(tf.zeros((1, *observation.shape), dtype))
        check_layers(self)
        return self

    def get_config(self):
        return {**super().get_config(), "spec": spec_config(self.spec)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(spec=spec_from_config(config.pop("spec")), **config)


def run_layers(layers, inputs):
    """``inputs`` through ``layers``, in order."""
    for layer in layers:
        inputs = layer(inputs)
    return inputs


def build_model(dims, hidden_units: tuple[int, ...] | None = None, **options) -> ActorCriticModel:
    """An ``ActorCriticModel`` with weights, for an env's ``dims`` (``utils.envs.Dims``: its
    actions, which choose the distribution, and observations, which choose the encoder:
    convolutional for images, dense otherwise) or a ready ``utils.model_spec.ModelSpec``;
    ``hidden_units`` and ``options`` are the spec's settings (``config.model_options()``)."""
    if hidden_units is not None:
        options["hidden_units"] = hidden_units
    spec = dims if isinstance(dims, ModelSpec) else ModelSpec.for_env(dims, **options)
    return ActorCriticModel(spec=spec).build_for()
