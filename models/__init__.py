"""Keras models and the action distributions of their policies."""

from models.actor_critic import ActorCriticModel
from models.distributions import Categorical

__all__ = ["ActorCriticModel", "Categorical"]
