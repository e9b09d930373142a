"""Generalised state-dependent exploration (gSDE, Raffin et al. 2021): its log-probability and
entropy, noise held between resamples, what its gradients reach, files that keep it, both
algorithms and backends, and MountainCarContinuous-v0 leaving the "stand still" optimum."""

import csv
import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from a3c_keras import A2C, A3C
from agents.losses import compute_loss
from agents.memory import Rollout, RolloutCollector
from config.hyperparameters import A3CConfig
from config.presets import with_preset
from models import ActorCriticModel
from models.distributions import StateDependentGaussian
from tests.programs import error_line, run
from utils.envs import make_vector_env

QUIET = {"verbose": 0}


def sde_model(action_dim=2, features=3, obs_dim=4, log_std_init=-0.5):
    model = ActorCriticModel(
        action_dim,
        (5, features),
        continuous=True,
        use_sde=True,
        log_std_init=log_std_init,
        activation="tanh",
    )
    return model.build_for(obs_dim)


def test_log_prob_and_entropy_match_the_hand_computed_values():
    distribution = StateDependentGaussian(action_dim=2, latent_dim=3)
    mean = [0.5, -1.0]
    scales = np.array([[0.1, 0.2], [0.3, -0.4], [0.0, 0.5]], np.float32)  # q_ji: (3, 2)
    params = np.concatenate([mean, scales.reshape(-1)]).astype(np.float32)[None]
    action = np.array([[0.9, -0.2]], np.float32)
    expected_log_prob, expected_entropy = 0.0, 0.0
    for i in range(2):
        variance = sum(scales[j, i] ** 2 for j in range(3)) + 1e-6
        expected_log_prob += -((action[0, i] - mean[i]) ** 2) / (2 * variance) - 0.5 * math.log(
            2 * math.pi * variance
        )
        expected_entropy += 0.5 * math.log(2 * math.pi * math.e * variance)
    log_prob = distribution.log_prob(tf.constant(params), tf.constant(action))
    entropy = distribution.entropy(tf.constant(params))
    assert log_prob.shape == (1,) and entropy.shape == (1,)
    assert float(log_prob[0]) == pytest.approx(expected_log_prob, rel=1e-5)
    assert float(entropy[0]) == pytest.approx(expected_entropy, rel=1e-5)
    np.testing.assert_array_equal(distribution.greedy(params), [mean])


def test_the_head_gives_the_mean_and_the_scales_of_the_features():
    model = sde_model()
    states = tf.random.stateless_normal((6, 4), seed=(1, 2))
    params, _ = model(states)
    assert params.shape == (6, 2 * (1 + 3)) == (6, model.distribution.params_size)
    features = model.trunk[1](model.trunk[0](states))  # z(s), the head's input
    sigma = np.exp(model.policy_head.log_std.numpy())
    assert sigma.shape == (3, 2)  # one sigma per feature and action dimension
    np.testing.assert_allclose(model.policy_head.log_std.numpy(), -0.5)
    expected = (features.numpy()[:, :, None] * sigma[None]).reshape(6, -1)
    np.testing.assert_allclose(params[:, 2:], expected, rtol=1e-5)


def test_samples_are_the_mean_plus_the_features_times_the_noise_weights():
    distribution = StateDependentGaussian(action_dim=2, latent_dim=3)
    rng = np.random.default_rng(0)
    params = rng.normal(size=(4, 8)).astype(np.float32)
    noise = distribution.noise(np.random.default_rng(1), (4,))
    assert noise.shape == (4, 3, 2)
    actions = distribution.sample(params, noise)
    scales = params[:, 2:].reshape(4, 3, 2)
    expected = params[:, :2] + np.einsum("nji,nji->ni", scales, noise)
    np.testing.assert_allclose(actions, expected, rtol=1e-6)
    # Over many draws of the weights, the action has the distribution's spread.
    many = distribution.noise(np.random.default_rng(2), (20000,))
    draws = distribution.sample(np.repeat(params[:1], 20000, axis=0), many)
    _, log_std = distribution.split(tf.constant(params[:1]))
    np.testing.assert_allclose(draws.std(axis=0), np.exp(log_std.numpy()[0]), rtol=0.03)


