"""The Python API: ``A2C`` and ``A3C`` agents to build from an env, train with callbacks, act
with, evaluate, save and load, as Stable-Baselines3 and Keras users expect::

    from a3c_keras import A2C

    agent = A2C("CartPole-v1", seed=1)                 # an id, a factory, or a gymnasium.Env
    agent.learn(200_000, callbacks=[...])              # env steps; training.callbacks.Callback
    actions, state = agent.predict(observations)       # greedy; deterministic=False samples
    print(agent.evaluate(episodes=100).summary())
    agent.save("cartpole.weights.h5")                  # or .keras (an export)
    agent = A2C.load("cartpole.weights.h5")

The command line (``a2c_cartpole.py``, ``a3c_cartpole.py``) is built on these classes: its
flags are the keyword arguments here, checked by the same rules with the same one-line errors,
and the files are the same, so a model trained by either loads in the other.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import shutil
import signal
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import keras
import numpy as np
from absl import logging

from a3c_keras.callbacks import SB3Callback, is_sb3_callback
from a3c_keras.checks import (
    check_actions,
    check_budget,
    check_memory,
    check_observations,
    check_output_file,
    check_training,
)
from a3c_keras.compat import (
    check_policy,
    keyword_errors,
    policy_settings,
    sb3_settings,
    split_policy,
)
from config.hyperparameters import (
    MAX_SEED,
    MODEL_SETTINGS,
    A2CConfig,
    A3CConfig,
    ActorCriticConfig,
)
from config.presets import Preset, apply_preset
from models import ActorCriticModel, build_model
from models.acting import acting_policy
from models.export import LoadedPolicy, plain_model
from training.callbacks import (
    Callback,
    ProgressBar,
    ProgressLogger,
    SignalStop,
    TensorBoard,
    as_callbacks,
)
from training.episode_log import Episode, save_episodes_csv
from training.evaluation import EvalResult, Evaluation, evaluate, play
from training.state import saved_algorithm, saved_settings
from training.trainer import REPORT_SEED_OFFSET, Trainer
from utils.checkpoint import (
    describe,
    env_difference,
    export_model,
    keras_metadata,
    load_model_file,
    load_weights,
    model_path,
    run_files,
    save_weights,
    saved_env,
    use_hint,
    weights_metadata,
)
from utils.envs import (
    FACTORY_RECORDS,
    Dims,
    action_clipper,
    env_record,
    make_env,
    make_vector_env,
    probe_env,
    record_difference,
    record_name,
    register_env,
    reward_threshold,
)
from utils.errors import (
    CheckpointError,
    ConfigError,
    NoCheckpointError,
    SaveDirInUseError,
    UsageError,
    WriteError,
)
from utils.logs import OwnInformation
from utils.model_spec import ModelSpec
from utils.plotting import plot_training_curve
from utils.run_lock import RunLock
from utils.settings import format_value
from utils.spaces import FlatBox, Image, ObservationEncoder

# Settings a resumed run cannot change: the checkpoint holds what they built.
FIXED_ON_RESUME = (
    "env",
    *MODEL_SETTINGS,
    "normalize_rewards",
    "lr_schedule",
    "optimizer",
    "workers",
    "backend",
)


class ActorCriticAgent:
    """What ``A2C`` and ``A3C`` share: an env, a config, a Keras model, and, where asked, a save
    directory.

    ``A2C("MlpPolicy", "CartPole-v1")`` as in Stable-Baselines3, or ``A2C("CartPole-v1")``:
    the policy name may be left out (the env's observations choose the model).

    Args:
        policy: an SB3 policy name (``MlpPolicy``, ``MultiInputPolicy``, ``CnnPolicy``,
            ``MlpLstmPolicy``, ``CnnLstmPolicy``: the LSTM ones set ``recurrent``; a CNN
            policy is for images, the others for any other observations), or the env when no
            policy is named.
        env: a gymnasium env id (``"CartPole-v1"``, ``"module:EnvId"``), a factory (a class or
            function that returns a ``gymnasium.Env``; for ``backend="ray"`` one the worker
            processes can unpickle: defined in the script or notebook, or in a module they can
            import), or a ``gymnasium.Env`` (copied for each env a run needs). Default
            ``"CartPole-v1"``.
        env_name: the name a factory or env object is registered under (it names the files
            and picks a preset); default: its env class's name.
        save_dir: the run's directory, as ``--save_dir``: the best model, checkpoints, the
            episode log and plot, TensorBoard logs. None (the default here; the command line's
            is ``runs/a2c`` or ``runs/a3c``): training writes no file, and the best model's
            weights are kept in memory (``load_best``).
        tensorboard_log: a directory for TensorBoard's event files (each ``learn`` a new
            ``<tb_log_name>_<n>`` in it, as SB3's); default: ``<save_dir>/logs`` with a
            ``save_dir``, else none.
        preset: take the settings of ``config/presets.py`` for the env where a keyword does
            not give them (as the command line does).
        resume: continue the run in ``save_dir`` (its checkpoint and settings; keywords given
            override those that may change), as ``--resume``.
        overwrite: replace a run on the same env in ``save_dir``, as ``--overwrite`` (without
            it or ``resume`` such a run is refused at ``learn``).
        verbose: 1 logs the progress lines and evaluations (absl INFO), 0 does not.
        **settings: hyperparameters, the fields of ``A2CConfig`` or ``A3CConfig`` (``lr``,
            ``gamma``, ``num_envs``, ``hidden_units``, ...), as the flags of the same names;
            or SB3's names (``learning_rate``, ``n_steps``, ``ent_coef``, ``vf_coef``,
            ``use_rms_prop``, ``policy_kwargs=dict(net_arch=..., activation_fn=...)``, ...:
            ``a3c_keras.compat``, and docs/API.md's table).

    Attributes:
        config: the run's settings (a frozen dataclass).
        model: the Keras model (``models.ActorCriticModel``) that trains and acts.
        num_timesteps: env steps trained (since the last ``learn(reset_num_timesteps=True)``).
        episodes: the training episodes so far (``training.episode_log.Episode``).
        evaluations: the greedy evaluations made during training.

    Raises:
        ConfigError: unknown keywords (all of them, in one line), a value of the wrong type or
            range, a policy name not for the env's observations; messages name the keywords
            as written.
        EnvError: an env that is unknown, not supported, or breaks gymnasium's contract at its
            first reset or step.
        UsageError: with ``resume``, a setting given that the run cannot change (nothing to
            resume is found by ``learn``, with the save directory's other checks).
    """

    config_class: ClassVar[type[ActorCriticConfig]] = ActorCriticConfig
    name: ClassVar[str] = ""

    def __init__(
        self,
        policy: str | Callable[[], gym.Env] | gym.Env | None = None,
        env: str | Callable[[], gym.Env] | gym.Env | None = None,
        *,
        env_name: str | None = None,
        save_dir: str | Path | None = None,
        tensorboard_log: str | Path | None = None,
        preset: bool = True,
        resume: bool = False,
        overwrite: bool = False,
        verbose: int = 1,
        **settings: Any,
    ):
        policy, env = split_policy(policy, env)
        settings, written = sb3_settings(self.config_class, settings)
        if policy is not None:
            recurrent = policy_settings(policy)["recurrent"]
            if settings.get("recurrent", recurrent) != recurrent:
                raise ConfigError(
                    f"policy={policy!r} and recurrent={settings['recurrent']!r}: the policy "
                    f"{'is' if recurrent else 'is not'} recurrent; give one of them"
                )
            settings.setdefault("recurrent", recurrent)
            written.setdefault("recurrent", f"policy={policy!r}")
        if settings.get("recurrent") and written.get("separate_value_trunk", "").startswith(
            "policy_kwargs"
        ):
            del settings["separate_value_trunk"]  # an LSTM policy's net_arch: the trunk before it
        if not isinstance(preset, bool):
            raise ConfigError(f"preset={preset!r}: must be True or False")
        for name, value in (("save_dir", save_dir), ("tensorboard_log", tensorboard_log)):
            if value is not None and not isinstance(value, str | Path):
                raise ConfigError(f"{name}={value!r:.60}: a directory (str or Path) or None")
        if (resume or overwrite) and save_dir is None:
            flag = "resume" if resume else "overwrite"
            raise ConfigError(f"{flag}={resume or overwrite!r}: give the run's save_dir too")
        self.policy = policy
        self.tensorboard_log = None if tensorboard_log is None else Path(tensorboard_log)
        known = self.keywords()
        with keyword_errors(written, known):
            env_id = register_env("CartPole-v1" if env is None else env, env_name)
            config = self.config_class(env=env_id, **settings)
            if preset:
                config, preset_used = apply_preset(config, lambda name: name in settings)
                log_preset(config, preset_used, settings)
            if resume:
                config = resumed_config(config, save_dir, lambda name: name in settings)
            self._setup(config, save_dir, resume, overwrite, verbose)

    @classmethod
    def keywords(cls) -> set[str]:
        """The names a message may give as flags that are this class's keywords too (its
        settings and the save directory's), for ``compat.keyword_errors``."""
        names = {field.name for field in dataclasses.fields(cls.config_class)}
        return names | {"save_dir", "resume", "overwrite", "env_name", "tensorboard_log"}

    @classmethod
    def from_config(
        cls,
        config: ActorCriticConfig,
        save_dir: str | Path,
        resume: bool = False,
        overwrite: bool = False,
        verbose: int = 1,
        dims: Dims | None = None,
        lock: RunLock | None = None,
    ) -> ActorCriticAgent:
        """An agent for a ready ``config`` (the command line's: flags, preset and resume
        applied), its env registered. With ``dims`` (the env was probed), the caller has run
        ``check_training`` too: ``learn`` does not run it again. ``lock``: the save
        directory's lock, which the caller took for its checks and releases; ``learn`` trains
        under it (without one, ``learn`` takes its own)."""
        agent = cls.__new__(cls)
        agent._setup(config, Path(save_dir), resume, overwrite, verbose, dims)
        agent._checked = dims is not None
        agent._run_lock = lock
        return agent

    def _setup(self, config, save_dir, resume, overwrite, verbose, dims=None):
        if not isinstance(config, self.config_class):
            raise ConfigError(
                f"{type(self).__name__} takes an {self.config_class.__name__}, not "
                f"{type(config).__name__}"
            )
        if save_dir is not None and not str(save_dir).strip():
            raise UsageError("--save_dir is empty: name a directory (. for this one)")
        for name, value in (("resume", resume), ("overwrite", overwrite), ("verbose", verbose)):
            if not isinstance(value, bool | int) or (name != "verbose" and value not in (0, 1)):
                raise ConfigError(f"{name}={value!r}: must be True or False")
        self.config = config
        self.save_dir = None if save_dir is None else Path(save_dir)
        self.__dict__.setdefault("policy", None)  # from_config: the command line's flags
        self.__dict__.setdefault("tensorboard_log", None)
        self.resume = bool(resume)
        self.overwrite = bool(overwrite)
        self.verbose = int(verbose)
        self.dims = dims or probe_env(config.env)
        check_policy(self.policy, bool(self.dims.image_shape), config.env)
        if dims is None:
            check_observations(config, self.dims)
            check_actions(config, self.dims)
            check_memory(config, self.dims)  # before a model too large is built
        keras.utils.set_random_seed(config.seed)
        self.model = build_model(self.dims, **config.model_options())
        self.algorithm = None
        self._checked = False  # check_training has run (from_config)
        self._run_lock = None  # the save directory's lock, if the caller holds it (from_config)
        self.trainer: Trainer | None = None
        self._policy = None  # predict's acting pass, made at its first call
        self._timesteps_origin = 0  # env steps when num_timesteps was last reset
        self._tensorboard_runs = 0  # learn calls that opened a TensorBoard run

    # Training -----------------------------------------------------------------------------

    def make_algorithm(self, config: ActorCriticConfig, model: keras.Model):
        """The algorithm (a ``training.trainer.Algorithm``) training ``model``."""
        raise NotImplementedError

    @property
    def episodes(self) -> list[Episode]:
        return list(self.trainer.episode_log.episodes) if self.trainer else []

    @property
    def evaluations(self) -> list[Evaluation]:
        return list(self.trainer.evaluations) if self.trainer else []

    def learn(
        self,
        total_timesteps: int | None = None,
        callback: Any = None,
        log_interval: int | None = None,
        tb_log_name: str | None = None,
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
        *,
        episodes: int | None = None,
        callbacks: Any = (),
    ) -> ActorCriticAgent:
        """Trains for a budget (with a ``save_dir``, then writes the episode log and the plot
        there); returns the agent. Called again, training goes on (same model, optimizer,
        episode log and checkpoints) for another budget. Stable-Baselines3's signature.

        Args:
            total_timesteps: env steps (all envs together) to train for; with ``episodes``
                too, whichever comes first. Neither: the config's ``max_steps`` and
                ``max_eps``. On the first ``learn`` of an agent made with ``resume=True`` a
                budget is a total that counts the steps before (as ``--resume``); on any other
                call, more steps (or episodes) than so far.
            callback, callbacks: one callback or a list (either keyword; both are taken):
                ``a3c_keras.Callback``s (``ProgressLogger``, ``TensorBoard`` and
                ``Checkpoints`` instances replace the run's own), SB3-style
                ``a3c_keras.BaseCallback``s, or ``keras.callbacks.Callback``s (their epochs
                are the greedy evaluations: ``training.callbacks.KerasCallback``).
            log_interval: updates between progress lines (SB3's); None: each 2% of the budget.
            tb_log_name: the TensorBoard run's name in ``tensorboard_log`` (default the
                algorithm's, ``A2C_1``, ``A2C_2``, ... as SB3's).
            reset_num_timesteps: start ``num_timesteps`` from 0 (SB3's default); False: go on
                counting. Either way this call trains ``total_timesteps`` more.
            progress_bar: show a progress bar (Keras's ``Progbar``) on standard output.
            episodes: training episodes to train for.

        A callback that sets ``self.model.stop_training = True``, returns False from a method
        (SB3's ``_on_step``), or ``request_stop`` (a signal handler), ends training cleanly:
        evaluated, saved and checkpointed as at the end of the budget. Ctrl-C does the same and
        then raises ``KeyboardInterrupt``: the model stays usable (in memory, and on disk with
        a ``save_dir``).

        Raises:
            ConfigError: a budget that is not a positive int, a callback that is none of the
                kinds above, another argument of the wrong type.
            UsageError: the save directory cannot be written, is in use, or holds another run
                on the env (see ``overwrite``); a budget smaller than one rollout; an
                agent loaded from a ``.keras`` export (it acts only); a ``learn`` of this
                agent is running (called from its callback).
            TrainingError: training failed (a worker, an env, non-finite updates).
            utils.errors.WriteError: a file could not be written (disk full, say).
        """
        if self.trainer is not None and self.trainer.running:
            raise UsageError(
                "learn() was called while this agent's learn() runs (from one of its "
                "callbacks?): stop it (self.model.stop_training = True) and call learn() "
                "after it returns"
            )
        if not isinstance(self.model, ActorCriticModel):
            raise UsageError(
                "this agent was loaded from a .keras export, which acts only; load the "
                ".weights.h5 file to train"
            )
        for name, value in (
            ("reset_num_timesteps", reset_num_timesteps),
            ("progress_bar", progress_bar),
        ):
            if not isinstance(value, bool):
                raise ConfigError(f"{name}={value!r}: must be True or False")
        if tb_log_name is not None and not (
            isinstance(tb_log_name, str) and tb_log_name.strip() and "/" not in tb_log_name
        ):
            raise ConfigError(f"tb_log_name={tb_log_name!r}: a name for a directory")
        for name, value in (("total_timesteps", total_timesteps), ("episodes", episodes)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | np.integer)
            ):
                raise ConfigError(f"{name}={value!r}: must be an integer >= 1 or None")
            if value is not None and not 1 <= value <= 2**62:
                raise ConfigError(f"{name}={value}: must be in [1, 2**62] (or None: the config's)")
        config = self.config
        budget = {"max_steps": "total_timesteps", "max_eps": "episodes"}
        known = self.keywords()
        # Checked before anything is made or removed.
        callbacks = self._callbacks(
            callback, callbacks, log_interval, progress_bar, tb_log_name, total_timesteps
        )
        interrupt = None
        if not any(isinstance(callback, SignalStop) for callback in callbacks):
            interrupt = SignalStop()  # Ctrl-C stops and saves; raised again after that
            callbacks.append(interrupt)
        first = self.trainer is None
        # The save directory's lock: the caller's (the command line takes it for its checks
        # and releases it), else this call's own, which check_training takes before it looks
        # at what the directory holds (and releases if they refuse). None without a save_dir:
        # nothing is taken or written.
        lock, own_lock = self._run_lock, False
        if lock is None and self.save_dir is not None:
            lock, own_lock = RunLock(self.save_dir), True
        with keyword_errors(budget if total_timesteps or episodes else {}, known):
            if not first and total_timesteps is not None:
                check_budget(dataclasses.replace(config, max_steps=int(total_timesteps)))
            if not first and config.lr_schedule == "linear":
                raise UsageError(
                    "--lr_schedule=linear decayed the learning rate to 0 over the first "
                    "learn's budget: a second learn would not change the model (give the "
                    "whole budget to one learn, or use lr_schedule='constant')"
                )
            if first:
                if total_timesteps is not None or episodes is not None:
                    config = dataclasses.replace(
                        config, max_steps=int(total_timesteps or 0), max_eps=int(episodes or 0)
                    )
                if not (self._checked and config == self.config):
                    check_training(
                        self.save_dir, config, self.dims, self.resume, self.overwrite, lock
                    )
        if first:
            # Envs, threads or Ray made before any file but the lock is written: their errors
            # leave none (releasing the lock removes a lock file its taking made).
            try:
                self.algorithm = self.make_algorithm(config, self.model)
            except BaseException:
                if own_lock:
                    lock.release()
                raise
        try:
            if lock is not None:
                lock.acquire()  # held since the checks; taken here by a later learn
            if first:
                if self.overwrite:
                    remove_earlier_run(self.save_dir, config.env)
                self.trainer = Trainer(
                    self.algorithm,
                    self.save_dir,
                    resume=self.resume,
                    callbacks=callbacks,
                    verbose=bool(self.verbose),
                )
                self.config = config  # the run's, its budget included
            else:
                self.trainer.set_callbacks(callbacks)
        except NoCheckpointError as error:
            if own_lock:
                lock.release()
            raise UsageError(f"--resume: {error}; leave --resume out to start a new run") from None
        except SaveDirInUseError as error:
            if own_lock:
                lock.release()
            raise UsageError(str(error)) from None
        except OSError as error:
            if own_lock:
                lock.release()
            if isinstance(error, WriteError):
                raise
            raise UsageError(
                f"--save_dir={self.save_dir} cannot be created or written: {error.strerror}"
            ) from None
        except BaseException:
            if own_lock:
                lock.release()
            raise
        finally:
            if first and self.trainer is None:  # no trainer: the algorithm is not used
                self.algorithm.close()
                self.algorithm = None
        if reset_num_timesteps and not (first and self.resume):
            self._timesteps_origin = self.trainer.episode_log.env_steps
        try:
            with log_lines_shown(self.verbose):
                self._train(first, total_timesteps, episodes)
        finally:
            if own_lock:
                lock.release()
        if self.save_dir is not None:
            self.write_run_files()
        stopped = self.trainer.interrupted  # a callback raised KeyboardInterrupt: as Ctrl-C
        if interrupt is not None and interrupt.received:
            stopped = f"interrupted by {signal.Signals(interrupt.received[0]).name}"
        if stopped:
            where = self.trainer.state.latest if self.trainer.state else None
            raise KeyboardInterrupt(
                f"{stopped}; "
                + (f"the run was saved ({where})" if where else "the model is as trained so far")
            )
        return self

    def _callbacks(
        self, callback, callbacks, log_interval, progress_bar, tb_log_name, total_timesteps
    ) -> list[Callback]:
        """The callbacks of one ``learn``: ``callback`` and ``callbacks`` (SB3-style ones
        wrapped in ``SB3Callback``), then a ``ProgressLogger`` for ``log_interval``, a
        ``ProgressBar``, and a ``TensorBoard`` writing to ``tensorboard_log``."""
        given = []
        for value in (callback, callbacks):
            if value is None:
                continue
            if not isinstance(value, list | tuple):
                value = [value]
            given.extend(value)
        steps = int(total_timesteps or self.config.max_steps or 0)
        items = as_callbacks(
            [SB3Callback(c, self, steps) if is_sb3_callback(c) else c for c in given]
        )
        if log_interval is not None and self.verbose:
            items.append(ProgressLogger(log_interval))
        elif log_interval is not None:
            ProgressLogger(log_interval)  # checked all the same
        if progress_bar:
            items.append(ProgressBar())
        if self.tensorboard_log is not None:
            self._tensorboard_runs += 1
            name = f"{tb_log_name or self.name.upper()}_{self._tensorboard_runs}"
            items.append(TensorBoard(str(self.tensorboard_log / name)))
        return items

    @property
    def num_timesteps(self) -> int:
        """Env steps trained, all envs together, since the last ``learn`` with
        ``reset_num_timesteps=True`` (the whole run's with False; a resumed run's count its
        steps before)."""
        if self.trainer is None:
            return 0
        return self.trainer.episode_log.env_steps - self._timesteps_origin

    def _train(self, first: bool, total_timesteps: int | None, episodes: int | None) -> None:
        """``Trainer.train``: the first time for the config's budget (a resumed run's counts
        its past), then for another ``total_timesteps`` or ``episodes`` (or the config's)."""
        if first:
            self.trainer.train()
            return
        log, config = self.trainer.episode_log, self.config
        if total_timesteps is None and episodes is None:
            total_timesteps, episodes = config.max_steps, config.max_eps
        self.trainer.train(
            max_episodes=len(log.episodes) + int(episodes) if episodes else 0,
            max_steps=log.env_steps + int(total_timesteps) if total_timesteps else 0,
        )

    def request_stop(self) -> None:
        """Ends the running ``learn`` after the current step (from a signal handler or another
        thread); it saves as at the end of its budget."""
        if self.trainer is not None:
            self.trainer.request_stop()

    def write_run_files(self) -> tuple[Path, Path]:
        """Writes the plot of the training returns and the episode log (CSV) to the save
        directory; returns their paths."""
        trainer, config = self.trainer, self.config
        episodes = trainer.episode_log.episodes
        files = run_files(self.save_dir, config.env)
        plot = plot_training_curve(
            files.plot,
            trainer.title,
            [e.episode_return for e in episodes],
            [e.moving_average for e in episodes],
            reward_threshold(config.env),
            [(e.episodes, e.result.mean, e.result.std) for e in trainer.evaluations],
            config.eval_episodes,
        )
        return plot, save_episodes_csv(episodes, files.episodes)

    @property
    def model_file(self) -> Path | None:
        """The run's best model: ``<save_dir>/model_<env>.weights.h5``; None without a
        ``save_dir``."""
        return None if self.save_dir is None else model_path(self.save_dir, self.config.env)

    def load_best(self) -> ActorCriticAgent:
        """Loads the run's best model (the weights that scored best in a greedy evaluation,
        ``model_file``, or kept in memory without a ``save_dir``) into ``model``; returns the
        agent.

        Raises:
            CheckpointError: no such file, or it does not fit; no best model yet (without a
                save_dir, before a ``learn``).
        """
        if self.save_dir is None:
            best = self.trainer.best_weights if self.trainer is not None else None
            if best is None:
                raise CheckpointError("no best model yet: learn first (or give a save_dir)")
            self.model.set_weights(best)
            return self
        load_weights(self.model, self.model_file, self.config.env)
        return self

    # Acting -------------------------------------------------------------------------------

    def predict(
        self,
        observation: np.ndarray,
        state: tuple | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, tuple | None]:
        """The policy's actions for a batch of observations, as Stable-Baselines3's
        ``predict``.

        Args:
            observation: observations of the env's space as the env gives them, a batch or
                one: a Box's ``(batch, *obs_shape)`` (or ``obs_shape``); a Discrete's
                ``(batch,)`` integers (or one); a Dict's a dict of such batches by key (or of
                one observation each), a Tuple's a tuple of them, as Stable-Baselines3 takes
                them. They are encoded as the env's are in training (``utils.spaces``).
            state: a recurrent model's state as the previous call returned it, ``(h, c)``
                float32 ``(batch, units)`` each; None: zeros.
            episode_start: bool ``(batch,)``: the envs whose episode starts with this
                observation; their state is zeroed first.
            deterministic: the greedy action (argmax, or the Gaussian's mean); False samples
                from the policy (``np.random`` of ``keras.utils.set_random_seed``), with gSDE
                from noise weights drawn afresh at each call (training holds them for a
                rollout; a sample here is one step's).

        Returns:
            ``(actions, state)``: actions ready for ``env.step`` (int for Discrete, shifted
            by its ``start``; float32 clipped to the bounds for Box), ``(batch,)`` or
            ``(batch, action_dim)``; for MultiDiscrete ``(batch, entries)`` shifted by its
            ``start``, for MultiBinary ``(batch, bits)`` of 0 and 1, in the space's dtypes;
            or one action for one observation; the next recurrent state, or None for a
            feed-forward model.

        Raises:
            ValueError: one line, for observations that are neither one of the env's space nor
                a batch of them (of another shape, or outside a Discrete's range), or that
                hold NaN or infinite numbers (as float32).
        """
        batch, single = self.encoder.batch(observation)
        check_finite_observations(batch)
        policy = self._acting()
        size = len(batch)
        units = getattr(self.model, "recurrent_units", 0)
        if state is None or not units:
            state = policy.initial_state(size)
        else:
            state = tuple(np.asarray(part, np.float32) for part in state)
            if len(state) != 2 or any(part.shape != (size, units) for part in state):
                shapes = ", ".join(str(part.shape) for part in state)
                raise ValueError(
                    f"state of shapes ({shapes}): a recurrent state is (h, c), each of shape "
                    f"(batch, {units}) = {(size, units)} here, as predict returned it, or None"
                )
        if episode_start is not None and units:
            starts = np.asarray(episode_start)
            if starts.shape not in ((size,), (size, 1)) and not (single and starts.size == 1):
                raise ValueError(
                    f"episode_start of shape {starts.shape}: one bool per observation, ({size},)"
                )
            keep = 1.0 - starts.astype(np.float32).reshape(size, 1)
            state = tuple(part * keep for part in state)
        params, state = policy(np.asarray(batch, np.float32), state)
        params = np.asarray(params)
        distribution = self.model.distribution
        if deterministic:
            actions = distribution.greedy(params)
        else:
            noise = distribution.noise(np.random.default_rng(np.random.randint(2**31)), (size,))
            actions = distribution.sample(params, noise)
        actions = self._to_env(actions)
        return (actions[0] if single else actions), (tuple(state) if len(state) else None)

    def _acting(self):
        """The acting pass, made at the first call, over the model's weights as they are now
        (read again at each call: ``learn`` or ``load_best`` may have changed them)."""
        if self._policy is None:
            self._policy = acting_policy(self.model)
            space = self.action_space
            self._to_env = action_clipper(space, self.config.env)
        else:
            self._policy.sync()
        return self._policy

    @property
    def encoder(self) -> ObservationEncoder:
        """What turns the env's observations into the model's (``utils.spaces``)."""
        if self.dims.observation_space is not None:
            return self.dims.encoder
        shape = self.dims.obs_shape  # Dims of sizes alone: a Box of that shape
        return (Image if self.dims.image_shape else FlatBox)(
            gym.spaces.Box(0, 255, shape, np.uint8 if self.dims.image_shape else np.float32)
        )

    @property
    def action_space(self) -> gym.Space:
        """The env's action space."""
        env = make_env(self.config.env)
        try:
            return env.action_space
        finally:
            env.close()

    def evaluate(self, episodes: int | None = None, seed: int | None = None) -> EvalResult:
        """Greedy episodes of the model as it is now, one per env, as ``--evaluate`` plays
        them (``eval_episodes`` of them, seeded ``seed + 10000`` by default: other episodes
        than those training chose the best model on).

        Returns:
            ``training.evaluation.EvalResult``: ``returns`` (float64 ``(episodes,)``),
            ``mean``, ``std``, ``summary()``; it unpacks as ``mean, std = agent.evaluate()``
            (floats), as Stable-Baselines3's ``evaluate_policy`` returns them.

        Raises:
            ConfigError: ``episodes`` not an int >= 1, or ``seed`` outside ``[0, 2**31 - 1]``.
        """
        episodes = self.config.eval_episodes if episodes is None else episodes
        seed = self.config.seed + REPORT_SEED_OFFSET if seed is None else seed
        check_episodes_and_seed(episodes, seed)
        return evaluate(self.model, self.config.env, episodes, seed=seed)

    def play(
        self,
        episodes: int = 1,
        seed: int | None = None,
        render_mode: str | None = None,
        out: Callable[[str], None] = print,
        on_frame: Callable[[np.ndarray], None] | None = None,
    ) -> EvalResult:
        """Plays greedy episodes in one env, printing each step (``training.evaluation.play``:
        episode ``k`` seeded ``seed + k``, default the config's seed)."""
        seed = self.config.seed if seed is None else seed
        check_episodes_and_seed(episodes, seed)
        return play(
            self.model,
            self.config.env,
            episodes,
            seed=seed,
            render_mode=render_mode,
            out=out,
            on_frame=on_frame,
        )

    def get_env(self) -> gym.vector.VectorEnv:
        """A gymnasium vector env of the agent's env, to step with ``predict``, as
        Stable-Baselines3's ``get_env`` (whose ``VecEnv`` API differs: here ``reset`` returns
        ``(obs, info)`` and ``step`` five batches)::

            vec_env = agent.get_env()
            obs, info = vec_env.reset(seed=0)
            action, _ = agent.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, info = vec_env.step(action)

        A2C: ``num_envs`` envs made as training makes them (its ``vector_mode``); A3C:
        ``workers * envs_per_worker`` envs (all the envs its workers step), in one vector env.
        The envs are copies of their own, not those training steps: stepping them does not
        disturb training. Observations are as the env gives them (what ``predict`` takes);
        the step after an episode ends resets that env (gymnasium's ``NEXT_STEP`` autoreset:
        its action is ignored, its reward 0). Made at the first call and returned again
        after, until ``close`` (or the vector env's own ``close``); closed when the agent is
        garbage collected.

        Returns:
            A ``gymnasium.vector.VectorEnv`` (``num_envs`` envs).

        Raises:
            EnvError: the envs cannot be made.
        """
        envs = getattr(self, "_vector_env", None)
        if envs is not None and not envs.closed:
            return envs
        config = self.config
        if isinstance(config, A2CConfig):
            envs = make_vector_env(config.env, config.num_envs, config.vector_mode, encoded=False)
        else:
            count = config.workers * config.envs_per_worker
            envs = make_vector_env(config.env, count, encoded=False)
        self._vector_env = envs
        self._vector_env_closer = weakref.finalize(self, envs.close)
        return envs

    def close(self) -> None:
        """Closes the vector env ``get_env`` made, if any (a later ``get_env`` makes another);
        training's own envs are not touched. Safe to call more than once."""
        closer = getattr(self, "_vector_env_closer", None)
        if closer is not None:
            closer()  # a finalizer runs once: garbage collection closes nothing again
        self._vector_env = self._vector_env_closer = None

    # Files --------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Saves the model: ``*.weights.h5`` the weights (as training writes them: the file
        records the env and the architecture), ``*.keras`` a Keras model file (an export:
        ``keras.saving.load_model`` reads it anywhere); a name with no suffix
        (``"a2c_cartpole"``) gets ``.weights.h5``, as Stable-Baselines3's gets ``.zip``.
        Returns the path written (``a2c_cartpole.weights.h5``).

        Raises:
            UsageError: another suffix (``.zip``, ``.h5``, ``.pkl``, ``.pt``: a dot then a
                letter), or a path that cannot be written.
            CheckpointError: a weight is not finite.
        """
        path = model_file_path(path, ".weights.h5 is added", UsageError)
        check_output_file("path", path, MODEL_SUFFIXES)
        if not isinstance(self.model, ActorCriticModel):
            raise UsageError("an agent loaded from a .keras export cannot be saved again")
        if path.name.endswith(".weights.h5"):
            return save_weights(self.model, path, self.config.env)
        return export_model(plain_model(self.model), path, describe(self.model, self.config.env))

    @classmethod
    def load(
        cls,
        path: str | Path,
        env: str | Callable[[], gym.Env] | gym.Env | None = None,
        *,
        env_name: str | None = None,
        save_dir: str | Path | None = None,
        **settings: Any,
    ) -> ActorCriticAgent:
        """An agent whose model is the one saved at ``path``: a ``.weights.h5`` file (by
        ``save`` or the command line's training; its architecture is read from the file, and
        ``learn`` trains it on) or a ``.keras`` export (it acts, evaluates and plays only).

        Args:
            path: the model file; a name with no suffix (``"a2c_cartpole"``, as ``save`` took
                it) loads ``a2c_cartpole.weights.h5``, or ``a2c_cartpole.keras`` where only that
                exists (where both do, the weights, which train on).
            env: the env (id, factory or object); default: the env the file records, by id,
                where that needs nothing imported (``recorded_env``). Loading never imports
                or runs anything the file names: the env of a ``module:EnvId`` is named here.
            env_name, save_dir, **settings: as the constructor (presets apply as there; the
                model's settings come from the file).

        Raises:
            CheckpointError: another suffix (``.zip``, ``.h5``, ...), no such file, an
                unreadable one, one trained on another env (another id, another module's
                env of the id, another factory's or object's env: one line naming both), or,
                without ``env``, one whose env needs a module imported or a factory given.
        """
        given = Path(path)
        path = model_file_path(given, "its .weights.h5 is loaded, else its .keras", CheckpointError)
        if path.name != given.name and not path.is_file():  # no suffix: the export, else
            export = given.with_name(given.name + ".keras")
            if not export.is_file():
                raise CheckpointError(f"no saved model at {path} or {export}")
            path = export
        if not path.is_file():
            raise CheckpointError(f"no saved model at {path}")
        saved = keras_metadata(path) if path.name.endswith(".keras") else weights_metadata(path)
        if env is None:
            env = recorded_env(path, saved)
        model_settings = architecture_settings(saved)
        agent = cls(env, env_name=env_name, save_dir=save_dir, **{**model_settings, **settings})
        if path.name.endswith(".keras"):
            model = agent.model
            loaded = load_model_file(
                path,
                model.spec.observation.shape,
                model.distribution.params_size,
                agent.config.env,
                spec=model.spec,
                flag="env",
            )
            agent.model = LoadedPolicy(loaded, model.distribution)
        else:
            load_weights(agent.model, path, agent.config.env, flag="env")
        return agent


# The files a model is saved in: weights as training writes them, or a Keras export.
MODEL_SUFFIXES = (".weights.h5", ".keras")
# A suffix a name may end in (``.zip``, ``.h5``, ``.pt``): a dot, a letter, letters or digits.
# A last dot followed by a digit (``lr0.001``) does not start one.
FILE_SUFFIX = re.compile(r"\.[A-Za-z][A-Za-z0-9]*")


def model_file_path(path: str | Path, no_suffix: str, error: type[Exception]) -> Path:
    """The model file ``save`` or ``load`` takes for ``path``: a name ending in ``.weights.h5``
    or ``.keras`` as it is, a name with no suffix (``FILE_SUFFIX``) with ``.weights.h5`` added
    (``no_suffix`` says, for the message, what is done with such a name).

    Raises:
        ``error``: a name with another suffix (Stable-Baselines3's ``.zip``, ``.h5``,
            ``.pkl``, ``.pt``), or no name (``""``, ``.weights.h5``), in one line.
    """
    path = Path(path)
    name = path.name
    if name in MODEL_SUFFIXES:  # ".weights.h5": a suffix, no name
        raise error(f"path={path}: the file has no name before {name} (a2c_cartpole{name})")
    if name.endswith(MODEL_SUFFIXES):
        return path
    suffix = path.suffix
    if name and not (suffix and FILE_SUFFIX.fullmatch(suffix)):
        return path.with_name(name + ".weights.h5")
    raise error(
        f"path={path}: a model file's name ends in .weights.h5 (weights, as training writes "
        f"them) or .keras (an export), or has no suffix ({no_suffix})"
    )


def recorded_env(path: Path, saved: dict) -> str:
    """The env ``load`` takes from a model file given no env: the id it records, where this
    process can make it without importing anything the file names.

    Raises:
        CheckpointError: one line: the file records no env; it records a ``module:EnvId``
            (loading never imports a module a file names: pass ``env=``); or an env given as
            a factory or object that this process has not registered (pass it).
    """
    recorded = saved_env(saved)
    if recorded is None:
        raise CheckpointError(f"{path} does not record its env: pass env=")
    name = record_name(recorded)
    if recorded.get("module"):
        raise CheckpointError(
            f"{path} was trained on {name}, an env the module {recorded['module']!r} "
            f"registers, and loading a file imports nothing it names: pass env={name!r} to "
            "load it with that module's env"
        )
    made_by = recorded.get("made_by")
    if made_by and recorded["id"] not in FACTORY_RECORDS:
        raise CheckpointError(
            f"{path} was trained on {name}, an env {made_by} this process has not "
            f"registered: {use_hint(recorded, 'env')}"
        )
    return name


def check_episodes_and_seed(episodes, seed) -> None:
    """Raises ``ConfigError`` for episodes that are not an int >= 1 or a seed outside
    ``[0, MAX_SEED]``."""
    if isinstance(episodes, bool) or not isinstance(episodes, int | np.integer) or episodes < 1:
        raise ConfigError(f"episodes={episodes!r}: must be an integer >= 1")
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not 0 <= seed <= MAX_SEED
    ):
        raise ConfigError(f"seed={seed!r}: must be an integer in [0, {MAX_SEED}]")


def architecture_settings(saved: dict) -> dict:
    """The model settings (``MODEL_SETTINGS``) a model file records (``describe``'s record:
    ``weights_metadata`` or ``keras_metadata``), read through ``ModelSpec.from_record`` (a
    setting added after the file was written takes the value it had then); a file that
    records nothing, or nothing this program can read, gives nothing (loading it then says
    what is wrong)."""
    if not saved:
        return {}
    try:
        return ModelSpec.from_record(saved).settings()
    except (KeyError, TypeError, ValueError, IndexError):
        return {}


def with_saved_architecture(
    config: ActorCriticConfig, path: str | Path, given: Callable[[str], bool]
) -> ActorCriticConfig:
    """``config`` with the model settings the model file at ``path`` records (a ``.weights.h5``
    file, or a ``.keras`` export, whose policy's width depends on them with gSDE), except
    those ``given`` (a flag given that contradicts the file is then refused when it loads,
    naming it). Unchanged where the file is missing, unreadable, of another env or of another
    kind: loading it says what is wrong."""
    if str(path).endswith(".keras"):
        try:
            saved = keras_metadata(path) if Path(path).is_file() else {}
        except CheckpointError:
            return config
    elif str(path).endswith(".weights.h5"):
        try:
            saved = weights_metadata(path)
        except CheckpointError:
            return config
    else:
        return config
    if env_difference(saved, config.env) is not None:
        return config
    settings = architecture_settings(saved)
    return dataclasses.replace(
        config, **{name: value for name, value in settings.items() if not given(name)}
    )


def check_finite_observations(batch: np.ndarray) -> None:
    """``predict``'s observations, encoded (``(batch, ...)``), hold only finite numbers: a NaN
    would give NaN actions for a Box and the first action for a Discrete.

    Raises:
        ValueError: one line, counting the NaN and infinite values and where the first is.
    """
    if batch.dtype.kind != "f":
        return
    finite = np.isfinite(batch)
    if finite.all():
        return
    bad = np.argwhere(~finite)
    where = tuple(int(i) for i in bad[0])
    raise ValueError(
        f"observation has {len(bad)} NaN or infinite value(s) (the first at {where} of the "
        f"batch, encoded as float32, of shape {batch.shape}): predict takes finite observations"
    )


class A2C(ActorCriticAgent):
    """A2C: all envs of a vector env step together, one batched update a rollout
    (``agents/a2c.py``). Settings: ``config.hyperparameters.A2CConfig``'s fields."""

    config_class = A2CConfig
    name = "a2c"

    def make_algorithm(self, config, model):
        from agents.a2c import A2CAgent

        return A2CAgent(config, model=model)


class A3C(ActorCriticAgent):
    """A3C: worker threads (or, with ``backend="ray"``, processes) that each act and compute
    their gradient, applied to the global model (``agents/a3c.py``, ``agents/a3c_ray.py``).
    Settings: ``config.hyperparameters.A3CConfig``'s fields."""

    config_class = A3CConfig
    name = "a3c"

    def make_algorithm(self, config, model):
        if config.backend == "ray":
            from agents.a3c_ray import RayMasterAgent

            return RayMasterAgent(config, model=model)
        from agents.a3c import MasterAgent

        return MasterAgent(config, model=model)


@contextlib.contextmanager
def log_lines_shown(verbose: int):
    """Within, absl's INFO lines (progress, evaluations) are shown if ``verbose``, where absl's
    verbosity hides them (a notebook or another program: the command line passes ``verbose``
    from ``--verbosity``), with no other library's information; its verbosity is put back
    after."""
    before = logging.get_verbosity()
    if not (verbose and before < logging.INFO):
        yield
        return
    logging.set_verbosity(logging.INFO)
    own = OwnInformation()
    absl_logger = logging.get_absl_logger()
    absl_logger.addFilter(own)
    try:
        yield
    finally:
        absl_logger.removeFilter(own)
        logging.set_verbosity(before)


def log_preset(config: ActorCriticConfig, preset: Preset | None, given: Iterable[str]) -> None:
    """Logs the preset's settings a run takes (those not given), and where they were
    measured."""
    if preset is None:
        return
    given = set(given)
    applied = [name for name in preset.settings if name not in given]
    if not preset.settings:
        chosen = "the defaults"
    elif applied:
        chosen = " ".join(f"--{n}={format_value(getattr(config, n))}" for n in applied)
    else:
        chosen = "none: every one was given"
    logging.info(
        "settings for %s from config/presets.py: %s (flags given override them; %s)",
        config.env,
        chosen,
        "measured in " + ", ".join(f"docs/BENCHMARKS.md#{key}" for key in preset.evidence)
        if preset.evidence
        else "not benchmarked yet",
    )


def resumed_config(
    config: ActorCriticConfig, save_dir: str | Path, given: Callable[[str], bool]
) -> ActorCriticConfig:
    """The config a resumed run continues with: the settings saved with the checkpoint,
    except those given now, which apply (and are named in a log line).

    Raises:
        UsageError: the run is of another algorithm or another env (``check_same_run``), or a
            given setting that cannot change mid-run (``FIXED_ON_RESUME``) differs from the
            saved run's.
    """
    saved = saved_settings(save_dir, config.env)
    if saved is None:
        return config  # a checkpoint from before settings were saved: the flags as given
    check_same_run(config, saved, save_dir)
    # A model setting added after the run started had, for it, the value it had then.
    saved = {**ModelSpec.settings_before(), **saved}
    kept, changed = {}, []
    for field in dataclasses.fields(config):
        name, now = field.name, getattr(config, field.name)
        if name not in saved:
            continue
        before = tuple(saved[name]) if isinstance(now, tuple) else saved[name]
        if not given(name):
            kept[name] = before
        elif now != before:
            if name in FIXED_ON_RESUME:
                raise UsageError(
                    f"--{name}={format_value(now)}: the run in {save_dir} was started with "
                    f"--{name}={format_value(before)}, which cannot change on --resume (leave "
                    "the flag out, or start a new run in another --save_dir)"
                )
            changed.append(f"--{name}={format_value(now)} (was {format_value(before)})")
    logging.info(
        "resuming the run in %s with its settings%s",
        save_dir,
        "; changed: " + ", ".join(changed) if changed else "",
    )
    return dataclasses.replace(config, **kept)


def check_same_run(config: ActorCriticConfig, saved: dict, save_dir: str | Path) -> None:
    """A resumed run is the run its checkpoint holds: of the same algorithm and on the same env
    (``training.state.run_identity``; a checkpoint from before they were recorded tells its
    algorithm by its fields, and its env by its id alone).

    Raises:
        UsageError: one line naming both algorithms, or both envs.
    """
    algorithm = saved_algorithm(saved)
    if algorithm is not None and algorithm != config.algorithm:
        mine, theirs = config.algorithm, algorithm
        raise UsageError(
            f"--resume: the run in {save_dir} was trained by {theirs.upper()}, not "
            f"{mine.upper()}: resume it with {theirs}_cartpole.py (or "
            f"a3c_keras.{theirs.upper()}), or start a new {mine.upper()} run in another "
            "--save_dir"
        )
    recorded = saved.get("env_identity")
    if not isinstance(recorded, dict):
        return
    difference = record_difference(recorded, env_record(config.env))
    if difference is not None:
        theirs, mine = difference
        if recorded.get("made_by"):
            hint = "pass the factory or env object it was trained on (env=)"
        else:
            hint = f"pass --env={record_name(recorded)}"
        raise UsageError(
            f"--env={record_name(env_record(config.env))}: the run in {save_dir} was trained "
            f"on {theirs}, not {mine}, and --resume cannot change its env: {hint}, or start a "
            "new run in another --save_dir"
        )


def remove_earlier_run(save_dir: Path, env_id: str) -> None:
    """``overwrite``: removes what an earlier run on ``env_id`` left in ``save_dir`` (its
    model, checkpoints, episode log and plot; TensorBoard's run directories stay, each run has
    its own), with a log line naming them. The caller holds the save directory's lock."""
    files = run_files(save_dir, env_id)
    removed = []
    if files.checkpoints.is_dir():
        shutil.rmtree(files.checkpoints)
        removed.append(files.checkpoints.name)
    for path in (files.model, files.episodes, files.plot):
        if path.is_file():
            path.unlink()
            removed.append(path.name)
    if removed:
        logging.info(
            "--overwrite: removed the earlier run's %s from %s", ", ".join(removed), save_dir
        )
