"""A3C: asynchronous advantage actor-critic (Mnih et al. 2016, arXiv:1602.01783, Algorithm S3).

``MasterAgent`` owns the global model (theta) and the one optimizer; each ``Worker`` thread is an
actor-learner with its own ``envs_per_worker`` envs and a local copy of the model (theta').
``Worker.run_loop`` is the paper's loop, step by step:

1. act for t_max (``update_freq``) steps with theta' (a ``(t_max, envs_per_worker)`` rollout;
   an episode that ends inside it bootstraps from 0 there, as the paper's "until terminal"
   rollouts do, and the env's next episode goes on in the same rollout);
2. compute the returns, the advantages and ``compute_loss``, and the gradient d theta' on the
   local copy, without any lock, so the workers compute at the same time;
3. apply d theta' to the global theta with the shared optimizer, and synchronise theta' = theta:
   the only step that holds the lock.

Where this differs from the paper: its updates were Hogwild (no lock at all, RMSProp statistics
shared by the threads); here one lock serialises the global update, because a Keras optimizer
is not safe to apply from two threads at once. The copy theta' = theta belongs to the top of the
paper's loop; it is done right after the apply, in the same locked call, which is the same
moment without taking the lock a second time.

In CPython the threads share one interpreter lock: acting and the envs' Python code run one
thread at a time, and only TensorFlow's part of step 2 and 3 runs beside them. The Ray backend
(``agents/a3c_ray.py``: a process per worker) is the one that computes fully in parallel;
docs/BENCHMARKS.md measures both.

``MasterAgent`` is an algorithm for ``training.trainer.Trainer``, which runs it.
"""

from __future__ import annotations

import collections
import threading

import keras
import tensorflow as tf

from agents.memory import Rollout, rollout_spec
from agents.optimizers import make_optimizer
from agents.reward_scaling import RewardScaler
from agents.rollouts import RolloutCollector
from agents.updates import (
    HISTORY,
    CompiledFunction,
    NonFiniteCounter,
    RolloutFunction,
    UpdateInfo,
    apply_flat_update,
    compute_gradients,
    flatten,
    loss_stats,
    moments_size,
    observation_moments,
    parameter_count,
)
from config.hyperparameters import A3CConfig
from models import ActorCriticModel, build_model
from utils.envs import env_dims_of, make_env, make_vector_env
from utils.errors import TrainingError, WorkerError


def build_worker(config: A3CConfig, rng: tf.random.Generator, reward_scaler=None):
    """What every A3C worker acts with, on either backend: a vector env of ``envs_per_worker``
    envs, a local model built for it, a ``RolloutCollector`` sampling with ``rng``, and the
    compiled gradient of its rollouts (``local_gradient``, scaling rewards with
    ``reward_scaler`` if given).

    Returns:
        ``(envs, local_model, collector, compute_gradient)``; the caller closes ``envs``.
    """
    envs = make_vector_env(config.env, config.envs_per_worker)
    try:
        dims = env_dims_of(envs)
        model = build_model(dims, **config.model_options())
        collector = RolloutCollector(
            envs, model, rng, config.update_freq, config.jit_compile, config.sde_sample_freq
        )
        spec = rollout_spec(
            config.update_freq, config.envs_per_worker, envs.single_observation_space, model
        )
        compute_gradient = RolloutFunction(
            lambda rollout: local_gradient(model, rollout, config, reward_scaler),
            spec,
            config.jit_compile,
        )
    except BaseException:
        envs.close()
        raise
    return envs, model, collector, compute_gradient


def new_model(config: A3CConfig) -> ActorCriticModel:
    """A new global model for ``config``'s env and settings (the caller seeds it), on either
    backend."""
    probe = make_env(config.env)
    dims = env_dims_of(probe)
    probe.close()
    return build_model(dims, **config.model_options())


def local_gradient(model, rollout: Rollout, config: A3CConfig, reward_scaler=None):
    """A worker's d theta' (graph code): the gradient of ``compute_loss`` on ``rollout`` with
    respect to the local ``model``'s weights, clipped (``compute_gradients``), as the global
    side takes it.

    Returns:
        ``(gradient, moments, stats)``: the gradient as one float32 vector ``(P,)``
        (``flatten``), the observation moments of the rollout's states for the global
        statistics (``observation_moments``), the loss's scalars and the norm before clipping
        (``loss_stats``).
    """
    gradients, loss, norm = compute_gradients(model, rollout, config, reward_scaler)
    moments = observation_moments(model, rollout.states[:-1])
    return flatten(gradients), moments, loss_stats(loss, norm)


