"""A3C with a process per worker on Ray: from one machine to a cluster.

The paper's asynchrony, with the global side on the driver (as RLlib's A3C did): each
``RemoteWorker`` is a Ray actor with its own envs and local model, and runs the same three steps
as a worker thread of ``agents/a3c.py`` (``RemoteWorker.rollout_gradients``): it takes the
newest global weights as its own (theta' = theta), acts for t_max steps (a
``(t_max, envs_per_worker)`` rollout), and returns the clipped gradient of the same
``compute_loss`` on its local weights (``worker_gradients``). The driver (``RayMasterAgent``, on
the trainer's thread) takes whichever gradient arrives first (``ray.wait``), applies it to the
global model with the one optimizer (``apply_to_global``, as the threads do), and sends that
worker the new weights with its next task.
Weights and gradients travel as lists of NumPy arrays, one per variable.
There is no barrier between workers: a worker's gradient may be a few updates stale, as with
the paper's threads.

The global side is one thread, so it saturates: at ``u`` seconds of driver work per update
(receive, apply, send), it applies at most ``1 / u`` updates a second, and workers beyond
``u_worker / u`` (a worker's seconds per rollout and gradient) only wait. docs/BENCHMARKS.md has
the measured costs.

Faults: a worker process that dies (killed, out of memory, its node gone) is replaced by a new
actor and training goes on; its unfinished rollout is lost, its finished episodes were recorded
by the driver, so the episode budget is still met exactly. A worker whose process dies
``MAX_DEATHS_WITHOUT_PROGRESS`` times in a row, each time before it returned a gradient (an env
that ends its process at once, a worker that cannot fit in memory), stops the run with
``WorkerDied``, naming the env, instead of being replaced for ever. An exception inside a worker (a
failing env) stops the run with ``WorkerError``, as on the thread backend. Losing Ray itself
(the local Ray's raylet or GCS server, the GCS of a cluster, or the driver's own node) stops it
with ``BackendLost`` within seconds (``backend_lost``): no replacement could start.

A local Ray started by the run goes with it: ``close`` shuts it down, and a watchdog process
(``utils.process_watchdog``) kills what is left of it when the driver dies without closing
(SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from agents.a3c import apply_to_global, gradient_function, new_model, update_specs, worker_parts
from agents.compiled import compiled
from agents.on_policy import UpdateLog
from agents.optimizers import make_optimizer
from agents.reward_scaling import RewardScaler
from config.hyperparameters import A3CConfig
from models import ActorCriticModel
from utils.envs import env_registration, register_registration
from utils.errors import (
    BackendError,
    BackendLost,
    EnvError,
    TrainingError,
    WorkerDied,
    WorkerError,
    first_line,
)
from utils.interrupts import signals_deferred
from utils.process_watchdog import start_watchdog, stop_watchdog

ROOT = Path(__file__).resolve().parent.parent  # shipped to the workers as their working dir
# Seconds a new worker may take to start (a fresh process imports TensorFlow: 10-20 s), and the
# longest the driver waits for any gradient before it gives up (no worker can run: no free CPU).
WORKER_START_TIMEOUT = 300
# Deaths of a worker's process in a row, each before it returned a gradient, that stop the run
# (``WorkerDied``): the process is replaced after the first ones, not after this one.
MAX_DEATHS_WITHOUT_PROGRESS = 3
# Seconds a Ray cluster's GCS may take to answer the probe of ``--ray_address`` (and the check
# of a cluster's health after a worker died): a GCS answers in milliseconds.
GCS_PROBE_TIMEOUT = 3.0
# Seconds between the driver's checks that the local Ray's processes are alive.
HEALTH_CHECK_INTERVAL = 1.0
# The local Ray's processes whose death ends the run (``Node.all_processes`` keys).
VITAL_PROCESSES = {"raylet": "raylet", "gcs_server": "GCS server"}


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


def gcs_answers(address: str, timeout: float = GCS_PROBE_TIMEOUT) -> str | None:
    """Asks the GCS (a Ray cluster's head) at ``address`` (host:port) for its cluster id, as
    ``ray.init`` does first, but within ``timeout`` seconds: ``ray.init`` waits minutes, and
    SIGTERM with it, on a port that answers TCP but is no Ray.

    Returns:
        None if a Ray GCS answers (or this Ray lacks the private modules the probe uses: then
        ``ray.init`` decides), else why not, in a few words.
    """
    try:
        import grpc
        from ray._private.gcs_utils import create_gcs_channel
        from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

        channel = create_gcs_channel(address)  # with Ray's TLS and token settings
        stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
    except Exception:  # another Ray's private API: no probe
        return None
    try:
        stub.GetClusterId(gcs_service_pb2.GetClusterIdRequest(), timeout=timeout)
    except grpc.RpcError as error:
        code = error.code()
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return None  # a Ray GCS that wants a token: ray.init says what is missing
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return f"no answer from a Ray GCS within {timeout:g} s"
        return f"{code.name}: {first_line(Exception(error.details() or ''))}"
    finally:
        channel.close()
    return None


def local_node():
    """The local Ray node this driver started (``ray._private.worker._global_node``, whose
    ``all_processes`` are the processes it started), or None: a cluster's node, another Ray's
    private API."""
    import ray

    worker = getattr(getattr(ray, "_private", None), "worker", None)
    return getattr(worker, "_global_node", None)


def dead_vital_process(node) -> str | None:
    """The vital process of the local Ray ``node`` (``VITAL_PROCESSES``) that died, as "the
    local Ray's raylet (pid N) died (killed by SIGKILL)", or None if all live (or ``node`` does
    not tell)."""
    processes = getattr(node, "all_processes", None) or {}
    for kind, name in VITAL_PROCESSES.items():
        for info in processes.get(kind, []):
            status = info.process.poll()
            if status is None:
                continue
            how = (
                f"killed by {signal.Signals(-status).name}"
                if status < 0 and -status in signal.valid_signals()
                else f"exit status {status}"
            )
            return f"the local Ray's {name} (pid {info.process.pid}) died ({how})"
    return None


def creation_error(error: BaseException) -> str:
    """What made a worker's creation fail, in one line: the exception its ``__init__`` raised
    (the last line of the traceback Ray carries, ``EnvError: ...``), else Ray's first line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    raised = [
        line for line in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Fault)\b", line)
    ]
    return raised[-1] if raised else f"{type(error).__name__}: {first_line(error)}"


