"""Continuous actions: the Gaussian head, clipping, observation and reward normalisation, presets,
and Pendulum-v1 trained, played, evaluated, recorded, exported and resumed from the command line."""

import dataclasses
import re

import gymnasium as gym
import keras
import numpy as np
import pytest
import tensorflow as tf

from a3c_keras import A3C
from agents.a2c import A2CAgent
from agents.losses import compute_loss
from agents.memory import Rollout, RolloutCollector
from agents.reward_scaling import RewardScaler
from config.hyperparameters import A2CConfig, A3CConfig
from config.presets import PRESETS, apply_preset, with_preset
from models import ActorCriticModel, build_model
from tests.programs import error_line, run
from training.evaluation import evaluate, greedy_policy, play
from training.trainer import Trainer
from utils.checkpoint import load_weights
from utils.envs import Dims, warn_unbounded
from utils.errors import ConfigError

RANDOM_PENDULUM = -1200  # about the random policy's mean return on Pendulum-v1


def test_the_gaussian_head_has_a_learned_state_independent_log_std():
    model = ActorCriticModel(2, (8,), continuous=True, log_std_init=-1.5).build_for(3)
    params, value = model(tf.random.normal((5, 3)))
    assert params.shape == (5, 4) and value.shape == (5,)
    np.testing.assert_allclose(params[:, 2:], -1.5)  # one sigma per dimension, every state
    assert any(weight is model.policy_head.log_std for weight in model.trainable_variables)
    assert model.distribution.action_shape == (2,)
    assert model.distribution.action_dtype == tf.float32


def one_step_rollout(action, reward):
    """One step of one env: state [1, 0, 0], ``action``, ``reward``, terminal."""
    return Rollout(
        states=np.array([[[1.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]]], np.float32),
        actions=np.array([[action]], np.float32),
        rewards=np.array([[reward]], np.float32),
        terminated=np.ones((1, 1), np.float32),
        truncated=np.zeros((1, 1), np.float32),
        valid=np.ones((1, 1), np.float32),
    )


@pytest.mark.parametrize("reward, direction", [(5.0, 1), (-5.0, -1)])
def test_a_positive_advantage_raises_the_log_prob_of_its_action(reward, direction):
    model = ActorCriticModel(1, (8,), continuous=True).build_for(3)
    rollout = one_step_rollout([0.7], reward)
    optimizer = keras.optimizers.SGD(0.01)

    def log_prob():
        params, _ = model(rollout.states[0])
        return float(model.distribution.log_prob(params, tf.constant(rollout.actions[0]))[0])

    before = log_prob()
    with tf.GradientTape() as tape:
        loss = compute_loss(model, rollout, gamma=0.99, entropy_coef=0.0, value_coef=0.0)
    assert float(loss.advantages[0, 0]) * direction > 0
    variables = model.trainable_variables
    gradients = tape.gradient(loss.total, variables)
    optimizer.apply_gradients(zip(gradients, variables, strict=True))
    assert (log_prob() - before) * direction > 0


class RecordActions(gym.Wrapper):
    """Keeps every action the env receives."""

    def __init__(self, env, received):
        super().__init__(env)
        self.received = received

    def step(self, action):
        self.received.append(np.array(action))
        return super().step(action)


