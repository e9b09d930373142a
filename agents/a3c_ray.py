"""A3C with a process per worker on Ray: from one machine to a cluster.

The paper's asynchrony, with the global side on the driver (as RLlib's A3C did): each
``RemoteWorker`` is a Ray actor with its own envs and local model, and runs the same three steps
as a worker thread of ``agents/a3c.py`` (``RemoteWorker.rollout_gradients``): it takes the
newest global weights as its own (theta' = theta), acts for t_max steps (a
``(t_max, envs_per_worker)`` rollout), and returns the clipped gradient of the same
``compute_loss`` on its local weights (``local_gradient``). The driver (``RayMasterAgent``, on
the trainer's thread) takes whichever gradient arrives first (``ray.wait``), applies it to the
global model with the one optimizer (``apply_flat_update``, as the threads do), and sends that
worker the new weights with its next task.
Weights and gradients travel as one float32 vector each (``flatten``), which halves the cost of
sending them and of setting them (measured in docs/BENCHMARKS.md).
There is no barrier between workers: a worker's gradient may be a few updates stale, as with
the paper's threads.

The global side is one thread, so it saturates: at ``u`` seconds of driver work per update
(receive, apply, send), it applies at most ``1 / u`` updates a second, and workers beyond
``u_worker / u`` (a worker's seconds per rollout and gradient) only wait. docs/BENCHMARKS.md has
the measured costs.

Faults: a worker process that dies (killed, out of memory, its node gone) is replaced by a new
actor and training goes on; its unfinished rollout is lost, its finished episodes were recorded
by the driver, so the episode budget is still met exactly. An exception inside a worker (a
failing env) stops the run with ``WorkerError``, as on the thread backend.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from agents.a3c import build_worker
from agents.reward_scaling import RewardScaler
from agents.updates import (
    CompiledFunction,
    NonFiniteCounter,
    UpdateInfo,
    apply_flat_update,
    assign_flat,
    flatten,
    make_optimizer,
    moments_size,
    parameter_count,
)
from config.hyperparameters import A3CConfig
from models import ActorCriticModel, build_model
from utils.envs import env_dims, make_env
from utils.errors import BackendError, WorkerError

ROOT = Path(__file__).resolve().parent.parent  # shipped to the workers as their working dir
# Seconds a new worker may take to start (a fresh process imports TensorFlow: 10-20 s), and the
# longest the driver waits for any gradient before it gives up (no worker can run: no free CPU).
WORKER_START_TIMEOUT = 300


def require_ray():
    """The ``ray`` module; ``BackendError`` with how to install it if it is missing."""
    try:
        import ray
    except ImportError:
        raise BackendError(
            "--backend=ray needs Ray: pip install -r requirements-ray.txt "
            "(or pip install 'ray>=2.9')"
        ) from None
    return ray


class RemoteWorker:
    """A worker process: its envs and local model; returns gradients of its rollouts.

    Args:
        config: the run's hyperparameters.
        worker_id: 0-based id, naming the worker in the episode log.
        seed: its env ``j`` is reset with seed ``seed + j``; its action sampler uses ``seed``.
    """

    def __init__(self, config: A3CConfig, worker_id: int, seed: int):
        # One TensorFlow thread of each kind: N workers on N cores do not oversubscribe. This
        # must come before the first TensorFlow op of the process (in a test that builds a
        # worker in its own process, TensorFlow has started already and keeps its pools).
        with contextlib.suppress(RuntimeError):
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        keras.utils.set_random_seed(seed)
        self.config = config
        self.worker_id = worker_id
        rng = tf.random.Generator.from_seed(seed)
        # Its own reward statistics (normalize_rewards), from its envs' returns; not
        # checkpointed: a resumed run's workers start them anew.
        scaler = (
            RewardScaler(config.envs_per_worker, config.gamma) if config.normalize_rewards else None
        )
        built = build_worker(config, rng, scaler)
        self.envs, self.model, self.collector, self.compute_gradient = built
        variables = self.model.synced_variables
        vector = tf.TensorSpec([parameter_count(variables)], tf.float32)

        def set_weights(weights):
            """theta' <- theta (graph code); returns what the acting pass reads of them."""
            assign_flat(variables, weights)
            return self.collector.weights_for_acting()

        self._set_weights = CompiledFunction(set_weights, (vector,), config.jit_compile)
        self.collector.reset(seed)
        # Compile now (XLA compiles at the first call), not in the first rollout's time.
        self.compute_gradient(self.collector.collect()[0])
        self.collector.reset(seed)

    def where(self) -> tuple[int, str]:
        """``(process id, Ray node id)`` of this worker."""
        import ray

        return os.getpid(), ray.get_runtime_context().get_node_id()

    def rollout_gradients(self, weights: np.ndarray):
        """One turn of the actor-learner's loop, up to the gradient: theta' <- ``weights``, act
        for t_max steps, d theta' (``agents.a3c.local_gradient``).

        Args:
            weights: the global model's ``synced_variables`` (weights, then observation
                statistics) as one float32 vector (``flatten``).

        Returns:
            ``(gradient, moments, stats, finished episodes, env steps)``: the gradient as one
            float32 vector ``(P,)`` (clipped to ``max_grad_norm``), the rollout states'
            ``observation_moments``, the loss's scalars and the norm before clipping
            (``loss_stats``), the ``FinishedEpisode``s, and the env steps of the rollout.
        """
        self.collector.use_weights(self._set_weights(weights))
        rollout, finished = self.collector.collect()
        gradient, moments, stats = self.compute_gradient(rollout)
        steps = self.config.update_freq * self.config.envs_per_worker
        return gradient.numpy(), moments.numpy(), stats.numpy(), finished, steps

    def close(self) -> None:
        self.envs.close()