class MasterAgent:
    """The global model, the shared optimizer and the update lock; starts the ``Worker`` threads.

    Args:
        config: the run's hyperparameters.
        model: the global ``ActorCriticModel``, built for the env (``a3c_keras``'s agents
            build it first, to act before training); None: a new one, seeded ``config.seed``.

    Raises:
        utils.errors.EnvError: if the env is unknown or unsupported.
    """

    name = "A3C"

    def __init__(self, config: A3CConfig, model: keras.Model | None = None):
        self.config = config
        self.description = f"{config.workers} worker threads x {config.envs_per_worker} envs"
        keras.utils.set_random_seed(config.seed)
        self.global_model = model if model is not None else new_model(config)
        # Built now, before any worker starts: two threads creating its slots at once crash.
        steps_per_update = config.update_freq * config.envs_per_worker
        self.optimizer = make_optimizer(config, self.global_model, steps_per_update)
        self.rngs = [tf.random.Generator.from_seed(config.seed + i) for i in range(config.workers)]
        # Each worker scales its rewards by the returns of its own envs (normalize_rewards).
        self.reward_scalers = (
            [RewardScaler(config.envs_per_worker, config.gamma) for _ in range(config.workers)]
            if config.normalize_rewards
            else []
        )
        self.update_lock = threading.Lock()
        self.stop = threading.Event()
        self.nonfinite = NonFiniteCounter(config.max_nonfinite_updates)
        self.last_update: UpdateInfo | None = None
        self.updates = 0  # by all workers, counted under the update lock
        self.update_history: collections.deque[UpdateInfo] = collections.deque(maxlen=HISTORY)
        self.episode_log = None  # a training.episode_log.EpisodeLog, given by start
        self.workers: list[Worker] = []

    @property
    def model(self) -> ActorCriticModel:
        """The global model: the one evaluated, saved and checkpointed."""
        return self.global_model

    def checkpointables(self) -> dict:
        """What a checkpoint saves besides the model and optimizer: each worker's generator,
        and with ``normalize_rewards`` each worker's reward scaler. (A worker updates its
        scaler inside its gradient computation, which holds no lock: a checkpoint may save it
        as of that worker's current rollout rather than its last update.)"""
        extra = {"reward_scalers": self.reward_scalers} if self.reward_scalers else {}
        return {"rngs": self.rngs, **extra}

    def start(self, episode_log) -> None:
        """Builds the workers (their envs, compiled acting and updates) and starts their
        threads; they record episodes in ``episode_log`` (a
        ``training.episode_log.EpisodeLog``) and stop when it is ``done`` or at ``close``."""
        self.episode_log = episode_log
        self.stop.clear()  # training goes on after a close
        # Fixed before any worker steps, so each worker's first seed does not depend on timing.
        self.first_reset_seed = self.config.seed + episode_log.env_steps
        self.workers = [Worker(i, self) for i in range(self.config.workers)]
        for worker in self.workers:
            worker.start()

    def record_update(self, update: UpdateInfo) -> None:
        """Counts an applied or skipped update; the caller holds the update lock.

        Raises:
            TrainingError: after more than ``max_nonfinite_updates`` non-finite updates.
        """
        self.nonfinite.add(update)
        self.last_update = update
        self.updates += 1
        self.update_history.append(update)

    def advance(self) -> None:
        """Lets the workers train for up to 0.2 s (less once the log is ``done``).

        Raises:
            WorkerError: as soon as a worker has failed.
        """
        self.episode_log.done.wait(timeout=0.2)
        self._raise_if_a_worker_failed()

    def paused(self) -> threading.Lock:
        """The update lock: while it is held no worker changes the global model."""
        return self.update_lock

    def close(self) -> None:
        """Stops the workers and waits for them.

        Raises:
            WorkerError: if a worker failed (the first one, by id).
        """
        self.stop.set()
        for worker in self.workers:
            worker.join()
        self._raise_if_a_worker_failed()

    def _raise_if_a_worker_failed(self) -> None:
        for worker in self.workers:
            if worker.error is not None:
                self.stop.set()
                if isinstance(worker.error, TrainingError):  # an env's fault, say: its kind kept
                    raise type(worker.error)(f"worker {worker.worker_id}: {worker.error}")
                raise WorkerError(
                    f"worker {worker.worker_id} failed: {type(worker.error).__name__}: "
                    f"{worker.error}"
                ) from worker.error