@pytest.mark.parametrize("sample_freq, draws", [(4, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]), (0, [0] * 10)])
def test_the_noise_is_held_between_resamples_and_changes_at_each(sample_freq, draws):
    envs = make_vector_env("Pendulum-v1", 3)
    try:
        model = sde_model(action_dim=1, obs_dim=3)
        collector = RolloutCollector(
            envs, model, tf.random.Generator.from_seed(0), 10, sde_sample_freq=sample_freq
        )
        seen = []
        sample = collector.distribution.sample
        collector.distribution.sample = lambda params, noise: (
            seen.append(noise) or sample(params, noise)
        )
        collector.reset(seed=0)
        collector.collect()
        collector.collect()
    finally:
        envs.close()
    assert len(seen) == 20 and seen[0].shape == (3, 3, 1)  # (envs, features, action_dim)
    for t in range(1, 10):  # the same draw within a block, a new one at each resample
        same = np.array_equal(seen[t], seen[t - 1])
        assert same == (draws[t] == draws[t - 1]), t
    assert not np.array_equal(seen[10], seen[9])  # each rollout starts with a new draw
    assert not np.array_equal(seen[0][0], seen[0][1])  # each env has its own


def a_rollout(model, steps=6, envs=2, seed=0):
    rng = np.random.default_rng(seed)
    obs_dim = int(model.trunk[0].kernel.shape[0])
    return Rollout(
        states=rng.normal(size=(steps + 1, envs, obs_dim)).astype(np.float32),
        actions=rng.normal(size=(steps, envs, model.num_actions)).astype(np.float32),
        rewards=rng.normal(size=(steps, envs)).astype(np.float32),
        terminated=np.zeros((steps, envs), np.float32),
        truncated=np.zeros((steps, envs), np.float32),
        valid=np.ones((steps, envs), np.float32),
    )


def test_the_loss_trains_the_noise_scale_and_not_the_features_through_it():
    model = sde_model()
    rollout = a_rollout(model)
    with tf.GradientTape(persistent=True) as tape:
        info = compute_loss(model, rollout, gamma=0.99, entropy_coef=0.01)
        params, _ = model(tf.constant(rollout.states[0]))
        entropy = tf.reduce_mean(model.distribution.entropy(params))
    log_std = model.policy_head.log_std
    gradient = tape.gradient(info.total, log_std)
    assert gradient is not None and np.abs(gradient.numpy()).min() > 0  # every sigma_ji learns
    # The noise's scale (the entropy depends on nothing else) reaches sigma, not the features.
    assert np.abs(tape.gradient(entropy, log_std).numpy()).min() > 0
    for weight in [*model.trunk[0].weights, *model.trunk[1].weights]:
        through_noise = tape.gradient(entropy, weight)
        assert through_noise is None or not np.any(through_noise.numpy()), weight.path
    # The loss still trains the trunk, through the mean and the value.
    assert np.abs(tape.gradient(info.total, model.trunk[0].kernel).numpy()).max() > 0


def test_use_sde_needs_box_actions_and_the_sample_freq_needs_use_sde(tmp_path):
    with pytest.raises(ValueError, match="needs continuous actions"):
        ActorCriticModel(2, (8,), use_sde=True)
    discrete = run("--train", "--use-sde", "--max-eps=2", f"--save_dir={tmp_path}")
    assert discrete.returncode == 2
    assert "--use_sde: CartPole-v1's actions are discrete" in error_line(discrete)
    alone = run("--train", "--env=Pendulum-v1", "--sde-sample-freq=4", f"--save_dir={tmp_path}")
    assert alone.returncode == 2 and "needs --use_sde" in error_line(alone)
    assert not any(tmp_path.iterdir())  # refused before anything was written


def act_all_ways(agent, observations):
    return agent.predict(observations, deterministic=True)[0]


