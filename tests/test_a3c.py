"""A3C: the shared optimizer, the episode budget under threads, failures, and learning."""

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
    (rollout,), _ = worker.update.structured_input_signature  # what each update takes
    assert rollout.actions.shape == (4, 3) and rollout.states.shape == (5, 3, 4)


def test_a_failing_worker_stops_the_run_and_is_named(tmp_path, monkeypatch):
    def broken(self):
        if self.worker_id == 1:
            raise RuntimeError("env exploded")
        while not self.master.stop.is_set():  # a healthy worker that would run on
            self.master.stop.wait(0.01)

    monkeypatch.setattr(Worker, "_train", broken)
    trainer = Trainer(MasterAgent(A3CConfig(max_eps=10, workers=2)), tmp_path)
    with pytest.raises(WorkerError, match="worker 1 failed: RuntimeError: env exploded"):
        trainer.train()
    assert not (tmp_path / "checkpoints_CartPole-v1").exists()  # no checkpoint of a failed run


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
