"""Stable-Baselines3's callback interface, for callbacks written for SB3: subclass
``BaseCallback`` (``from a3c_keras import BaseCallback`` in place of
``from stable_baselines3.common.callbacks import BaseCallback``) and override ``_on_step``.

The project's own ``Callback`` (``training/callbacks.py``) and Keras's
``keras.callbacks.Callback`` are taken by ``learn`` too; docs/API.md compares the three.
"""

from __future__ import annotations

from typing import Any

from training.callbacks import Callback


class BaseCallback:
    """Stable-Baselines3's ``BaseCallback``: override ``_on_step`` (return False to stop the
    run after the current step) and, as needed, ``_init_callback``, ``_on_training_start``,
    ``_on_rollout_start``, ``_on_rollout_end``, ``_on_training_end``.

    What differs from SB3: ``on_step`` is called once per update, after the rollout it learns
    from (A2C: ``n_steps`` x ``num_envs`` env steps; A3C: a worker's ``update_freq`` x
    ``envs_per_worker``), between ``on_rollout_start`` and ``on_rollout_end``; SB3 calls it at
    every env step.

    Attributes:
        model: the agent (``A2C`` or ``A3C``): ``model.num_timesteps``, ``model.save(...)``.
        training_env: ``model.get_env()`` (made at first use).
        n_calls: ``on_step`` calls so far.
        num_timesteps: env steps of the agent (``model.num_timesteps``) at the last call.
        locals: ``total_timesteps`` (of this ``learn``), ``update`` (the newest update's
            metrics by name: ``loss``, ``policy_loss``, ``value_loss``, ``entropy``,
            ``grad_norm``, ``applied``), ``infos`` (one dict per training episode that ended
            since the previous call, ``{"episode": {"r": return, "l": length}}`` as SB3's
            ``Monitor`` gives them).
        globals: an empty dict (SB3 passes its module's globals).
        verbose: as given.
        parent: None (SB3's ``EventCallback`` sets it).
    """

    def __init__(self, verbose: int = 0):
        self.verbose = verbose
        self.model = None
        self.n_calls = 0
        self.num_timesteps = 0
        self.locals: dict[str, Any] = {}
        self.globals: dict[str, Any] = {}
        self.parent = None
        self.logger = None

    @property
    def training_env(self):
        return self.model.get_env()

    def init_callback(self, model) -> None:
        self.model = model
        self._init_callback()

    def on_training_start(self, locals_: dict, globals_: dict) -> None:
        self.locals, self.globals = locals_, globals_
        self.num_timesteps = self.model.num_timesteps
        self._on_training_start()

    def on_rollout_start(self) -> None:
        self._on_rollout_start()

    def on_step(self) -> bool:
        self.n_calls += 1
        self.num_timesteps = self.model.num_timesteps
        return self._on_step()

    def on_rollout_end(self) -> None:
        self._on_rollout_end()

    def on_training_end(self) -> None:
        self._on_training_end()

    def update_locals(self, locals_: dict) -> None:
        self.locals.update(locals_)

    def _init_callback(self) -> None:
        pass

    def _on_training_start(self) -> None:
        pass

    def _on_rollout_start(self) -> None:
        pass

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        pass

    def _on_training_end(self) -> None:
        pass


def is_sb3_callback(value) -> bool:
    """Whether ``value`` has SB3's callback interface (a ``BaseCallback`` here or SB3's)."""
    return all(hasattr(value, name) for name in ("init_callback", "on_step", "on_training_start"))


class SB3Callback(Callback):
    """Runs an SB3-style callback (``BaseCallback``) in the training loop: ``init_callback``
    and ``on_training_start`` as ``learn`` starts; at each update ``on_rollout_start``,
    ``on_step`` (False stops the run) and ``on_rollout_end``; ``on_training_end`` at the end.

    Args:
        callback: the SB3-style callback.
        agent: the agent it is given as ``model``.
        total_timesteps: this ``learn``'s budget in env steps (its ``locals``).
    """

    def __init__(self, callback, agent, total_timesteps: int):
        super().__init__()
        self.callback, self.agent, self.total_timesteps = callback, agent, total_timesteps
        self._infos: list[dict] = []

    def on_train_begin(self, logs: dict) -> None:
        self.callback.init_callback(self.agent)
        self.callback.on_training_start({"total_timesteps": self.total_timesteps}, {})

    def on_episode_end(self, index: int, logs: dict) -> None:
        self._infos.append({"episode": {"r": logs["return"], "l": logs["length"]}})

    def on_update_end(self, index: int, logs: dict) -> bool:
        infos, self._infos = self._infos, []
        callback = self.callback
        callback.update_locals({"update": dict(logs), "infos": infos})
        callback.on_rollout_start()
        keep_going = callback.on_step()
        callback.on_rollout_end()
        return keep_going

    def on_train_end(self, logs: dict) -> None:
        self.callback.on_training_end()