class Worker(threading.Thread):
    """One actor-learner thread: its own envs and local model, updating the global model.

    Args:
        worker_id: 0-based id; the worker's env ``j`` is first reset with seed
            ``config.seed + worker_id * envs_per_worker + j`` (plus the env steps before a
            resume).
        master: the ``MasterAgent`` whose global model, optimizer and lock the worker shares.

    Attributes:
        error: the exception that ended the thread, or None.
    """

    def __init__(self, worker_id: int, master: MasterAgent):
        super().__init__(name=f"a3c-worker-{worker_id}", daemon=True)
        self.worker_id = worker_id
        self.master = master
        self.error: BaseException | None = None
        config = master.config
        scaler = master.reward_scalers[worker_id] if master.reward_scalers else None
        built = build_worker(config, master.rngs[worker_id], scaler)
        self.envs, self.local_model, self.collector, self.compute_gradient = built
        self.local_model.set_weights(master.global_model.get_weights())
        model = self.local_model
        gradient = tf.TensorSpec([parameter_count(model.trainable_variables)])
        moments = tf.TensorSpec([moments_size(model)])
        self._apply = CompiledFunction(
            self._apply_and_synchronise, (gradient, moments), config.jit_compile
        )
        self._synchronise = CompiledFunction(self._copy_global_weights, (), config.jit_compile)

    def run(self) -> None:
        try:
            self.run_loop()
        except BaseException as error:  # raised on the trainer's thread by MasterAgent
            self.error = error
            self.master.stop.set()
        finally:
            self.envs.close()

    def run_loop(self) -> None:
        """The actor-learner's loop (Algorithm S3), until the run's budget is used or the
        master stops it."""
        master, config = self.master, self.master.config
        log = master.episode_log
        self.collector.reset(seed=master.first_reset_seed + self.worker_id * config.envs_per_worker)
        while not (master.stop.is_set() or log.done.is_set()):
            # 1. Act for t_max steps with the local copy theta'.
            rollout, finished = self.collector.collect()
            # 2. Returns, advantages, the loss and its gradient d theta' on theta': no lock.
            gradient, moments, stats = self.compute_gradient(rollout)
            if master.stop.is_set():
                return
            # 3. theta <- theta updated with d theta' by the shared optimizer; theta' <- theta.
            with master.update_lock:
                master.record_update(self.apply_gradient(gradient, moments, stats))
            log.add_steps(config.update_freq * config.envs_per_worker)
            for episode in finished:
                if log.record(self.worker_id, episode.episode_return, episode.length) is None:
                    return

    def apply_gradient(self, gradient, moments, stats) -> UpdateInfo:
        """Step 3 (the caller holds the update lock): ``local_gradient``'s results applied to
        the global model and the global weights copied into the local one, which the next
        rollout acts with. An update whose loss or gradient is not finite changes nothing of
        the global model (weights, optimizer or statistics); the copy back still happens."""
        update = UpdateInfo.of(stats)
        if update.applied:
            self.collector.use_weights(self._apply(gradient, moments))
        else:
            self.collector.use_weights(self._synchronise())
        return update

    def _apply_and_synchronise(self, gradient, moments):
        """Graph code of step 3: ``apply_flat_update`` on the global model, then theta' <- theta
        (weights and observation statistics).

        Returns:
            The local weights the acting pass reads, as copied (``weights_for_acting``).
        """
        master = self.master
        apply_flat_update(master.global_model, master.optimizer, gradient, moments)
        return self._copy_global_weights()

    def _copy_global_weights(self):
        """Graph code: theta' <- theta (weights and observation statistics); returns the local
        weights the acting pass reads, as copied (``weights_for_acting``)."""
        for local, shared in zip(
            self.local_model.synced_variables,
            self.master.global_model.synced_variables,
            strict=True,
        ):
            local.assign(shared)
        return self.collector.weights_for_acting()
