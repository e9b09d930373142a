"""An ``ActorCriticModel``'s ``utils.model_spec.ModelSpec`` on the model's side: the settings the
model can be built from (checked, ``check_spec``), a spec from sizes alone
(``ActorCriticModel(2, (64,))``), and the spec as the model's Keras config."""

from __future__ import annotations

import dataclasses

from utils.model_spec import ModelSpec
from utils.spaces import ActionSpec, ObservationSpec

# The trunk's nonlinearities: ReLU (the A3C paper's), tanh (Stable-Baselines3's MLP policies).
ACTIVATIONS = ("relu", "tanh")

# The convolutions for image observations (``models.actor_critic.ActorCriticModel._encoder``):
# the A3C paper's (after Mnih et al. 2013) and Nature DQN's (Mnih et al. 2015; Stable-Baselines3's
# NatureCNN, RL Zoo's Atari network).
# (filters, size, stride) of each convolution.
IMAGE_ENCODER_LAYERS = {
    "a3c": ((16, 8, 4), (32, 4, 2)),
    "nature": ((32, 8, 4), (64, 4, 2), (64, 3, 1)),
}
IMAGE_ENCODERS = tuple(IMAGE_ENCODER_LAYERS)

# How the kernels start (``models.actor_critic.ORTHOGONAL_GAINS``): Keras's glorot, or orthogonal.
WEIGHT_INITS = ("glorot", "orthogonal")


# Keras's own arguments of a model (the rest are the spec's).
KERAS_ARGUMENTS = ("name", "trainable", "dtype")


def spec_settings(spec: ModelSpec) -> dict:
    """The settings of the spec's fields that files do not record (its initialisation)."""
    return {"log_std_init": spec.log_std_init, "weight_init": spec.weight_init}


def spec_config(spec: ModelSpec) -> dict:
    """The spec as a Keras config (JSON): its record and its initialisation."""
    return {**spec.record(), **spec_settings(spec)}


def spec_from_config(config: dict) -> ModelSpec:
    """The spec of ``spec_config``'s."""
    spec = ModelSpec.from_record(config)
    return dataclasses.replace(spec, **{k: config[k] for k in spec_settings(spec) if k in config})


def spec_of_arguments(
    num_actions: int,
    hidden_units: tuple[int, ...] = (128,),
    continuous: bool = False,
    image_shape: tuple[int, ...] = (),
    **settings,
) -> ModelSpec:
    """The spec of a model made from sizes (``ActorCriticModel(2, (64,), continuous=True)``):
    ``num_actions`` discrete actions (or with ``continuous`` a Box of that many dimensions),
    ``image_shape`` for image observations (else flat ones, their size given to
    ``build_for``), and ``ModelSpec``'s other settings by name.

    Raises:
        ValueError: if ``num_actions`` < 1.
    """
    if num_actions < 1:
        raise ValueError(f"num_actions must be >= 1, got {num_actions}")
    action = ActionSpec("Box" if continuous else "Discrete", (int(num_actions),))
    observation = ObservationSpec("image", tuple(image_shape)) if image_shape else None
    return ModelSpec(
        action=action, observation=observation, hidden_units=tuple(hidden_units), **settings
    )


def check_spec(spec: ModelSpec) -> None:
    """Checks that the model can be built from ``spec``.

    Raises:
        ValueError: if a width in ``hidden_units`` is < 1, ``activation`` is not in
            ``ACTIVATIONS``, ``weight_init`` not in ``WEIGHT_INITS``, ``recurrent_units`` is
            < 0 or comes with ``separate_value_trunk``, ``use_sde`` comes without Box actions,
            or image observations with ``normalize_observations`` or of another rank than 3, or
            ``image_encoder`` is not in ``IMAGE_ENCODERS``.
    """
    if not spec.hidden_units or any(units < 1 for units in spec.hidden_units):
        raise ValueError(f"hidden_units must be one or more widths >= 1, got {spec.hidden_units}")
    if spec.activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {spec.activation!r}")
    if spec.image_encoder not in IMAGE_ENCODERS:
        raise ValueError(
            f"image_encoder must be one of {IMAGE_ENCODERS}, got {spec.image_encoder!r}"
        )
    if spec.weight_init not in WEIGHT_INITS:
        raise ValueError(f"weight_init must be one of {WEIGHT_INITS}, got {spec.weight_init!r}")
    if spec.use_sde and spec.action.space != "Box":
        raise ValueError("use_sde (state-dependent exploration) needs continuous actions")
    if spec.recurrent_units < 0:
        raise ValueError(f"recurrent_units must be >= 0, got {spec.recurrent_units}")
    observation = spec.observation
    if (
        observation is not None
        and observation.kind == "image"
        and (len(observation.shape) != 3 or spec.normalize_observations)
    ):
        raise ValueError(
            f"image_shape must be (channels, height, width) without normalize_observations, "
            f"got {observation.shape}"
        )
    if spec.recurrent_units and spec.separate_value_trunk:
        raise ValueError(
            "a recurrent model's value head reads the LSTM core; it has no separate value trunk"
        )
