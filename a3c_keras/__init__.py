"""a3c-keras's Python API: A2C and A3C agents, as Stable-Baselines3 and Keras users expect.

    from a3c_keras import A2C

    agent = A2C("CartPole-v1").learn(200_000)
    actions, _ = agent.predict(observations)
    agent.save("cartpole.weights.h5")

``A2C``, ``A3C``: ``a3c_keras/agent.py``. Callbacks (``Callback`` and the run's own
``ProgressLogger``, ``TensorBoard``, ``Checkpoints``): ``training/callbacks.py``.
"""

from a3c_keras.agent import A2C, A3C, ActorCriticAgent
from training.callbacks import Callback, Checkpoints, ProgressLogger, TensorBoard
from training.evaluation import EvalResult
from utils.errors import CheckpointError, ConfigError, EnvError, TrainingError, UsageError

__all__ = [
    "A2C",
    "A3C",
    "ActorCriticAgent",
    "Callback",
    "CheckpointError",
    "Checkpoints",
    "ConfigError",
    "EnvError",
    "EvalResult",
    "ProgressLogger",
    "TensorBoard",
    "TrainingError",
    "UsageError",
]
