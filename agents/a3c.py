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

import threading

import keras
import tensorflow as tf

from agents.compiled import compiled
from agents.losses import compute_loss
from agents.memory import Rollout, RolloutCollector, rollout_spec
from agents.on_policy import (
    UpdateLog,
    collector_for,
    loss_settings,
    metrics_spec,
    model_for,
    moments_spec,
    observation_moments,
    only_if_finite,
    rewards_for_loss,
    update_metrics,
    update_xla,
)
from agents.optimizers import make_optimizer
from agents.reward_scaling import RewardScaler
from config.hyperparameters import A3CConfig
from models import ActorCriticModel
from models.normalization import Moments
from utils.envs import make_env, make_vector_env
from utils.errors import TrainingError, WorkerError


def worker_gradients(model, rollout: Rollout, config: A3CConfig, reward_scaler=None):
    """Step 2 of a worker (graph code, on either backend): d theta', the gradient of
    ``compute_loss`` on ``rollout`` with respect to the local ``model``'s weights, clipped to
    ``max_grad_norm``; no lock is held.

    Returns:
        ``(gradients, moments, metrics)``: one gradient per trainable variable; the
        ``observation_moments`` of the rollout's states, for the global statistics; the
        update's metrics by name (``agents.on_policy.update_metrics``).
    """
    rollout = rewards_for_loss(rollout, config, reward_scaler)
    with tf.GradientTape() as tape:
        loss = compute_loss(model, rollout, **loss_settings(config))
    gradients = tape.gradient(loss.total, model.trainable_variables)
    gradients, norm = tf.clip_by_global_norm(gradients, config.max_grad_norm)
    moments = observation_moments(model, rollout.states[:-1])
    return gradients, moments, update_metrics(loss, norm)


def apply_to_global(model, optimizer, gradients, moments, metrics):
    """Step 3's update of theta (graph code, on either backend; the caller holds the update
    lock or is the only thread that updates): ``apply_gradients`` of the shared ``optimizer``
    to the global ``model``'s weights, and the rollout's observation ``moments`` merged into
    its statistics, unless the loss or gradient is not finite (``only_if_finite``).

    Returns:
        A bool scalar tensor: whether the update was applied.
    """

    def update():
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        if model.normalizer is not None:
            model.normalizer.merge(Moments(*moments))

    return only_if_finite(metrics, update)


def worker_parts(config: A3CConfig, rng: tf.random.Generator):
    """What an A3C worker acts with, on either backend: a vector env of ``envs_per_worker``
    envs, a local model (theta') built for it, and a ``RolloutCollector`` sampling with
    ``rng``.

    Returns:
        ``(envs, local_model, collector)``; the caller closes ``envs``.
    """
    envs = make_vector_env(config.env, config.envs_per_worker)
    try:
        model = model_for(config, envs)
        collector = collector_for(config, envs, model, rng)
    except BaseException:
        envs.close()
        raise
    return envs, model, collector


def gradient_function(config: A3CConfig, model, collector: RolloutCollector, reward_scaler=None):
    """``worker_gradients`` of ``model``'s rollouts, compiled once for the collector's
    rollouts (with XLA as ``update_xla`` says)."""
    spec = rollout_spec(
        config.update_freq, config.envs_per_worker, collector.envs.single_observation_space, model
    )
    return compiled(
        lambda rollout: worker_gradients(model, rollout, config, reward_scaler),
        spec,
        jit_compile=update_xla(config, spec),
    )


def update_specs(model) -> tuple:
    """The ``tf.TensorSpec``s of what ``worker_gradients`` returns for ``model``: a gradient per
    trainable variable, the observation moments, the metrics."""
    gradients = [tf.TensorSpec(variable.shape) for variable in model.trainable_variables]
    return gradients, moments_spec(model), metrics_spec()


def new_model(config: A3CConfig) -> ActorCriticModel:
    """A new global model for ``config``'s env and settings (the caller seeds it), on either
    backend."""
    probe = make_env(config.env)
    try:
        return model_for(config, probe)
    finally:
        probe.close()


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
        self.update_log = UpdateLog(config.max_nonfinite_updates)  # recorded under the lock
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
    """One actor-learner thread (Algorithm S3): its own envs and local model theta', updating
    the global model theta.

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
        self.envs, self.local_model, self.collector = worker_parts(config, master.rngs[worker_id])
        self.local_model.set_weights(master.global_model.get_weights())
        self.compute_gradients = gradient_function(config, self.local_model, self.collector, scaler)
        self.apply_gradients = compiled(
            self._apply_and_synchronise,
            *update_specs(self.local_model),
            jit_compile=config.jit_compile,
        )

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
            # 2. d theta': the gradient of the loss on theta' (the tape in worker_gradients),
            # clipped; no lock, so the workers compute at the same time.
            gradients, moments, metrics = self.compute_gradients(rollout)
            if master.stop.is_set():
                return
            # 3. theta <- apply d theta' with the shared optimizer; theta' <- theta.
            with master.update_lock:
                applied, acting_weights = self.apply_gradients(gradients, moments, metrics)
                master.update_log.record({**metrics, "applied": applied})
            self.collector.use_weights(acting_weights)
            log.add_steps(config.update_freq * config.envs_per_worker)
            for episode in finished:
                if log.record(self.worker_id, episode.episode_return, episode.length) is None:
                    return

    def _apply_and_synchronise(self, gradients, moments, metrics):
        """Step 3 (graph code, under the update lock): ``apply_to_global``, then theta' <- theta
        (the weights and the observation statistics). An update whose loss or gradient is not
        finite changes nothing of the global model; the copy back still happens.

        Returns:
            ``(applied, acting weights)``: whether the update was applied, and the local
            weights the acting pass reads, as copied (the next rollout acts with them).
        """
        master = self.master
        applied = apply_to_global(
            master.global_model, master.optimizer, gradients, moments, metrics
        )
        for local, shared in zip(
            self.local_model.synced_variables, master.global_model.synced_variables, strict=True
        ):
            local.assign(shared)
        return applied, self.collector.acting_variables()
