"""A run's settings, written once and loading no TensorFlow: the hyperparameters of each
algorithm (``config/hyperparameters.py``) and the settings tuned per env (``config/presets.py``)."""

from config.hyperparameters import MODEL_SETTINGS, A2CConfig, A3CConfig, ActorCriticConfig

__all__ = ["A2CConfig", "A3CConfig", "ActorCriticConfig", "MODEL_SETTINGS"]
