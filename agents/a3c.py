"""A3C: asynchronous advantage actor-critic (Mnih et al. 2016, arXiv:1602.01783, algorithm S3).

``MasterAgent`` owns the global model and the one optimizer; each ``Worker`` thread plays its own
env with a local copy of the model, and every ``update_freq`` steps (t_max) or at the end of an
episode computes the gradient of ``compute_loss`` on its rollout, applies it to the global model
under a lock, and copies the global weights back into its local model.
"""

from __future__ import annotations

import os
import threading

import keras
import tensorflow as tf
from absl import logging

from agents.config import A3CConfig
from agents.episode_log import Episode, EpisodeLog, solved
from agents.evaluation import Evaluation, evaluate, greedy_policy
from agents.memory import Memory
from agents.summaries import Summaries, progress_line, run_directory
from agents.training import (
    NonFiniteCounter,
    TrainingError,
    apply_if_finite,
    compute_gradients,
    rollout_spec,
    sample_actions,
)
from agents.training_state import TrainingState
from models import ActorCriticModel
from utils.checkpoint import all_finite, model_path, save_weights
from utils.envs import env_dims, make_env, reward_threshold


class WorkerError(TrainingError):
    """A worker thread failed; the message names the worker and the cause."""


class MasterAgent:
    """Builds the global model and optimizer, runs the workers, keeps the best weights.

    Args:
        config: the run's hyperparameters.
        save_dir: where the best weights (``model_path(save_dir, env_id)``) and the training
            checkpoints (``TrainingState``) are written.
        resume: continue from the newest checkpoint in ``save_dir``: weights, optimizer, random
            generators, episode and step counts.

    Raises:
        utils.envs.EnvError: if the env is unknown or unsupported.
        NoCheckpointError: with ``resume``, if there is no checkpoint to resume.
    """

    def __init__(self, config: A3CConfig, save_dir: str | os.PathLike, resume: bool = False):
        self.config = config
        self.title = f"A3C on {config.env_id}"
        self.save_path = model_path(save_dir, config.env_id)
        keras.utils.set_random_seed(config.seed)
        probe = make_env(config.env_id)
        self.obs_dim, self.num_actions = env_dims(probe)
        probe.close()
        self.global_model = ActorCriticModel(self.num_actions, config.hidden_units)
        self.global_model.build_for(self.obs_dim)
        self.optimizer = keras.optimizers.Adam(config.lr)
        # A Keras 3 optimizer creates its slots lazily on the first apply_gradients; two threads
        # doing that at once crash. Create them now, before any worker starts.
        self.optimizer.build(self.global_model.trainable_variables)
        self.rngs = [tf.random.Generator.from_seed(config.seed + i) for i in range(config.workers)]
        self.update_lock = threading.Lock()
        self.stop = threading.Event()
        self.interrupted = False
        self.nonfinite = NonFiniteCounter(config.max_nonfinite_updates)
        self.episode_log = EpisodeLog(config.max_eps)
        self.threshold = reward_threshold(config.env_id)
        self.state = TrainingState(
            save_dir,
            config.env_id,
            self.episode_log,
            model=self.global_model,
            optimizer=self.optimizer,
            rngs=self.rngs,
        )
        if resume:
            self.state.restore()
        self.first_reset_seed = config.seed + self.episode_log.env_steps
        self.summaries = Summaries(run_directory(save_dir, "a3c"))
        self.last_update = None  # (LossInfo, gradient norm) of the latest update
        self._reported = len(self.episode_log.episodes)
        self.evaluations: list[Evaluation] = []
        self.eval_model = ActorCriticModel(self.num_actions, config.hidden_units)
        self.eval_model.build_for(self.obs_dim)
        self.eval_policy = greedy_policy(self.eval_model)
        self.train_seconds = 0.0  # of the whole run, resumed parts included, once trained

    def request_stop(self) -> None:
        """Asks the workers to stop after their current step (a signal handler calls this)."""
        self.interrupted = True
        self.stop.set()

    def train(self) -> list[Episode]:
        """Runs the workers until ``max_eps`` episodes are recorded; returns the episodes.

        Meanwhile this (the master) thread writes the progress line and TensorBoard scalars,
        runs the greedy evaluations every ``eval_interval`` env steps, and checkpoints the
        training state every ``checkpoint_every`` updates and when the run ends, whether the
        budget, the threshold or ``request_stop`` ended it.

        Raises:
            WorkerError: if a worker raised; the workers are stopped first, and no checkpoint
                is written over the last good one.
        """
        config, log = self.config, self.episode_log
        workers = [Worker(i, self) for i in range(config.workers)]
        for worker in workers:
            worker.start()
        next_checkpoint = int(self.optimizer.iterations) + config.checkpoint_every
        interval = config.eval_interval
        next_eval = (log.env_steps // interval + 1) * interval if interval else 0
        try:
            while not (log.done.is_set() or self.stop.is_set()):
                log.done.wait(timeout=0.2)
                self._report()
                if int(self.optimizer.iterations) >= next_checkpoint:
                    self.save_state()
                    next_checkpoint += config.checkpoint_every
                if interval and log.env_steps >= next_eval:
                    self._evaluate()
                    next_eval += interval
        finally:
            self.stop.set()
            for worker in workers:
                worker.join()
            self._report(final=True)
            self.summaries.close()
        self.train_seconds = log.seconds
        for worker in workers:
            if worker.error is not None:
                raise WorkerError(
                    f"worker {worker.worker_id} failed: {type(worker.error).__name__}: "
                    f"{worker.error}"
                ) from worker.error
        self.save_state()
        return list(log.episodes)

    def save_state(self) -> str:
        """Checkpoints the training state (under the update lock); returns its path prefix."""
        with self.update_lock:
            return self.state.save()

    def on_episode(self, episode: Episode) -> None:
        """Called by a worker for each recorded episode: saves new bests and, with
        ``stop_at_threshold``, stops the run once the last 100 episodes average the env's
        reward threshold."""
        if episode.is_best:
            with self.update_lock:
                if all_finite(self.global_model):
                    save_weights(self.global_model, self.save_path, self.config.env_id)
                else:
                    logging.warning("not saving non-finite weights at episode %d", episode.index)
        if self.config.stop_at_threshold and solved(episode, self.threshold):
            logging.info(
                "mean return of the last 100 episodes reached %g: stopping", self.threshold
            )
            self.stop.set()

    def _report(self, final: bool = False) -> None:
        """Writes new episodes and the latest losses to TensorBoard; logs a progress line at
        every 2% of the episode budget."""
        episodes, env_steps = self.episode_log.snapshot()
        new = episodes[self._reported :]
        if not new:
            return
        self._reported = len(episodes)
        seconds = self.episode_log.seconds
        steps_per_second = env_steps / max(seconds, 1e-9)
        self.summaries.episodes(new, env_steps)
        if self.last_update is not None:
            loss, norm = self.last_update
            learning_rate = self.optimizer.learning_rate
            self.summaries.update(env_steps, loss, norm, learning_rate, steps_per_second)
        every = max(1, self.config.max_eps // 50)
        if final or len(episodes) // every > (len(episodes) - len(new)) // every:
            logging.info(
                "%s | return %.1f | mean(100) %.1f",
                progress_line(
                    len(episodes),
                    self.config.max_eps,
                    "episode",
                    episodes[-1].moving_average,
                    steps_per_second,
                    seconds,
                ),
                episodes[-1].episode_return,
                episodes[-1].recent_mean,
            )

    def _evaluate(self) -> None:
        """Greedy evaluation of a snapshot of the global weights, for the log and the plot."""
        with self.update_lock:
            self.eval_model.set_weights(self.global_model.get_weights())
        episodes, env_steps = self.episode_log.snapshot()
        result = evaluate(
            self.eval_model,
            self.config.env_id,
            self.config.eval_episodes,
            seed=self.config.seed + 20_000,
            policy=self.eval_policy,
        )
        self.evaluations.append(Evaluation(env_steps, len(episodes), result))
        self.summaries.evaluation(env_steps, result)
        logging.info("%d env steps: %s", env_steps, result.summary())


class Worker(threading.Thread):
    """One actor-learner thread: its own env and local model, updating the global model.

    Args:
        worker_id: 0-based id; the worker's env is first reset with seed
            ``config.seed + worker_id`` (plus the env steps before a resume).
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
        self.local_model = ActorCriticModel(master.num_actions, config.hidden_units)
        self.local_model.build_for(master.obs_dim)
        self.local_model.set_weights(master.global_model.get_weights())
        self.rng = master.rngs[worker_id]

        # Concrete functions: calling one skips tf.function's signature matching, which costs
        # more than the tiny network itself (measured: 76 us against 173 us a step).
        compiled = tf.function(jit_compile=config.jit_compile)
        obs_dim = master.obs_dim
        self.act = compiled(self._act).get_concrete_function(tf.TensorSpec([obs_dim], tf.float32))
        self.update = compiled(self._update).get_concrete_function(
            rollout_spec(config.update_freq, 1, obs_dim)
        )

    def _act(self, state):
        """Samples a ~ pi(.|state) with the local model: float32 (obs_dim,) -> int32 scalar."""
        return sample_actions(self.local_model, self.rng, state[None])[0]

    def _update(self, rollout):
        """One A3C update; the caller holds the master's update lock.

        The gradient of ``compute_loss`` with respect to the local weights (theta') is clipped to
        ``max_grad_norm``, applied to the global weights (theta) by the shared optimizer, and the
        global weights are copied back into the local model.

        A non-finite loss or gradient is not applied (``apply_if_finite``).

        Returns:
            ``(LossInfo, gradient norm before clipping, whether it was applied)``.
        """
        gradients, loss, norm = compute_gradients(self.local_model, rollout, self.master.config)
        global_variables = self.master.global_model.trainable_variables
        applied = apply_if_finite(self.master.optimizer, gradients, global_variables, loss, norm)
        for local, shared in zip(
            self.local_model.trainable_variables, global_variables, strict=True
        ):
            local.assign(shared)
        return loss, norm, applied

    def run(self) -> None:
        try:
            self._train()
        except BaseException as error:  # reported by MasterAgent.train
            self.error = error
            self.master.stop.set()

    def _train(self) -> None:
        config, master = self.master.config, self.master
        env = make_env(config.env_id)
        memory = Memory(capacity=config.update_freq)
        state, _ = env.reset(seed=master.first_reset_seed + self.worker_id)
        episode_return, episode_length = 0.0, 0
        try:
            while not master.stop.is_set():
                memory.clear()
                episode_over = False
                while len(memory) < config.update_freq and not episode_over:
                    action = int(self.act(state))
                    next_state, reward, terminated, truncated, _ = env.step(action)
                    memory.store(state, action, reward, terminated, truncated)
                    episode_return += float(reward)
                    episode_length += 1
                    state = next_state
                    episode_over = terminated or truncated
                rollout = memory.to_rollout(state, pad_to=config.update_freq)
                if master.stop.is_set():
                    return
                with master.update_lock:
                    loss, norm, applied = self.update(rollout)
                    master.nonfinite.add(applied, loss)
                    master.last_update = (loss, norm)
                master.episode_log.add_steps(len(memory))
                if episode_over:
                    episode = master.episode_log.record(
                        self.worker_id, episode_return, episode_length
                    )
                    if episode is None:
                        return
                    master.on_episode(episode)
                    state, _ = env.reset()
                    episode_return, episode_length = 0.0, 0
        finally:
            env.close()