def death_cause(error: BaseException) -> str:
    """How a worker's process died, in a few words, from Ray's ``RayActorError``: the
    exception its ``__init__`` raised, or what Ray says of the process's end (its exit detail:
    "Worker unexpectedly exits with a connection error code 2", say)."""
    text = str(error)
    if "error raised in its creation task" in text:
        return creation_error(error)
    detail = re.search(r"Worker exit detail: ([^\n]*)", text)
    if detail and detail.group(1).strip():  # its first sentence: the rest guesses at causes
        return re.split(r"(?<=[.!?])\s", detail.group(1).strip(), maxsplit=1)[0].rstrip(".")
    return f"{type(error).__name__}: {first_line(error)}".rstrip(".")


def env_named(env_id: str) -> str:
    """``env_id`` as the user named it: ``module:EnvId`` for an env of a module."""
    registration = env_registration(env_id)
    return f"{registration}:{env_id}" if isinstance(registration, str) else env_id


def check_sendable(env_id: str) -> None:
    """Checks that the worker processes can be told how to make ``env_id``: an env factory
    given in Python goes to them pickled (cloudpickle: a function or class defined in a
    script or notebook goes by value, one from a module by its import path).

    Raises:
        EnvError: the factory cannot be pickled (a lambda over an open file, say).
    """
    registration = env_registration(env_id)
    if registration is None or isinstance(registration, str):
        return
    try:
        require_ray().cloudpickle.dumps(registration)
    except Exception as error:  # noqa: BLE001 - pickling fails in many ways
        raise EnvError(
            f"the env factory of {env_id} cannot be sent to Ray's worker processes "
            f"({type(error).__name__}: {first_line(error)}); define it at the top level of a "
            "module the workers can import"
        ) from None