def test_the_env_gets_clipped_actions_and_the_rollout_keeps_the_unclipped_samples():
    received = []
    envs = gym.vector.SyncVectorEnv(
        [lambda: RecordActions(gym.make("Pendulum-v1"), received)],
        autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP,
    )
    # sigma = e^2: most samples fall outside Pendulum's bounds of -2 and 2.
    model = ActorCriticModel(1, (8,), continuous=True, log_std_init=2.0).build_for(3)
    collector = RolloutCollector(envs, model, tf.random.Generator.from_seed(0), t_max=50)
    collector.reset(seed=0)
    rollout, _ = collector.collect()
    envs.close()
    sampled = rollout.actions[:, 0, :]
    assert rollout.actions.shape == (50, 1, 1) and rollout.actions.dtype == np.float32
    assert np.abs(sampled).max() > 2.0
    np.testing.assert_allclose(np.array(received), np.clip(sampled, -2.0, 2.0))
    # The loss takes the log-probability of what was sampled, not of the clipped action.
    params, _ = model(rollout.states[:-1, 0])
    expected = model.distribution.log_prob(params, tf.constant(sampled))
    outside = np.abs(sampled[:, 0]) > 2.0
    clipped = model.distribution.log_prob(params, tf.constant(np.clip(sampled, -2.0, 2.0)))
    assert not np.allclose(expected.numpy()[outside], clipped.numpy()[outside])
    loss = compute_loss(model, rollout, gamma=0.99, value_coef=0.0, entropy_coef=0.0)
    advantages = loss.advantages[:, 0]
    np.testing.assert_allclose(
        float(loss.policy_loss), float(-tf.reduce_mean(expected * advantages)), rtol=1e-5
    )


def test_observation_statistics_follow_the_states_seen():
    model = build_model(Dims(3, 1, True), (8,), normalize_observations=True)
    rng = np.random.default_rng(0)
    first = rng.normal(5.0, 3.0, (400, 3)).astype(np.float32)
    second = rng.normal(-1.0, 0.5, (100, 3)).astype(np.float32)
    model.update_statistics(first)
    model.update_statistics(second)
    both = np.concatenate([first, second])
    normalizer = model.normalizer
    np.testing.assert_allclose(normalizer.mean.numpy(), both.mean(0), rtol=1e-4)
    np.testing.assert_allclose(normalizer.variance.numpy(), both.var(0), rtol=1e-3)
    assert float(normalizer.count.numpy()) == pytest.approx(500, abs=1e-3)
    normalized = normalizer(tf.constant(both)).numpy()
    np.testing.assert_allclose(normalized.mean(0), 0.0, atol=1e-3)
    np.testing.assert_allclose(normalized.std(0), 1.0, atol=1e-3)
    # The optimizer never moves them: they are not trainable.
    assert not any(w is normalizer.mean for w in model.trainable_variables)


def test_reward_scaling_divides_by_the_std_of_the_discounted_return():
    scaler = RewardScaler(num_envs=2, gamma=0.9)
    rng = np.random.default_rng(1)
    rewards = rng.normal(-3.0, 5.0, (16, 2)).astype(np.float32)
    ends = np.zeros((16, 2), np.float32)
    ends[5, 0] = 1.0
    scaled = scaler(tf.constant(rewards), tf.constant(ends), tf.ones((16, 2))).numpy()
    running, returns = np.zeros(2), []
    for t in range(16):  # VecNormalize's loop, by hand
        running = running * 0.9 + rewards[t]
        returns.append(running.copy())
        running = running * (1.0 - ends[t])
    variance = np.var(returns)
    assert float(scaler.variance.numpy()) == pytest.approx(variance, rel=1e-3)
    np.testing.assert_allclose(scaled, np.clip(rewards / np.sqrt(variance), -10, 10), rtol=1e-3)
    np.testing.assert_allclose(scaler.returns.numpy(), running, rtol=1e-5)


def pendulum(**changes):
    settings = dict(max_steps=3200, eval_interval=0, num_envs=4, update_freq=8)
    return with_preset(A2CConfig, "Pendulum-v1", **{**settings, **changes})


def test_the_pendulum_preset_applies_and_given_settings_override_it():
    preset = PRESETS["a2c"]["Pendulum-v1"]
    config = pendulum(gamma=0.95)
    assert config.gamma == 0.95  # given
    assert config.gae_lambda == preset.settings["gae_lambda"]
    assert config.normalize_observations and config.normalize_rewards
    cartpole, preset = apply_preset(A2CConfig(), lambda name: False)
    assert preset.settings == {} and cartpole == A2CConfig()  # the defaults were tuned there
    unset = A2CConfig(env="NoPreset-v0")  # no entry: the config as it was
    assert apply_preset(unset, lambda name: False) == (unset, None)
    with pytest.raises(ConfigError, match="--lr_schedule=linear: it decays over --max_steps"):
        A2CConfig(lr_schedule="linear", max_steps=0, max_eps=10)


