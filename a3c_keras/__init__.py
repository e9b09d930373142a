"""a3c-keras's Python API: A2C and A3C agents, as Stable-Baselines3 and Keras users expect.

    from a3c_keras import A2C, evaluate_policy

    model = A2C("MlpPolicy", "CartPole-v1").learn(total_timesteps=100_000)
    vec_env = model.get_env()
    obs, info = vec_env.reset()
    action, _ = model.predict(obs, deterministic=True)
    mean_reward, std_reward = evaluate_policy(model, n_eval_episodes=10)
    model.save("a2c_cartpole")  # a2c_cartpole.weights.h5

``A2C``, ``A3C``: ``a3c_keras/agent.py``; SB3's names they take: ``a3c_keras/compat.py``;
``evaluate_policy``: ``a3c_keras/evaluation.py``.
Callbacks (``Callback`` and the run's own ``ProgressLogger``, ``ProgressBar``,
``TensorBoard``, ``Checkpoints``; Keras's through ``KerasCallback``): ``training/callbacks.py``;
SB3's ``BaseCallback``: ``a3c_keras/callbacks.py``.
"""

import os

# NumPy's OpenBLAS threads its larger products (a one-hot Taxi observation times the first
# layer, 16 x 500 x 128) over every core; acting makes thousands of such small products a
# second, and when another process keeps the cores busy each one waits for its threads: 4.2 ms
# instead of 0.11 ms single-threaded (measured on the 2-core machine under load). One thread,
# unless the user set another number, before NumPy loads (in a
# program that imported NumPy first, its setting stays).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from utils.environ import check_environment  # noqa: E402
from utils.logs import import_tensorflow  # noqa: E402

# Environment variables TensorFlow or matplotlib would end the program on (TF_NUM_INTRAOP_THREADS
# =-1 aborts it): a ConfigError of one line instead, before TensorFlow loads (utils/environ.py).
check_environment()
# TensorFlow loads here, before anything below imports it, with its start-up notices caught
# (the lines its C++ code writes to stderr as it loads; any other line is passed on) and its
# INFO lines off, as on the command line (utils/logs.py).
import_tensorflow()

from a3c_keras.agent import A2C, A3C, ActorCriticAgent  # noqa: E402
from a3c_keras.callbacks import BaseCallback  # noqa: E402
from a3c_keras.evaluation import evaluate_policy  # noqa: E402
from training.callbacks import (  # noqa: E402
    Callback,
    Checkpoints,
    KerasCallback,
    ProgressBar,
    ProgressLogger,
    TensorBoard,
)
from training.evaluation import EvalResult  # noqa: E402
from utils.errors import (  # noqa: E402
    CheckpointError,
    ConfigError,
    EnvError,
    TrainingError,
    UsageError,
)

__all__ = [
    "A2C",
    "A3C",
    "ActorCriticAgent",
    "BaseCallback",
    "Callback",
    "CheckpointError",
    "Checkpoints",
    "ConfigError",
    "EnvError",
    "EvalResult",
    "KerasCallback",
    "ProgressBar",
    "ProgressLogger",
    "TensorBoard",
    "TrainingError",
    "UsageError",
    "evaluate_policy",
]