class RemoteWorker:
    """A worker process: its envs and local model; returns gradients of its rollouts.

    Args:
        config: the run's hyperparameters.
        worker_id: 0-based id, naming the worker in the episode log.
        seed: its env ``j`` is reset with seed ``seed + j``; its action sampler uses ``seed``.
        registration: how this process makes ``config.env`` (``utils.envs.env_registration``).
    """

    def __init__(self, config: A3CConfig, worker_id: int, seed: int, registration=None):
        # A user's env (--env=module:EnvId, or a factory given in Python): registered here too.
        register_registration(config.env, registration)
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
        self.envs, self.model, self.collector = worker_parts(config, rng)
        self.compute_gradients = gradient_function(config, self.model, self.collector, scaler)
        variables = self.model.synced_variables
        specs = [tf.TensorSpec(variable.shape) for variable in variables]

        def set_weights(weights):
            """theta' <- theta (graph code); returns what the acting pass reads of them."""
            for variable, value in zip(variables, weights, strict=True):
                variable.assign(value)
            return self.collector.acting_variables()

        self.set_weights = compiled(set_weights, specs, jit_compile=config.jit_compile)
        self.collector.reset(seed)
        # Compile now (XLA compiles at the first call), not in the first rollout's time.
        self.compute_gradients(self.collector.collect()[0])
        self.collector.reset(seed)

    def where(self) -> tuple[int, str]:
        """``(process id, Ray node id)`` of this worker."""
        import ray

        return os.getpid(), ray.get_runtime_context().get_node_id()

    def rollout_gradients(self, weights: list[np.ndarray]):
        """One turn of the actor-learner's loop, up to the gradient: theta' <- ``weights``, act
        for t_max steps, d theta' (``agents.a3c.worker_gradients``).

        Args:
            weights: the global model's ``synced_variables`` (weights, then observation
                statistics), one NumPy array each.

        Returns:
            ``(gradients, moments, metrics, finished episodes, env steps)``: a gradient per
            trainable variable (clipped to ``max_grad_norm``), the rollout states'
            ``observation_moments``, the update's metrics by name, the ``FinishedEpisode``s,
            and the env steps of the rollout.
        """
        self.collector.use_weights(self.set_weights(weights))
        rollout, finished = self.collector.collect()
        gradients, moments, metrics = self.compute_gradients(rollout)
        steps = self.config.update_freq * self.config.envs_per_worker
        return gradients, moments, metrics, finished, steps

    def close(self) -> None:
        self.envs.close()


