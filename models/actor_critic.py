"""The actor-critic network shared by A3C and A2C."""

from __future__ import annotations

import keras
import tensorflow as tf

from models.distributions import Categorical, DiagonalGaussian, StateDependentGaussian
from models.layer_forms import check_layers
from models.normalization import ObservationNormalization

# The trunk's nonlinearities: ReLU (the A3C paper's), tanh (Stable-Baselines3's MLP policies).
ACTIVATIONS = ("relu", "tanh")

# How the kernels start: glorot, Keras's default (Glorot and Bengio 2010, uniform); orthogonal
# (Saxe et al. 2014, arXiv:1312.6120) scaled by a gain per block, as OpenAI Baselines' A2C and
# Stable-Baselines3's policies (``ortho_init``) start theirs: sqrt(2) for the convolutions and
# the trunks, 0.01 for the policy head (near-uniform first actions), 1 for the value head.
# Their biases start at 0 either way; an LSTM core keeps Keras's initialisers.
WEIGHT_INITS = ("glorot", "orthogonal")
ORTHOGONAL_GAINS = {"trunk": 2**0.5, "policy": 0.01, "value": 1.0}


@keras.saving.register_keras_serializable(package="a3c_keras")
class ActorCriticModel(keras.Model):
    """Policy and value function on one shared trunk: the one definition of the network.

    The model is a chain of blocks, each a tuple of Keras layers run in order::

        observations -> encoder -> trunk -> [core] -> policy_head -> params
                               |
                               +-> [value_trunk] -> value_head -> V(s)
                                   (without a value trunk: the trunk's or core's output)

    - ``encoder``: observations as both trunks see them: nothing, running normalisation
      (``normalize_observations``: ``ObservationNormalization``, updated by the algorithms from
      their rollouts, so a saved or exported model acts on raw observations), or for uint8
      frames ``(channels, height, width)`` the convolutions of the A3C paper's Atari agents
      (Mnih et al. 2016, section 8, after Mnih et al. 2013: 16 filters 8x8 stride 4, 32 filters
      4x4 stride 2, ReLU; the model scales the bytes to [0, 1] itself, so rollouts keep them as
      uint8).
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
    - ``policy_head``: made by the action distribution (``self.distribution``). Discrete
      actions: ``Categorical``, a linear layer of logits, float32 ``(batch, num_actions)``. Box
      actions (``continuous``): ``DiagonalGaussian``, whose ``GaussianHead`` gives a linear mean
      per action dimension and one learned, state-independent log sigma beside it (starting at
      ``log_std_init``): float32 ``(batch, 2 * num_actions)``. With ``use_sde``:
      ``StateDependentGaussian`` (gSDE), whose head gives the mean and the noise scales of the
      features it reads (the trunk's or core's output), float32 ``(batch, num_actions * (1 +
      features))``.
    - ``value_head``: linear, V(s).

    Acting (``models/acting.py``, in NumPy) and export (``models/export.py``, Keras's own
    layers) are derived from these blocks, layer by layer, through ``models/layer_forms.py``;
    ``build_for`` refuses, naming it, a layer outside the blocks or one of a kind those forms do
    not know, so the three cannot drift apart.

    Args:
        num_actions: discrete actions (``env.action_space.n``), or with ``continuous`` the
            action's dimensions (``env.action_space.shape[0]``); >= 1.
        hidden_units: width of each trunk layer, all >= 1.
        activation: the trunk's nonlinearity, one of ``ACTIVATIONS`` ("relu" or "tanh").
        separate_value_trunk: give the value head its own trunk instead of the shared one
            (feed-forward models only).
        recurrent_units: width of the LSTM core; 0 (the default) for none.
        image_shape: ``(channels, height, width)`` of uint8 image observations (a
            convolutional trunk); ``()`` (the default) for flat float observations.
        continuous: a Gaussian policy for Box actions instead of a categorical one.
        log_std_init: the Gaussian's initial log standard deviation (ignored for discrete).
        normalize_observations: normalise observations with running statistics.
        weight_init: how the kernels start, one of ``WEIGHT_INITS`` ("glorot" or
            "orthogonal").
        use_sde: with ``continuous``, state-dependent exploration (gSDE,
            ``models.distributions.StateDependentGaussian``) instead of independent noise.

    Call:
        ``model(states)`` with float32 ``states`` of shape ``(batch, obs_dim)`` returns
        ``(params, value)``: float32 ``(batch, distribution.params_size)`` and ``(batch,)``.
        A recurrent model takes ``model(states, recurrent_state)`` (zeros if omitted) and
        returns ``(params, value, next_recurrent_state)``. ``step`` and ``unroll`` have one
        signature for both kinds.

    Saving: ``save_weights`` to a ``.weights.h5`` file, or the whole model to a ``.keras`` file
    that ``keras.saving.load_model`` reads back wherever this module has been imported.

    Raises:
        ValueError: if ``num_actions`` or a width in ``hidden_units`` is < 1, or
            ``activation`` is not in ``ACTIVATIONS``, or ``weight_init`` not in
            ``WEIGHT_INITS``, or ``recurrent_units`` is < 0 or comes
            with ``separate_value_trunk``, or ``use_sde`` comes without ``continuous``.
    """

    def __init__(
        self,
        num_actions: int,
        hidden_units: tuple[int, ...] = (128,),
        continuous: bool = False,
        log_std_init: float = 0.0,
        normalize_observations: bool = False,
        activation: str = "relu",
        separate_value_trunk: bool = False,
        recurrent_units: int = 0,
        image_shape: tuple[int, ...] = (),
        weight_init: str = "glorot",
        use_sde: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_actions < 1:
            raise ValueError(f"num_actions must be >= 1, got {num_actions}")
        if not hidden_units or any(units < 1 for units in hidden_units):
            raise ValueError(f"hidden_units must be one or more widths >= 1, got {hidden_units}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if weight_init not in WEIGHT_INITS:
            raise ValueError(f"weight_init must be one of {WEIGHT_INITS}, got {weight_init!r}")
        if use_sde and not continuous:
            raise ValueError("use_sde (state-dependent exploration) needs continuous actions")
        if recurrent_units < 0:
            raise ValueError(f"recurrent_units must be >= 0, got {recurrent_units}")
        if image_shape and (len(image_shape) != 3 or normalize_observations):
            raise ValueError(
                f"image_shape must be (channels, height, width) without normalize_observations, "
                f"got {image_shape}"
            )
        if recurrent_units and separate_value_trunk:
            raise ValueError(
                "a recurrent model's value head reads the LSTM core; it has no separate value trunk"
            )
        self.num_actions = int(num_actions)
        self.hidden_units = tuple(int(units) for units in hidden_units)
        self.continuous = bool(continuous)
        self.log_std_init = float(log_std_init)
        self.normalize_observations = bool(normalize_observations)
        self.activation = activation
        self.separate_value_trunk = bool(separate_value_trunk)
        self.recurrent_units = int(recurrent_units)
        self.image_shape = tuple(int(size) for size in image_shape)
        self.weight_init = weight_init
        self.use_sde = bool(use_sde)
        # The blocks, each a tuple of layers run in order (tuples: tf.train.Checkpoint tracks
        # the layers in them, where it loses Keras's tracked lists). ``models/layer_forms.py``
        # derives acting and export from these blocks, and ``build_for`` refuses a layer
        # outside them.
        # Observations -> features, the input of both trunks: running normalisation, or the
        # A3C paper's convolutions on Atari frames.
        if self.image_shape:
            # Scaled before the permutation: TensorFlow's graph optimiser would otherwise move
            # the transpose before the cast to float, onto bytes, which its oneDNN kernels do
            # not take (a C++ error line at the first update).
            self.encoder = (
                keras.layers.Rescaling(1.0 / 255.0, name="scale_pixels"),
                keras.layers.Permute((2, 3, 1), name="channels_last"),
                self._conv(16, 8, strides=4, name="conv_0"),
                self._conv(32, 4, strides=2, name="conv_1"),
                keras.layers.Flatten(name="flatten"),
            )
        elif normalize_observations:
            self.encoder = (ObservationNormalization(name="observation_normalization"),)
        else:
            self.encoder = ()
        self.trunk = self._dense_stack("trunk")
        self.value_trunk = self._dense_stack("value_trunk") if separate_value_trunk else ()
        self.core = keras.layers.LSTMCell(recurrent_units, name="lstm") if recurrent_units else None
        if self.use_sde:  # the noise reads the features the policy head reads
            features = self.recurrent_units or self.hidden_units[-1]
            self.distribution = StateDependentGaussian(self.num_actions, features)
        elif self.continuous:
            self.distribution = DiagonalGaussian(self.num_actions)
        else:
            self.distribution = Categorical(self.num_actions)
        self.policy_head = self.distribution.policy_head(
            self.log_std_init, self._kernel_initializer("policy")
        )
        self.value_head = keras.layers.Dense(
            1, kernel_initializer=self._kernel_initializer("value"), name="value"
        )

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

    def build_for(self, obs_dim: int) -> ActorCriticModel:
        """Creates the weights for observations of ``obs_dim`` floats (or of ``image_shape``,
        with one); returns ``self``.

        Keras 3 subclassed models have no weights until first called; saving, loading and
        ``set_weights`` all need them.

        Raises:
            ValueError: naming the layer, if the model holds one that acting or export do not
                know, or one outside its blocks (``models.layer_forms.check_layers``).
        """
        if self.image_shape:
            self(tf.zeros((1, *self.image_shape), tf.uint8))
        else:
            self(tf.zeros((1, obs_dim), tf.float32))
        check_layers(self)
        return self

    def get_config(self):
        return {
            **super().get_config(),
            "num_actions": self.num_actions,
            "hidden_units": list(self.hidden_units),
            "continuous": self.continuous,
            "log_std_init": self.log_std_init,
            "normalize_observations": self.normalize_observations,
            "activation": self.activation,
            "separate_value_trunk": self.separate_value_trunk,
            "recurrent_units": self.recurrent_units,
            "image_shape": list(self.image_shape),
            "weight_init": self.weight_init,
            "use_sde": self.use_sde,
        }


def run_layers(layers, inputs):
    """``inputs`` through ``layers``, in order."""
    for layer in layers:
        inputs = layer(inputs)
    return inputs


def build_model(
    dims,
    hidden_units: tuple[int, ...] = (128,),
    log_std_init: float = 0.0,
    normalize_observations: bool = False,
    activation: str = "relu",
    separate_value_trunk: bool = False,
    recurrent_units: int = 0,
    weight_init: str = "glorot",
    use_sde: bool = False,
) -> ActorCriticModel:
    """An ``ActorCriticModel`` with weights, for an env's ``dims`` (``utils.envs.Dims``:
    ``obs_dim``, ``num_actions``, ``continuous`` and ``image_shape``, which chooses the trunk:
    convolutional for images, dense otherwise); the other arguments are the model's."""
    model = ActorCriticModel(
        dims.num_actions,
        hidden_units,
        continuous=dims.continuous,
        log_std_init=log_std_init,
        normalize_observations=normalize_observations,
        activation=activation,
        separate_value_trunk=separate_value_trunk,
        recurrent_units=recurrent_units,
        image_shape=dims.image_shape,
        weight_init=weight_init,
        use_sde=use_sde,
    )
    return model.build_for(dims.obs_dim)
