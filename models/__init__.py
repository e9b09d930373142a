"""Keras models, the action distributions of their policies, and observation normalisation."""

from models.actor_critic import ActorCriticModel, build_model
from models.distributions import (
    Bernoulli,
    Categorical,
    DiagonalGaussian,
    Distribution,
    MultiCategorical,
    distribution_for,
)
from models.normalization import ObservationNormalization

__all__ = [
    "ActorCriticModel",
    "build_model",
    "Bernoulli",
    "Categorical",
    "DiagonalGaussian",
    "Distribution",
    "MultiCategorical",
    "distribution_for",
    "ObservationNormalization",
]
