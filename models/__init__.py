"""Keras models, the action distributions of their policies, and observation normalisation."""

from models.actor_critic import ActorCriticModel, build_model
from models.distributions import Categorical, DiagonalGaussian
from models.normalization import ObservationNormalization

__all__ = [
    "ActorCriticModel",
    "build_model",
    "Categorical",
    "DiagonalGaussian",
    "ObservationNormalization",
]