class RayMasterAgent:
    """The global model and optimizer on the driver; a ``RemoteWorker`` process per worker.

    An algorithm for ``training.trainer.Trainer``, like ``MasterAgent``.

    Args:
        config: the run's hyperparameters (``backend="ray"``).
        model: the global ``ActorCriticModel``, built for the env; None: a new one, seeded
            ``config.seed``.

    Connects to Ray (starting a local one without ``ray_address``) at once, so a bad address
    fails before any file is written; ``close`` disconnects. A ``KeyboardInterrupt`` while it
    connects disconnects too, before it goes on.

    Raises:
        BackendError: if Ray is not installed, or no Ray cluster answers at ``ray_address``
            (probed within seconds: ``gcs_answers``).
        utils.errors.EnvError: if the env is unknown or unsupported.
    """

    name = "A3C"

    def __init__(self, config: A3CConfig, model: keras.Model | None = None):
        self.ray = require_ray()
        self.config = config
        where = config.ray_address or "a local Ray"
        self.description = (
            f"{config.workers} Ray worker processes x {config.envs_per_worker} envs on {where}"
        )
        keras.utils.set_random_seed(config.seed)
        check_sendable(config.env)
        self.global_model = model if model is not None else new_model(config)
        steps_per_update = config.update_freq * config.envs_per_worker
        self.optimizer = make_optimizer(config, self.global_model, steps_per_update)
        self.apply = compiled(
            self._apply, *update_specs(self.global_model), jit_compile=config.jit_compile
        )
        self.update_log = UpdateLog(config.max_nonfinite_updates)
        self.replaced = 0  # workers that died and were replaced
        self.deaths: dict[int, int] = {}  # worker id -> deaths in a row without a gradient
        self.episode_log = None  # a training.episode_log.EpisodeLog, given by start
        self.actors: dict[int, object] = {}
        self.tasks: dict[object, int] = {}  # a pending rollout_gradients call -> worker id
        self.watchdog: subprocess.Popen | None = None  # of a local Ray: start_watchdog
        self.next_health_check = 0.0  # time.monotonic() of the next check_backend
        self._worker_logs_enabled = None  # Ray's setting before _connect quieted it
        try:
            self._connect()
        except BaseException:  # KeyboardInterrupt too: no half-connected Ray left to the exit
            self.close()
            raise

    @property
    def model(self) -> ActorCriticModel:
        """The global model: the one evaluated, saved and checkpointed."""
        return self.global_model

    def checkpointables(self) -> dict:
        """Nothing besides model and optimizer: the workers' samplers live in their processes
        (a resumed run seeds new workers from the env steps so far)."""
        return {}

    def _apply(self, gradients, moments, metrics):
        """Graph code: one worker's ``worker_gradients`` results applied to the global model
        (``apply_to_global``, as the threads do); returns whether it was applied and the new
        ``synced_variables``, which that worker takes with its next task."""
        model = self.global_model
        applied = apply_to_global(model, self.optimizer, gradients, moments, metrics)
        return applied, model.synced_variables

    def start(self, episode_log) -> None:
        """Starts the workers, waits until each has built its envs and model, and gives each
        its first task.

        Raises:
            BackendLost: Ray died while the workers started (``check_backend``).
            WorkerError: a worker's process died or failed while it started, or the workers did
                not start within ``WORKER_START_TIMEOUT`` (no free CPU).
        """
        ray = self.ray
        self.episode_log = episode_log
        if not ray.is_initialized():  # training goes on after a close
            self._connect()
        # SPREAD: workers go to different nodes where they can, so losing a node loses few.
        self.remote_class = ray.remote(num_cpus=1, max_restarts=0, scheduling_strategy="SPREAD")(
            RemoteWorker
        )
        for worker_id in range(self.config.workers):
            self.actors[worker_id] = self._new_actor(worker_id)
        starting = {actor.where.remote(): i for i, actor in self.actors.items()}
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while starting:
            if time.monotonic() > deadline:
                raise WorkerError(
                    f"the workers did not start within {WORKER_START_TIMEOUT} s: does the Ray "
                    f"cluster have {self.config.workers} free CPUs?"
                )
            self.check_backend()
            ready, _ = ray.wait(list(starting), num_returns=len(starting), timeout=0.5)
            for ref in ready:
                worker_id = starting.pop(ref)
                try:
                    ray.get(ref)
                except ray.exceptions.RayError as error:
                    self.check_backend(now=True)
                    if "error raised in its creation task" in str(error):
                        why = creation_error(error)
                    else:  # the process ended, no exception: its env, or memory?
                        why = (
                            f"its process died while it made and stepped its envs of "
                            f"{env_named(self.config.env)} ({death_cause(error)})"
                        )
                    raise WorkerError(f"worker {worker_id} did not start: {why}") from None
        self.weights = [variable.numpy() for variable in self.global_model.synced_variables]
        self.last_result = time.perf_counter()
        for worker_id in self.actors:
            self._submit(worker_id)

    def _connect(self) -> None:
        """Connects to the cluster at ``ray_address``, or starts a local Ray (with its watchdog,
        ``start_watchdog``) without it. Ray's own messages (a dead raylet's report, say) stay in
        its log files: the run says what went wrong in one line.

        Raises:
            BackendError: nothing answers at ``ray_address``, or no Ray GCS does
                (``gcs_answers``), or ``ray.init`` cannot connect.
        """
        ray, address = self.ray, self.config.ray_address
        if address and address != "auto":
            self._probe(address)
        runtime_env = {
            "working_dir": str(ROOT),
            "excludes": ["/runs/", "/.git/", "/docs/", "*.h5", "*.keras", "*.png", "*.gif"],
            # One OpenBLAS thread for NumPy's acting (cli/__init__.py says why).
            "env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2", "OPENBLAS_NUM_THREADS": "1"},
        }
        options = {
            "runtime_env": runtime_env,
            "log_to_driver": False,  # workers' TensorFlow notices stay in Ray's log files
            "include_dashboard": False,
            "configure_logging": False,
        }
        worker_module = getattr(getattr(ray, "_private", None), "worker", None)
        if hasattr(worker_module, "_worker_logs_enabled"):
            # Ray prints the errors its processes report (a dead raylet's 40-line state dump)
            # on the driver's console; this is the switch ray.util.rpdb uses to mute them.
            self._worker_logs_enabled = worker_module._worker_logs_enabled
            worker_module._worker_logs_enabled = False
        try:
            with signals_deferred():
                if address:
                    ray.init(address=address, **options)
                else:  # "local": a new Ray of its own, never a cluster another program started
                    self.watchdog = start_watchdog(os.path.dirname(ray.__file__))
                    cpus = max(self.config.workers, os.cpu_count() or 1)
                    ray.init(address="local", num_cpus=cpus, **options)
        except ConnectionError as error:
            raise BackendError(f"--ray_address={address}: {first_line(error)}") from None
        cpus = ray.cluster_resources().get("CPU", 0)
        if cpus < self.config.workers:
            logging.warning(
                "the Ray cluster has %g CPUs for %d workers of 1 CPU each: some will wait",
                cpus,
                self.config.workers,
            )

    @staticmethod
    def _probe(address: str) -> None:
        """Checks that a Ray cluster answers at ``address`` (host:port), within seconds.

        Raises:
            BackendError: nothing answers there (TCP), or something that is not a Ray GCS
                (``gcs_answers``).
        """
        host, _, port = address.removeprefix("ray://").rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
            why = None if address.startswith("ray://") else gcs_answers(address)
        except (OSError, ValueError) as error:
            why = str(error)
        if why is not None:
            raise BackendError(
                f"--ray_address={address}: no Ray cluster answers there ({why}); start "
                "one with `ray start --head`, or leave the flag out for a local Ray"
            )

    def check_backend(self, now: bool = False) -> None:
        """Checks, at most every ``HEALTH_CHECK_INTERVAL`` seconds (``now``: at once, and more
        thoroughly), that Ray can still run workers: ``backend_lost``.

        Raises:
            BackendLost: Ray is gone; the message names what died.
        """
        if not now and time.monotonic() < self.next_health_check:
            return
        self.next_health_check = time.monotonic() + HEALTH_CHECK_INTERVAL
        lost = self.backend_lost(thorough=now)
        if lost is not None:
            raise BackendLost(f"{lost}: no worker can run")

    def backend_lost(self, thorough: bool = False) -> str | None:
        """What of Ray died, or None if it can still run workers.

        A local Ray is lost when its raylet or GCS server died (``dead_vital_process``: a
        ``poll`` of the processes, microseconds). ``thorough`` (after a worker died) also asks
        the cluster's GCS (``gcs_answers``, a few seconds at most) and whether the driver's own
        node is alive: a worker's node that left the cluster is not a lost backend, its workers
        are replaced elsewhere.
        """
        dead = dead_vital_process(local_node())
        if dead is not None or not thorough:
            return dead
        ray = self.ray
        try:
            context = ray.get_runtime_context()
            gcs_address, node_id = context.gcs_address, context.get_node_id()
        except Exception:  # a Ray client (ray://) or another Ray's API: nothing more to ask
            return None
        why = gcs_answers(gcs_address)
        if why is not None:
            return f"the Ray cluster's GCS at {gcs_address} does not answer ({why})"
        try:
            nodes = ray.nodes()
        except Exception as error:
            return f"the Ray cluster's GCS at {gcs_address} failed ({first_line(error)})"
        for entry in nodes:
            if entry.get("NodeID") == node_id and not entry.get("Alive", True):
                return f"the driver's Ray node {node_id[:8]} died"
        return None

    def _new_actor(self, worker_id: int):
        config, log = self.config, self.episode_log
        seed = config.seed + log.env_steps + worker_id * config.envs_per_worker
        return self.remote_class.remote(config, worker_id, seed, env_registration(config.env))

    def _submit(self, worker_id: int) -> None:
        """Asks the worker for its next gradient, sending it the newest global weights (a few
        tens of kB: inlined in the call, no object-store round trip)."""
        self.tasks[self.actors[worker_id].rollout_gradients.remote(self.weights)] = worker_id

    def advance(self) -> None:
        """Applies the gradients that arrive within 0.2 s, each as it comes, and sends the
        worker that sent it the new weights with its next task.

        Raises:
            BackendLost: Ray is gone (its raylet or GCS died, or the driver's node), found by
                ``check_backend`` each second and when a worker dies: no replacement could
                start.
            WorkerError: an exception in a worker (not the death of its process, which is
                replaced); ``WorkerDied``: a worker's process died
                ``MAX_DEATHS_WITHOUT_PROGRESS`` times in a row without a gradient.
            TrainingError: more than ``max_nonfinite_updates`` non-finite updates.
        """
        ray, log = self.ray, self.episode_log
        self.check_backend()
        ready, _ = ray.wait(list(self.tasks), num_returns=1, timeout=0.2)
        if not ready and time.perf_counter() - self.last_result > WORKER_START_TIMEOUT:
            raise WorkerError(
                f"no worker returned a gradient for {WORKER_START_TIMEOUT} s: the replacements "
                "of dead workers cannot start (no free CPU in the Ray cluster?)"
            )
        for ref in ready:
            worker_id = self.tasks.pop(ref)
            try:
                gradients, moments, metrics, finished, steps = ray.get(ref)
            except ray.exceptions.RayActorError as error:
                self.check_backend(now=True)  # its node, or Ray itself?
                self._replace(worker_id, error)
                continue
            except ray.exceptions.RayTaskError as error:
                cause = error.cause if error.cause is not None else error
                if isinstance(cause, TrainingError):  # an env's fault, say: its kind kept
                    raise type(cause)(f"worker {worker_id}: {cause}") from None
                raise WorkerError(
                    f"worker {worker_id} failed: {type(cause).__name__}: {cause}"
                ) from None
            self.last_result = time.perf_counter()  # progress: a gradient, not a death
            self.deaths[worker_id] = 0
            applied, self.weights = self.apply(gradients, moments, metrics)
            self.update_log.record({**metrics, "applied": applied})
            log.add_steps(steps)
            for episode in finished:
                if log.record(worker_id, episode.episode_return, episode.length) is None:
                    break
            if not log.done.is_set():
                self._submit(worker_id)

    def _replace(self, worker_id: int, error: Exception) -> None:
        """A new actor for a worker whose process died; it starts from the newest weights.

        Raises:
            WorkerDied: the worker's process has died ``MAX_DEATHS_WITHOUT_PROGRESS`` times in
                a row, each time before it returned a gradient: a replacement would die too.
        """
        deaths = self.deaths.get(worker_id, 0) + 1
        self.deaths[worker_id] = deaths
        if deaths >= MAX_DEATHS_WITHOUT_PROGRESS:
            raise WorkerDied(
                f"worker {worker_id}'s process died {deaths} times in a row, each time before "
                f"it returned a gradient (the last: {death_cause(error)}): does "
                f"{env_named(self.config.env)} end its process (os._exit, a crash in native "
                "code), or does a worker run out of memory?"
            )
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
        """Stops the workers and disconnects from Ray (a local Ray stops with it, and its
        watchdog kills what is left of it); a Ctrl-C waits until Ray is shut down
        (``signals_deferred``)."""
        with signals_deferred():
            if self.ray.is_initialized():
                for actor in self.actors.values():
                    with contextlib.suppress(Exception):
                        self.ray.kill(actor, no_restart=True)
                self.ray.shutdown()
            self.actors.clear()
            self.tasks.clear()
            stop_watchdog(self.watchdog)
            self.watchdog = None
        if self._worker_logs_enabled is not None:
            self.ray._private.worker._worker_logs_enabled = self._worker_logs_enabled
            self._worker_logs_enabled = None