@pytest.mark.slow
def test_saved_exported_and_resumed_models_act_the_same(tmp_path):
    agent = A2C(
        "MountainCarContinuous-v0",
        save_dir=tmp_path / "run",
        max_steps=2000,
        eval_interval=0,
        **QUIET,
    )
    assert agent.config.use_sde and agent.config.sde_sample_freq == 16  # the preset
    agent.learn()
    observations = np.random.default_rng(0).uniform([-1.2, -0.07], [0.6, 0.07], (16, 2))
    observations = observations.astype(np.float32)
    greedy = act_all_ways(agent, observations)
    sampled = agent.predict(observations, deterministic=False)[0]
    assert not np.allclose(sampled, greedy)  # the noise acts, the greedy action is the mean
    agent.save(tmp_path / "m.weights.h5")
    agent.save(tmp_path / "m.keras")
    for path in ("m.weights.h5", "m.keras"):
        loaded = A2C.load(tmp_path / path, **QUIET)
        np.testing.assert_allclose(act_all_ways(loaded, observations), greedy, rtol=1e-5, atol=1e-6)
    exported = keras.saving.load_model(tmp_path / "m.keras")
    params = agent.model(tf.constant(observations))[0].numpy()
    np.testing.assert_allclose(exported(observations)[0], params, rtol=1e-5, atol=1e-6)
    resumed = A2C("MountainCarContinuous-v0", save_dir=tmp_path / "run", resume=True, **QUIET)
    resumed.learn(2000)  # restores the checkpoint; its 2000 steps are done already
    assert resumed.model.use_sde and resumed.trainer.episode_log.env_steps == 2000
    log_std = agent.model.policy_head.log_std.numpy()
    assert not np.array_equal(log_std, np.zeros_like(log_std))  # trained off its start
    np.testing.assert_array_equal(resumed.model.policy_head.log_std.numpy(), log_std)
    np.testing.assert_allclose(act_all_ways(resumed, observations), greedy, rtol=1e-5, atol=1e-6)
    resumed.learn(4000)
    assert resumed.trainer.episode_log.env_steps >= 4000


def test_a_weights_file_without_gsde_is_refused_by_a_gsde_model(tmp_path):
    plain = A2C(
        "Pendulum-v1", save_dir=tmp_path, use_sde=False, max_steps=800, eval_interval=0, **QUIET
    )
    plain.save(tmp_path / "plain.weights.h5")
    played = run(
        "--env=Pendulum-v1", "--use-sde", f"--model={tmp_path}/plain.weights.h5", "--evaluate"
    )
    assert played.returncode != 0
    line = error_line(played)
    assert "another architecture" in line and "state-dependent exploration: False" in line


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["threads", "ray"])
def test_a3c_explores_with_gsde_on_both_backends(tmp_path, backend):
    config = with_preset(
        A3CConfig,
        "Pendulum-v1",
        workers=2,
        envs_per_worker=2,
        max_steps=3200,
        eval_interval=0,
        backend=backend,
        use_sde=True,
        sde_sample_freq=4,
        log_std_init=-2.0,
    )
    agent = A3C.from_config(config, tmp_path)
    before = agent.model.policy_head.log_std.numpy().copy()
    agent.learn()
    assert len(agent.episodes) >= 14  # 200-step episodes
    after = agent.model.policy_head.log_std.numpy()
    assert after.shape == (128, 1) and not np.array_equal(after, before)  # sigma was trained
    loaded = A3C.load(agent.model_file, **QUIET)
    assert loaded.model.use_sde


def episodes_at_the_flag(tmp_path, *flags) -> tuple[int, int]:
    """Trains A2C on MountainCarContinuous-v0 for 20k steps with ``flags``; returns the
    training episodes that reached the flag, and all of them."""
    run(
        "--train",
        "--env=MountainCarContinuous-v0",
        "--max-steps=20000",
        "--eval-interval=0",
        f"--save_dir={tmp_path}",
        *flags,
        program="a2c_cartpole.py",
        check=True,
    )
    with open(tmp_path / "MountainCarContinuous-v0_episodes.csv") as handle:
        episodes = list(csv.DictReader(handle))
    # An episode at the flag ends before the 999-step limit with its +100.
    reached = [e for e in episodes if float(e["episode_return"]) > 50 and int(e["length"]) < 999]
    return len(reached), len(episodes)