class RayMasterAgent:
    """The global model and optimizer on the driver; a ``RemoteWorker`` process per worker.

    An algorithm for ``training.trainer.Trainer``, like ``MasterAgent``.

    Args:
        config: the run's hyperparameters (``backend="ray"``).

    Connects to Ray (starting a local one without ``ray_address``) at once, so a bad address
    fails before any file is written; ``close`` disconnects.

    Raises:
        BackendError: if Ray is not installed, or no Ray cluster answers at ``ray_address``.
        utils.errors.EnvError: if the env is unknown or unsupported.
    """

    name = "A3C"

    def __init__(self, config: A3CConfig):
        self.ray = require_ray()
        self.config = config
        where = config.ray_address or "a local Ray"
        self.description = (
            f"{config.workers} Ray worker processes x {config.envs_per_worker} envs on {where}"
        )
        keras.utils.set_random_seed(config.seed)
        probe = make_env(config.env)
        dims = env_dims(probe.observation_space, probe.action_space)
        probe.close()
        self.global_model = build_model(dims, **config.model_options())
        steps_per_update = config.update_freq * config.envs_per_worker
        self.optimizer = make_optimizer(config, self.global_model, steps_per_update)
        gradient = tf.TensorSpec([parameter_count(self.global_model.trainable_variables)])
        moments = tf.TensorSpec([moments_size(self.global_model)])
        self.apply = CompiledFunction(self._apply, (gradient, moments), config.jit_compile)
        self.nonfinite = NonFiniteCounter(config.max_nonfinite_updates)
        self.last_update: UpdateInfo | None = None
        self.updates = 0
        self.replaced = 0  # workers that died and were replaced
        self.episode_log = None  # a training.episode_log.EpisodeLog, given by start
        self.actors: dict[int, object] = {}
        self.tasks: dict[object, int] = {}  # a pending rollout_gradients call -> worker id
        self._connect()

    @property
    def model(self) -> ActorCriticModel:
        """The global model: the one evaluated, saved and checkpointed."""
        return self.global_model

    def checkpointables(self) -> dict:
        """Nothing besides model and optimizer: the workers' samplers live in their processes
        (a resumed run seeds new workers from the env steps so far)."""
        return {}

    def _apply(self, gradient, moments):
        """Graph code: one worker's ``local_gradient`` results applied to the global model
        (``apply_flat_update``: the states' moments merged into the observation statistics
        too); returns the new ``synced_variables`` as one vector, in the same call (cheaper
        than ``get_weights``)."""
        model = self.global_model
        apply_flat_update(model, self.optimizer, gradient, moments)
        return flatten(model.synced_variables)

    def start(self, episode_log) -> None:
        """Starts the workers, waits until each has built its envs and model, and gives each
        its first task."""
        self.episode_log = episode_log
        # SPREAD: workers go to different nodes where they can, so losing a node loses few.
        self.remote_class = self.ray.remote(
            num_cpus=1, max_restarts=0, scheduling_strategy="SPREAD"
        )(RemoteWorker)
        for worker_id in range(self.config.workers):
            self.actors[worker_id] = self._new_actor(worker_id)
        ready = [actor.where.remote() for actor in self.actors.values()]
        try:
            self.ray.get(ready, timeout=WORKER_START_TIMEOUT)
        except self.ray.exceptions.GetTimeoutError:
            raise WorkerError(
                f"the workers did not start within {WORKER_START_TIMEOUT} s: does the Ray "
                f"cluster have {self.config.workers} free CPUs?"
            ) from None
        self.weights = flatten(self.global_model.synced_variables).numpy()
        self.last_result = time.perf_counter()
        for worker_id in self.actors:
            self._submit(worker_id)

    def _connect(self) -> None:
        ray, address = self.ray, self.config.ray_address
        if address and address != "auto":
            host, _, port = address.rpartition(":")
            try:
                socket.create_connection((host, int(port)), timeout=5).close()
            except (OSError, ValueError) as error:
                raise BackendError(
                    f"--ray_address={address}: no Ray cluster answers there ({error}); start "
                    "one with `ray start --head`, or leave the flag out for a local Ray"
                ) from None
        runtime_env = {
            "working_dir": str(ROOT),
            "excludes": ["/runs/", "/.git/", "/docs/", "*.h5", "*.keras", "*.png", "*.gif"],
            "env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2"},
        }
        options = {
            "runtime_env": runtime_env,
            "log_to_driver": False,  # workers' TensorFlow notices stay in Ray's log files
            "include_dashboard": False,
            "configure_logging": False,
        }
        try:
            if address:
                ray.init(address=address, **options)
            else:  # "local": a new Ray of its own, never a cluster another program started
                cpus = max(self.config.workers, os.cpu_count() or 1)
                ray.init(address="local", num_cpus=cpus, **options)
        except ConnectionError as error:
            raise BackendError(f"--ray_address={address}: {error}") from None
        cpus = ray.cluster_resources().get("CPU", 0)
        if cpus < self.config.workers:
            logging.warning(
                "the Ray cluster has %g CPUs for %d workers of 1 CPU each: some will wait",
                cpus,
                self.config.workers,
            )

    def _new_actor(self, worker_id: int):
        config, log = self.config, self.episode_log
        seed = config.seed + log.env_steps + worker_id * config.envs_per_worker
        return self.remote_class.remote(config, worker_id, seed)

    def _submit(self, worker_id: int) -> None:
        """Asks the worker for its next gradient, sending it the newest global weights (a few
        tens of kB: inlined in the call, no object-store round trip)."""
        self.tasks[self.actors[worker_id].rollout_gradients.remote(self.weights)] = worker_id

    def advance(self) -> None:
        """Applies the gradients that arrive within 0.2 s, each as it comes, and sends the
        worker that sent it the new weights with its next task.

        Raises:
            WorkerError: an exception in a worker (not the death of its process, which is
                replaced).
            TrainingError: more than ``max_nonfinite_updates`` non-finite updates.
        """
        ray, log = self.ray, self.episode_log
        ready, _ = ray.wait(list(self.tasks), num_returns=1, timeout=0.2)
        if not ready and time.perf_counter() - self.last_result > WORKER_START_TIMEOUT:
            raise WorkerError(
                f"no worker returned a gradient for {WORKER_START_TIMEOUT} s: the replacements "
                "of dead workers cannot start (no free CPU in the Ray cluster?)"
            )
        for ref in ready:
            self.last_result = time.perf_counter()
            worker_id = self.tasks.pop(ref)
            try:
                gradient, moments, stats, finished, steps = ray.get(ref)
            except ray.exceptions.RayActorError as error:
                self._replace(worker_id, error)
                continue
            except ray.exceptions.RayTaskError as error:
                cause = error.cause if error.cause is not None else error
                raise WorkerError(
                    f"worker {worker_id} failed: {type(cause).__name__}: {cause}"
                ) from None
            update = UpdateInfo.of(stats)  # applied only if finite
            if update.applied:
                self.weights = self.apply(gradient, moments).numpy()
            self.nonfinite.add(update)
            self.last_update = update
            self.updates += 1
            log.add_steps(steps)
            for episode in finished:
                if log.record(worker_id, episode.episode_return, episode.length) is None:
                    break
            if not log.done.is_set():
                self._submit(worker_id)

    def _replace(self, worker_id: int, error: Exception) -> None:
        """A new actor for a worker whose process died; it starts from the newest weights."""
        logging.warning(
            "worker %d's process died (%s); starting a new one",
            worker_id,
            type(error).__name__,
        )
        self.replaced += 1
        with contextlib.suppress(Exception):
            self.ray.kill(self.actors[worker_id], no_restart=True)
        self.actors[worker_id] = self._new_actor(worker_id)
        self._submit(worker_id)

    def paused(self) -> contextlib.AbstractContextManager:
        """Nothing to pause: updates are applied only inside ``advance``, on this thread."""
        return contextlib.nullcontext()

    def close(self) -> None:
        """Stops the workers and disconnects from Ray (a local Ray stops with it)."""
        if not self.ray.is_initialized():
            return
        for actor in self.actors.values():
            with contextlib.suppress(Exception):
                self.ray.kill(actor, no_restart=True)
        self.actors.clear()
        self.tasks.clear()
        self.ray.shutdown()
