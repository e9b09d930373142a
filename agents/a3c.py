"""A3C: asynchronous advantage actor-critic (Mnih et al. 2016, arXiv:1602.01783, algorithm S3).

``MasterAgent`` owns the global model and the one optimizer; each ``Worker`` thread plays its own
``envs_per_worker`` envs with a local copy of the model, and every ``update_freq`` steps (t_max)
computes the gradient of ``compute_loss`` on its ``(t_max, envs_per_worker)`` rollout, applies it
to the global model under a lock, and copies the global weights back into its local model. An
episode that ends inside a rollout bootstraps from 0 there, as the paper's "until terminal"
rollouts do, and the env's next episode goes on in the same rollout.

``MasterAgent`` is an algorithm for ``training.trainer.Trainer``, which runs it;
``agents.a3c_ray.RayMasterAgent`` is the same algorithm with a process per worker.
"""

from __future__ import annotations

import threading

import keras
import tensorflow as tf

from agents.memory import as_tensors, rollout_spec
from agents.reward_scaling import RewardScaler
from agents.rollouts import RolloutCollector
from agents.updates import (
    NonFiniteCounter,
    apply_if_finite,
    compute_gradients,
    make_optimizer,
)
from config.hyperparameters import A3CConfig
from models import ActorCriticModel, build_model
from utils.envs import env_dims, make_env, make_vector_env
from utils.errors import WorkerError


def build_worker(config: A3CConfig, rng: tf.random.Generator):
    """What every A3C worker acts with, on either backend: a vector env of ``envs_per_worker``
    envs, a local model built for it, and a ``RolloutCollector`` sampling with ``rng``.

    Returns:
        ``(envs, local_model, collector)``; the caller closes ``envs``.
    """
    envs = make_vector_env(config.env, config.envs_per_worker)
    try:
        dims = env_dims(envs.single_observation_space, envs.single_action_space)
        model = build_model(dims, **config.model_options())
        collector = RolloutCollector(envs, model, rng, config.update_freq, config.jit_compile)
    except BaseException:
        envs.close()
        raise
    return envs, model, collector


class MasterAgent:
    """The global model, the shared optimizer and the update lock; starts the ``Worker`` threads.

    Args:
        config: the run's hyperparameters.

    Raises:
        utils.envs.EnvError: if the env is unknown or unsupported.
    """

    name = "A3C"

    def __init__(self, config: A3CConfig):
        self.config = config
        self.description = f"{config.workers} worker threads x {config.envs_per_worker} envs"
        keras.utils.set_random_seed(config.seed)
        probe = make_env(config.env)
        self.dims = env_dims(probe.observation_space, probe.action_space)
        probe.close()
        self.global_model = build_model(self.dims, **config.model_options())
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
        self.last_update = None  # (LossInfo, gradient norm) of the newest update
        self.updates = 0  # by all workers, counted under the update lock
        self.episode_log = None  # a training.episode_log.EpisodeLog, given by start
        self.workers: list[Worker] = []

    @property
    def model(self) -> ActorCriticModel:
        """The global model: the one evaluated, saved and checkpointed."""
        return self.global_model

    def checkpointables(self) -> dict:
        """What a checkpoint saves besides the model and optimizer: each worker's generator,
        and with ``normalize_rewards`` each worker's reward scaler."""
        extra = {"reward_scalers": self.reward_scalers} if self.reward_scalers else {}
        return {"rngs": self.rngs, **extra}

    def start(self, episode_log) -> None:
        """Builds the workers (their envs, compiled acting and updates) and starts their
        threads; they record episodes in ``episode_log`` and stop when it is ``done`` or at
        ``close``."""
        self.episode_log = episode_log
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
        self.envs, self.local_model, self.collector = build_worker(config, master.rngs[worker_id])
        self.local_model.set_weights(master.global_model.get_weights())
        scalers = master.reward_scalers
        self.reward_scaler = scalers[worker_id] if scalers else None
        spec = rollout_spec(
            config.update_freq,
            config.envs_per_worker,
            self.envs.single_observation_space,
            self.local_model,
        )
        update = tf.function(self._update, jit_compile=config.jit_compile)
        self.update = update.get_concrete_function(spec)

    def _update(self, rollout):
        """One A3C update; the caller holds the master's update lock.

        The gradient of ``compute_loss`` with respect to the local weights (theta') is clipped to
        ``max_grad_norm``, applied to the global weights (theta) by the shared optimizer; the
        global observation statistics take in the rollout's states (``normalize_observations``),
        and the global weights and statistics are copied back into the local model.

        A non-finite loss or gradient is not applied (``apply_if_finite``).

        Returns:
            ``(LossInfo, gradient norm before clipping, whether it was applied, the local
            weights the acting pass reads, as copied)``: the next rollout acts with them
            without reading each variable again (``RolloutCollector.collect``).
        """
        master = self.master
        gradients, loss, norm = compute_gradients(
            self.local_model, rollout, master.config, self.reward_scaler
        )
        global_model = master.global_model
        variables = global_model.trainable_variables
        applied = apply_if_finite(master.optimizer, gradients, variables, loss.total, norm)
        with tf.control_dependencies([applied]):
            global_model.update_statistics(rollout.states[:-1])
        for local, shared in zip(
            self.local_model.synced_variables, global_model.synced_variables, strict=True
        ):
            local.assign(shared)
        acting = [tf.convert_to_tensor(weight) for weight in self.collector.policy.variables]
        return loss, norm, applied, acting

    def run(self) -> None:
        try:
            self._train()
        except BaseException as error:  # raised on the trainer's thread by MasterAgent
            self.error = error
            self.master.stop.set()
        finally:
            self.envs.close()

    def _train(self) -> None:
        config, master = self.master.config, self.master
        log = master.episode_log
        envs_per_worker = config.envs_per_worker
        self.collector.reset(seed=master.first_reset_seed + self.worker_id * envs_per_worker)
        acting_weights = None  # read from the local model before the first rollout
        while not (master.stop.is_set() or log.done.is_set()):
            rollout, finished = self.collector.collect(acting_weights)
            rollout = as_tensors(rollout)
            if master.stop.is_set():
                return
            with master.update_lock:
                loss, norm, applied, acting_weights = self.update(rollout)
                master.nonfinite.add(applied, loss)
                master.last_update = (loss, norm)
                master.updates += 1
            log.add_steps(config.update_freq * envs_per_worker)
            for episode in finished:
                if log.record(self.worker_id, episode.episode_return, episode.length) is None:
                    return
