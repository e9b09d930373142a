"""A2C: NEXT_STEP autoreset masking, terminated vs truncated, determinism, one loss, learning."""

import threading

import gymnasium as gym
import numpy as np
import pytest

import agents.a2c
import agents.a3c
from agents.a2c import A2CAgent
from agents.a3c import MasterAgent, Worker
from agents.losses import compute_loss
from config.hyperparameters import A2CConfig, A3CConfig
from models import ActorCriticModel
from training.episode_log import EpisodeLog
from training.evaluation import evaluate
from training.trainer import Trainer
from utils.checkpoint import load_weights


@pytest.mark.slow
def test_the_same_seed_gives_the_same_run(tmp_path):
    def run(seed):
        config = A2CConfig(num_envs=4, max_steps=4000, eval_interval=0, seed=seed)
        agent = A2CAgent(config)
        episodes = Trainer(agent, tmp_path / str(seed)).train()
        return [e.episode_return for e in episodes], agent.model.get_weights()

    (returns_a, weights_a), (returns_b, weights_b) = run(0), run(0)
    assert len(returns_a) > 50 and returns_a == returns_b
    for a, b in zip(weights_a, weights_b, strict=True):
        np.testing.assert_array_equal(a, b)
    returns_c, _ = run(1)
    assert returns_c != returns_a


def test_a3c_and_a2c_train_through_the_one_compute_loss(tmp_path, monkeypatch):
    calls = []

    def spy(*args, **kwargs):
        calls.append(kwargs["gamma"])
        return compute_loss(*args, **kwargs)

    monkeypatch.setattr(agents.a2c, "compute_loss", spy)
    monkeypatch.setattr(agents.a3c, "compute_loss", spy)
    A2CAgent(A2CConfig(num_envs=2, gamma=0.5, eval_interval=0)).close()  # traces its update
    Worker(0, MasterAgent(A3CConfig(workers=1, gamma=0.25)))  # traces its update
    assert 0.5 in calls and 0.25 in calls  # both traced their update through the spy


@pytest.mark.slow
def test_stop_at_threshold_stops_once_the_last_100_episodes_reach_it(tmp_path):
    # CartPole-v0's threshold is 195: the agent must stop early, after the mean reached it.
    config = A2CConfig(
        env="CartPole-v0", max_steps=400_000, eval_interval=0, stop_at_threshold=True, seed=0
    )
    trainer = Trainer(A2CAgent(config), tmp_path)
    episodes = trainer.train()
    assert trainer.episode_log.env_steps < 400_000
    assert episodes[-1].recent_mean >= 195.0
    assert all(e.recent_mean < 195.0 for e in episodes[99:-1])


def test_a2c_beats_the_random_baseline_by_a_wide_margin(tmp_path):
    # Deterministic: the best of three evaluations is saved; measured: 444 on new seeds.
    config = A2CConfig(num_envs=16, max_steps=60_000, eval_interval=20_000, eval_episodes=20)
    trainer = Trainer(A2CAgent(config), tmp_path)
    trainer.train()
    assert [e.env_steps for e in trainer.evaluations] == [20_096, 40_064, 60_032]
    saved = ActorCriticModel(2).build_for(4)
    load_weights(saved, trainer.save_path, "CartPole-v1")
    result = evaluate(saved, "CartPole-v1", episodes=20, seed=123)
    assert result.mean > 200  # random play averages about 22


def test_every_algorithm_takes_its_gradient_through_the_one_compute_loss(monkeypatch):
    # One loss, written once: A2C's update, an A3C worker thread's gradient and a Ray worker's
    # all trace agents.losses.compute_loss (and nothing else gives them a loss).
    from agents.a3c_ray import RemoteWorker

    callers = []

    def counted(*args, **kwargs):
        callers.append(threading.current_thread().name)
        return compute_loss(*args, **kwargs)

    monkeypatch.setattr(agents.a2c, "compute_loss", counted)
    monkeypatch.setattr(agents.a3c, "compute_loss", counted)
    agent = A2CAgent(A2CConfig(num_envs=2, update_freq=5))
    agent.start(EpisodeLog(max_steps=10**6))
    agent.advance()
    agent.close()
    assert callers, "A2C's update did not go through compute_loss"
    callers.clear()
    master = MasterAgent(A3CConfig(workers=1, update_freq=5, max_eps=0, max_steps=200))
    log = EpisodeLog(max_steps=200)
    master.start(log)
    while not log.done.is_set():
        master.advance()
    master.close()
    assert callers, "no A3C worker's gradient went through it"
    callers.clear()
    worker = RemoteWorker(A3CConfig(backend="ray", workers=1, update_freq=5), worker_id=0, seed=0)
    worker.rollout_gradients([v.numpy() for v in worker.model.synced_variables])
    worker.close()
    assert callers, "the Ray worker's gradient did not go through compute_loss"


def test_an_image_models_update_is_never_xla_compiled_and_a_flat_ones_is():
    from agents.memory import rollout_spec
    from agents.on_policy import update_xla
    from models import build_model
    from utils.envs import env_dims

    for observations, xla in (
        (gym.spaces.Box(0, 255, (4, 84, 84), np.uint8), False),  # oneDNN's convolution kernels
        (gym.spaces.Box(-1, 1, (3,), np.float32), True),
    ):
        model = build_model(env_dims(observations, gym.spaces.Discrete(2)), (8,))
        spec = rollout_spec(2, 3, observations, model)
        assert update_xla(A2CConfig(), spec) is xla
        assert not update_xla(A2CConfig(jit_compile=False), spec)
    agent = A2CAgent(A2CConfig(num_envs=2))
    agent.close()
    assert agent.update.jit_compile  # a flat model's update, as built