@pytest.mark.slow
def test_mountaincar_continuous_leaves_standing_still_with_gsde(tmp_path):
    # A shared ReLU trunk, with which independent noise learns to stand still (the preset's
    # tanh trunks find the flag either way): gSDE's noise, held for 16 steps, rocks the car
    # to the flag in most episodes of the first 20k steps.
    trunk = ["--activation=relu", "--noseparate-value-trunk"]
    with_sde, episodes = episodes_at_the_flag(tmp_path / "sde", *trunk)
    without, _ = episodes_at_the_flag(tmp_path / "plain", *trunk, "--nouse-sde")
    assert with_sde >= episodes // 2 and with_sde >= 10, (with_sde, episodes)
    assert without <= with_sde // 5, (without, with_sde)


def a2c(*args, **kwargs):
    return run(*args, program="a2c_cartpole.py", **kwargs)


@pytest.mark.slow
def test_the_command_line_evaluates_exports_and_resumes_a_gsde_model(tmp_path):
    out = f"--save_dir={tmp_path}/run"
    trained = a2c("--train", "--env=Pendulum-v1", "--use-sde", "--max_steps=1600", out)
    assert trained.returncode == 0, trained.stderr[-2000:]
    agent = A2C.load(tmp_path / "run/model_Pendulum-v1.weights.h5", **QUIET)
    agent.save(tmp_path / "p.keras")
    # The width of a gSDE export's params depends on use_sde and the features: the file's
    # record gives them, so no flag has to repeat them.
    evaluated = a2c("--env=Pendulum-v1", "--evaluate", f"--model={tmp_path}/p.keras", out)
    assert "greedy return over 100 episodes" in evaluated.stdout, evaluated.stderr[-2000:]
    again = a2c("--env=Pendulum-v1", f"--model={tmp_path}/p.keras", f"--export={tmp_path}/q.keras")
    assert again.returncode == 0, again.stderr[-2000:]
    played = a2c("--env=Pendulum-v1", f"--model={tmp_path}/q.keras", "--episodes=1", out)
    assert "episode 1 finished" in played.stdout, played.stderr[-2000:]
    # A resumed gSDE run may change how often its noise is drawn.
    resumed = a2c("--train", "--resume", "--env=Pendulum-v1", "--sde-sample-freq=4", out)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "changed: --sde_sample_freq=4 (was 0)" in resumed.stderr


def test_a_weights_file_from_before_gsde_loads_where_the_preset_uses_it(tmp_path):
    import h5py

    from utils.checkpoint import METADATA_KEY

    plain = A2C(
        "MountainCarContinuous-v0", save_dir=tmp_path, use_sde=False, max_steps=800, **QUIET
    )
    path = plain.save(tmp_path / "old.weights.h5")
    with h5py.File(path, "a") as handle:  # as written before use_sde was recorded
        record = json.loads(handle.attrs[METADATA_KEY])
        del record["use_sde"]
        handle.attrs[METADATA_KEY] = json.dumps(record)
    evaluated = a2c(
        "--env=MountainCarContinuous-v0", "--evaluate", f"--model={path}", "--eval_episodes=1"
    )
    assert "greedy return over 1 episode" in evaluated.stdout, evaluated.stderr[-2000:]


def test_a2c_collects_with_the_configured_sample_freq(tmp_path):
    agent = A2C("Pendulum-v1", save_dir=tmp_path, use_sde=True, sde_sample_freq=3, **QUIET)
    agent.learn(320)
    assert agent.algorithm.collector.noise_every == 3
    longer = A2C("Pendulum-v1", save_dir=tmp_path / "b", use_sde=True, sde_sample_freq=50, **QUIET)
    longer.learn(320)
    assert longer.algorithm.collector.noise_every == longer.config.update_freq  # one a rollout
