"""Keras models."""

from models.actor_critic import ActorCriticModel

__all__ = ["ActorCriticModel"]