def test_statistics_are_checkpointed_saved_and_used_by_play(tmp_path):
    config = pendulum(max_steps=6400)
    agent = A2CAgent(config)
    trainer = Trainer(agent, tmp_path)
    trainer.train()
    trained = agent.model
    mean = trained.normalizer.mean.numpy()
    assert float(trained.normalizer.count.numpy()) == pytest.approx(6400, abs=1)
    assert float(agent.reward_scaler.count.numpy()) > 1000
    loaded = build_model(Dims(3, 1, True), **config.model_options())
    load_weights(loaded, trainer.save_path, "Pendulum-v1")
    np.testing.assert_array_equal(loaded.normalizer.mean.numpy(), mean)
    states = np.random.default_rng(2).normal(size=(20, 3)).astype(np.float32)
    np.testing.assert_array_equal(greedy_policy(loaded)(states), greedy_policy(trained)(states))
    played = play(loaded, "Pendulum-v1", episodes=1, seed=3, out=lambda line: None)
    again = play(trained, "Pendulum-v1", episodes=1, seed=3, out=lambda line: None)
    assert played.returns[0] == again.returns[0]
    blank = build_model(Dims(3, 1, True), **config.model_options())
    blank.set_weights(loaded.get_weights())
    blank.normalizer.mean.assign(np.zeros(3))  # the same weights, other statistics
    assert not np.array_equal(greedy_policy(blank)(states), greedy_policy(loaded)(states))
    # A resumed run restores the statistics of the checkpoint.
    resumed_agent = A2CAgent(dataclasses.replace(config, max_steps=9600))
    Trainer(resumed_agent, tmp_path, resume=True)
    np.testing.assert_array_equal(resumed_agent.model.normalizer.mean.numpy(), mean)
    assert float(resumed_agent.reward_scaler.count.numpy()) == pytest.approx(
        float(agent.reward_scaler.count.numpy())
    )


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["threads", "ray"])
def test_a3c_trains_a_gaussian_policy_on_both_backends(tmp_path, backend):
    config = with_preset(
        A3CConfig,
        "Pendulum-v1",
        workers=2,
        envs_per_worker=2,
        max_steps=4000,
        max_eps=0,
        eval_interval=0,
        backend=backend,
        normalize_observations=True,
        normalize_rewards=True,
    )
    agent = A3C.from_config(config, tmp_path).learn()
    assert len(agent.episodes) >= 15  # 200-step episodes
    statistics = agent.model.normalizer.count.numpy()
    assert float(statistics) >= 4000  # every worker's states reached the global statistics
    assert agent.model_file.is_file()


def a2c(*args, **kwargs):
    return run(*args, program="a2c_cartpole.py", **kwargs)


@pytest.mark.slow
def test_pendulum_trains_plays_evaluates_records_exports_and_resumes(tmp_path):
    out = f"--save_dir={tmp_path}/run"
    trained = a2c("--train", "--env=Pendulum-v1", "--max_steps=4000", out, check=True)
    assert "settings for Pendulum-v1 from config/presets.py: --gamma=0.9" in trained.stderr
    assert "--max_steps=" not in trained.stderr.split("presets.py:")[1].splitlines()[0]
    played = a2c("--env=Pendulum-v1", out, f"--record={tmp_path}/p.gif", check=True)
    steps = re.findall(r"step \d+ \| action \[(-?[\d.e-]+)\]", played.stdout)
    assert len(steps) == 200 and all(-2.0 <= float(a) <= 2.0 for a in steps)
    assert (tmp_path / "p.gif").stat().st_size > 0
    evaluated = a2c("--env=Pendulum-v1", "--evaluate", "--eval_episodes=5", out, check=True)
    assert "greedy return over 5 episodes" in evaluated.stdout
    exported = a2c("--env=Pendulum-v1", f"--export={tmp_path}/p.keras", out, check=True)
    assert "exported" in exported.stdout
    model = keras.saving.load_model(tmp_path / "p.keras")
    observation = np.array([[0.3, -0.9, 4.0]], np.float32)  # raw: the model normalises it
    weights_model = build_model(
        Dims(3, 1, True), (128,), normalize_observations=True, use_sde=True, log_std_init=-2.0
    )
    load_weights(weights_model, tmp_path / "run/model_Pendulum-v1.weights.h5", "Pendulum-v1")
    expected = weights_model(observation)[0]
    np.testing.assert_allclose(model(observation)[0], expected, rtol=1e-5, atol=1e-7)
    resumed = a2c("--train", "--env=Pendulum-v1", "--resume", "--max_steps=8000", out, check=True)
    assert "trained" in resumed.stdout and "8000 env steps" in resumed.stdout
    changed = a2c("--train", "--env=Pendulum-v1", "--resume", "--nonormalize_observations", out)
    assert "--normalize_observations=false: the run in" in error_line(changed)


