"""A3C: the shared optimizer, the episode budget under threads, failures, and learning."""

import threading

import numpy as np
import pytest

from agents.a3c import MasterAgent, Worker
from agents.random_agent import RandomAgent
from config.hyperparameters import A3CConfig
from training.episode_log import EpisodeLog
from training.evaluation import evaluate
from training.trainer import Trainer
from utils.errors import WorkerError


def test_optimizer_state_exists_before_any_worker_starts(tmp_path):
    master = MasterAgent(A3CConfig(max_eps=1, workers=1))
    # Adam's moments (two per trainable variable) plus its iteration counter and learning rate.
    assert len(master.optimizer.variables) >= 2 * len(master.global_model.trainable_variables)


@pytest.mark.slow
def test_several_workers_stop_at_exactly_the_episode_budget(tmp_path):
    master = MasterAgent(A3CConfig(max_eps=60, workers=4, update_freq=5))
    trainer = Trainer(master, tmp_path)
    episodes = trainer.train()
    assert [e.index for e in episodes] == list(range(1, 61))
    assert {e.worker for e in episodes} == {0, 1, 2, 3}
    assert episodes[-1].env_steps >= sum(e.length for e in episodes[:-1])
    assert trainer.save_path.is_file()  # the final model was evaluated and saved
    assert int(master.optimizer.iterations) > 0


def test_each_worker_steps_several_envs_as_one_rollout(tmp_path):
    master = MasterAgent(A3CConfig(max_eps=50, workers=2, envs_per_worker=3, update_freq=4))
    episodes = Trainer(master, tmp_path).train()
    assert [e.index for e in episodes] == list(range(1, 51))
    worker = master.workers[0]
    assert worker.envs.num_envs == 3
    (rollout,) = worker.compute_gradients.specs  # what each gradient computation takes
    assert rollout.actions.shape == (4, 3) and rollout.states.shape == (5, 3, 4)


def test_a_failing_worker_stops_the_run_and_is_named(tmp_path, monkeypatch):
    def broken(self):
        if self.worker_id == 1:
            raise RuntimeError("env exploded")
        while not self.master.stop.is_set():  # a healthy worker that would run on
            self.master.stop.wait(0.01)

    monkeypatch.setattr(Worker, "run_loop", broken)
    trainer = Trainer(MasterAgent(A3CConfig(max_eps=10, workers=2)), tmp_path)
    with pytest.raises(WorkerError, match="worker 1 failed: RuntimeError: env exploded"):
        trainer.train()
    assert not (tmp_path / "checkpoints_CartPole-v1").exists()  # no checkpoint of a failed run


@pytest.mark.slow
def test_a3c_beats_the_random_baseline_by_a_wide_margin(tmp_path):
    # One worker, so the run is deterministic; measured: greedy mean 137 against random 22.
    master = MasterAgent(A3CConfig(max_eps=400, workers=1, seed=0))
    episodes = Trainer(master, tmp_path).train()
    random_mean = (
        sum(e.episode_return for e in RandomAgent("CartPole-v1", seed=0).run(EpisodeLog(100))) / 100
    )
    result = evaluate(master.global_model, "CartPole-v1", episodes=20, seed=123)
    assert 15 < random_mean < 30
    assert result.mean > 4 * random_mean
    assert episodes[-1].recent_mean > 2 * random_mean


def test_worker_threads_compute_gradients_at_once_and_update_the_global_model_one_at_a_time(
    monkeypatch,
):
    # Both workers must be inside their gradient computation together: each waits there for
    # the other (a barrier; its timeout only guards against a hang, as a lock around the
    # gradient would cause). Then both try the global update at once, and inside it each waits
    # for the other to come in too: under the lock it never does.
    master = MasterAgent(A3CConfig(workers=2, max_eps=0, max_steps=2000, update_freq=5, seed=2))
    inside_gradient = threading.Barrier(2, timeout=60)
    before_update = threading.Barrier(2, timeout=60)
    condition = threading.Condition()
    state = {"inside": 0, "most": 0, "lock held": [], "first": set()}
    start_thread = Worker.start

    def instrumented_start(worker):
        compute_gradient, apply_gradient = worker.compute_gradients, worker.apply_gradients
        first = {"gradient": True, "update": True}

        def gradient(rollout):
            if first["gradient"]:
                first["gradient"] = False
                inside_gradient.wait()  # raises BrokenBarrierError if the other cannot come in
            return compute_gradient(rollout)

        def update(*args):
            state["lock held"].append(real_lock.locked())
            with condition:
                state["inside"] += 1
                state["most"] = max(state["most"], state["inside"])
                if first["update"]:  # give the other worker every chance to come in
                    first["update"] = False
                    condition.wait_for(lambda: state["inside"] == 2, timeout=0.5)
            try:
                return apply_gradient(*args)
            finally:
                with condition:
                    state["inside"] -= 1
                    condition.notify_all()

        worker.compute_gradients, worker.apply_gradients = gradient, update
        start_thread(worker)

    class BothAtOnce:  # the update lock, entered by both workers at the same moment once
        def __enter__(self):
            if threading.current_thread().name not in state["first"]:
                state["first"].add(threading.current_thread().name)
                before_update.wait()
            return real_lock.__enter__()

        def __exit__(self, *exc):
            return real_lock.__exit__(*exc)

    real_lock = master.update_lock
    master.update_lock = BothAtOnce()
    monkeypatch.setattr(Worker, "start", instrumented_start)
    log = EpisodeLog(max_steps=2000)
    master.start(log)
    while not log.done.is_set():
        master.advance()
    master.close()
    assert not inside_gradient.broken and not before_update.broken
    count = master.update_log.count
    assert count >= 20 and len(state["lock held"]) == count
    assert all(state["lock held"]) and state["most"] == 1


def test_a_worker_applies_no_update_whose_loss_or_gradient_is_not_finite():
    master = MasterAgent(A3CConfig(workers=1, max_eps=1, update_freq=5))
    worker = Worker(0, master)
    worker.collector.reset(seed=0)
    gradients, moments, metrics = worker.compute_gradients(worker.collector.collect()[0])
    before = master.global_model.get_weights()
    nan_gradients = [gradient * np.nan for gradient in gradients]
    nan_metrics = {**metrics, "grad_norm": np.nan}  # a NaN gradient makes its global norm NaN
    applied, _ = worker.apply_gradients(nan_gradients, moments, nan_metrics)
    assert not applied and int(master.optimizer.iterations) == 0
    for a, b in zip(before, master.global_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    applied, _ = worker.apply_gradients(gradients, moments, metrics)
    assert applied and int(master.optimizer.iterations) == 1