@pytest.mark.slow
def test_a3c_plays_a_gaussian_policy_from_the_command_line(tmp_path):
    out = f"--save_dir={tmp_path}/run"
    run("--train", "--env=Pendulum-v1", "--workers=2", "--max_steps=2000", out, check=True)
    played = run("--env=Pendulum-v1", out, check=True)
    assert "episode 1 finished" in played.stdout


def test_random_baseline_runs_on_box_actions(tmp_path):
    result = a2c("--algorithm=random", "--env=Pendulum-v1", "--max_eps=5", check=True)
    average = float(re.search(r"average return (-?[\d.]+)", result.stdout).group(1))
    assert -1800 < average < -600


@pytest.mark.slow
def test_pendulum_learns_well_past_the_random_policy(tmp_path):
    config = pendulum(max_steps=250_000, num_envs=8, seed=0, lr_schedule="constant")
    trainer = Trainer(A2CAgent(config), tmp_path)
    trainer.train()
    result = evaluate(trainer.algorithm.model, "Pendulum-v1", episodes=50, seed=10_000)
    assert result.mean > RANDOM_PENDULUM + 500, result.summary()


def test_an_action_space_without_bounds_trains_unclipped_and_says_so(tmp_path):
    warn_unbounded.cache_clear()  # as in a fresh process: said once a run
    result = a2c(
        "--train",
        "--env=tests.faulty_envs:UnboundedActions-v0",
        "--max_steps=640",
        "--eval_interval=0",
        f"--save_dir={tmp_path}",
        check=True,
    )
    assert "has no finite bound in dimension(s) 0: actions are sent there unclipped" in (
        result.stderr
    )
    assert result.stderr.count("unclipped") == 1


@pytest.mark.slow
def test_an_env_whose_simulator_is_missing_says_what_to_install(tmp_path):
    fake = tmp_path / "site" / "Box2D"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named Box2D')\n")
    result = a2c(
        "--train",
        "--env=LunarLanderContinuous-v3",
        f"--save_dir={tmp_path}/out",
        env={"PYTHONPATH": str(tmp_path / "site")},
    )
    assert result.returncode == 2
    assert "LunarLanderContinuous-v3 cannot start: Box2D is not installed" in error_line(result)
    assert 'pip install "gymnasium[box2d]"' in error_line(result)
    assert not (tmp_path / "out").exists()


def test_a_greedy_evaluation_that_reaches_the_target_stops_the_run(tmp_path):
    config = pendulum(max_steps=64_000, eval_interval=3200, eval_episodes=5)
    config = dataclasses.replace(config, stop_at_eval_return=-1e9)  # the first one reaches it
    trainer = Trainer(A2CAgent(config), tmp_path)
    trainer.train()
    assert [e.env_steps for e in trainer.evaluations] == [3200]
    assert trainer.episode_log.env_steps == 3200
    with pytest.raises(ConfigError, match="--stop_at_eval_return=-200: it stops at a greedy"):
        dataclasses.replace(config, stop_at_eval_return=-200.0, eval_interval=0)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="must be a finite number"):
            dataclasses.replace(config, stop_at_eval_return=bad)
