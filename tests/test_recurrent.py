"""A3C-LSTM: the recurrent state while acting, its replay in the update, resets per env, saving,
exporting, and CartPoleNoVel-v1 through the command line."""

import re

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

from agents.losses import compute_loss, replay
from agents.memory import RolloutCollector
from agents.random_agent import RandomAgent
from config.hyperparameters import A2CConfig
from models import ActorCriticModel, build_model
from models.export import LoadedPolicy, plain_model
from tests.programs import error_line, run
from training.episode_log import EpisodeLog
from training.evaluation import greedy_policy, play
from utils.checkpoint import export_model, load_model_file, load_weights, save_weights
from utils.envs import NO_VELOCITY_ENV, env_dims, make_env, make_vector_env
from utils.errors import ConfigError


def record_sampled_params(model, record):
    """Makes ``model``'s distribution hand every sampled step's params (NumPy, as acting
    computed them) back to the test."""
    distribution = model.distribution
    sample = distribution.sample

    def recording_sample(params, noise):
        record.append(np.array(params))
        return sample(params, noise)

    distribution.sample = recording_sample


def recurrent_model(obs_dim=2, units=8):
    return ActorCriticModel(2, (16,), recurrent_units=units).build_for(obs_dim)


@pytest.mark.parametrize("env_id", [NO_VELOCITY_ENV, "Pendulum-v1"])
def test_replay_from_the_stored_state_reproduces_the_acting_log_probs(env_id):
    num_envs, t_max = 3, 40
    # Pendulum's episodes cut to 15 steps, so its rollouts cross episode ends too.
    limit = {"max_episode_steps": 15} if env_id == "Pendulum-v1" else {}
    envs = gym.make_vec(
        env_id,
        num_envs,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP},
        **limit,
    )
    dims = env_dims(envs.single_observation_space, envs.single_action_space)
    model = build_model(dims, (16,), recurrent_units=8)
    acted = []
    record_sampled_params(model, acted)
    collector = RolloutCollector(
        envs, model, tf.random.Generator.from_seed(0), t_max, jit_compile=False
    )
    collector.reset(seed=0)
    last_valid = np.zeros(num_envs)  # the first rollout starts from zeros
    carried_any = False
    for _ in range(3):
        acted.clear()
        rollout, finished = collector.collect()
        # The stored state is zero for envs whose last step was a reset step, else carried.
        carried = np.abs(rollout.recurrent_state[0]).sum(axis=1) > 0
        np.testing.assert_array_equal(carried, last_valid == 1)
        carried_any |= carried.any()
        last_valid = rollout.valid[-1]
        assert finished, "the rollout must cross episode ends"
        assert (rollout.valid == 0).any()
        params, _ = replay(model, rollout.states, rollout.valid, rollout.recurrent_state)
        distribution = model.distribution
        acting = distribution.log_prob(np.stack(acted), rollout.actions).numpy()
        replayed = distribution.log_prob(params[:-1], rollout.actions).numpy()
        valid = rollout.valid == 1
        np.testing.assert_allclose(replayed[valid], acting[valid], atol=1e-5)
        # Without the resets the replay would drift from acting after an episode's end.
        ones = np.ones_like(rollout.valid)
        unreset, _ = replay(model, rollout.states, ones, rollout.recurrent_state)
        unreset = distribution.log_prob(unreset[:-1], rollout.actions).numpy()
        assert np.abs(unreset[valid] - acting[valid]).max() > 1e-4
    assert carried_any, "some rollout must start from a carried state"
    envs.close()


def test_a_reset_in_one_env_leaves_the_others_state_alone():
    model = recurrent_model(units=6)
    steps, num_envs = 5, 3
    states = tf.random.normal((steps, num_envs, 2), seed=1)
    start = tuple(tf.random.normal((num_envs, 6), seed=s) for s in (2, 3))
    keep = np.ones((steps, num_envs), np.float32)
    keep[2, 1] = 0.0  # env 1's episode starts at step 2
    params, values = model.unroll(states, keep, start)
    carried, carried_values = model.unroll(states, np.ones_like(keep), start)
    for env in (0, 2):
        np.testing.assert_array_equal(params[:, env], carried[:, env])
        np.testing.assert_array_equal(values[:, env], carried_values[:, env])
    np.testing.assert_array_equal(params[:2, 1], carried[:2, 1])
    assert not np.allclose(params[2:, 1], carried[2:, 1])
    # From step 2 on, env 1 runs as from a zero state.
    fresh, _ = model.unroll(states[2:, 1:2], np.ones((3, 1), np.float32), model.initial_state(1))
    np.testing.assert_allclose(params[2:, 1], fresh[:, 0], atol=1e-6)


def test_the_loss_of_a_recurrent_model_reaches_the_lstm_weights():
    envs = make_vector_env(NO_VELOCITY_ENV, 2, "sync")
    model = recurrent_model()
    collector = RolloutCollector(envs, model, tf.random.Generator.from_seed(1), 8)
    collector.reset(seed=1)
    rollout, _ = collector.collect()
    with tf.GradientTape() as tape:
        loss = compute_loss(model, rollout, gamma=0.99)
    gradients = tape.gradient(loss.total, model.core.trainable_weights)
    assert all(g is not None and float(tf.norm(g)) > 0 for g in gradients)
    envs.close()


def test_a_saved_and_an_exported_recurrent_model_play_the_same_actions(tmp_path):
    model = recurrent_model()
    rng = np.random.default_rng(2)
    for weight in model.trainable_variables:  # weights of the seed's, not Keras's random ones
        weight.assign(rng.normal(0, 0.5, weight.shape).astype(np.float32))
    states = rng.normal(0, 3.0, (30, 4, 2)).astype(np.float32)

    def actions_of(policy):
        policy = greedy_policy(policy)
        policy.reset(4)
        return np.stack([policy(s) for s in states])

    expected = actions_of(model)
    assert len(np.unique(expected)) == 2  # both actions occur: the comparison means something
    path = save_weights(model, tmp_path / "m.weights.h5", NO_VELOCITY_ENV)
    loaded = recurrent_model()
    load_weights(loaded, path, NO_VELOCITY_ENV)
    np.testing.assert_array_equal(actions_of(loaded), expected)
    exported = export_model(plain_model(model), tmp_path / "m.keras")
    plain = LoadedPolicy(load_model_file(exported, (2,), 2), model.distribution)
    assert plain.recurrent_units == 8
    np.testing.assert_array_equal(actions_of(plain), expected)
    params, value, state = plain.step(states[0], plain.initial_state(4))
    own_params, own_value, own_state = model.step(states[0], model.initial_state(4))
    np.testing.assert_allclose(params, own_params, atol=1e-5)
    np.testing.assert_allclose(state[1], own_state[1], atol=1e-5)
    # Play resets the state at each episode: two episodes from the same seed play alike.
    lines = []
    result = play(plain, NO_VELOCITY_ENV, episodes=2, seed=5, out=lines.append)
    again = play(model, NO_VELOCITY_ENV, episodes=2, seed=5, out=lambda line: None)
    np.testing.assert_array_equal(result.returns, again.returns)


def test_cartpole_no_velocity_observes_position_and_angle_only():
    env = make_env(NO_VELOCITY_ENV)
    observation, _ = env.reset(seed=3)
    assert observation.shape == (2,) and observation.dtype == np.float32
    full = make_env("CartPole-v1")
    full_observation, _ = full.reset(seed=3)
    np.testing.assert_array_equal(observation, full_observation[[0, 2]])
    assert env.spec.max_episode_steps == 500 and env.spec.reward_threshold == 475
    envs = make_vector_env(NO_VELOCITY_ENV, 4)  # CartPole's native vector env, 2 numbers each
    observations, _ = envs.reset(seed=3)
    assert observations.shape == (4, 2)
    envs.close()


def test_recurrent_and_a_separate_value_trunk_are_refused_together():
    with pytest.raises(ConfigError, match="--recurrent and --separate_value_trunk"):
        A2CConfig(recurrent=True, separate_value_trunk=True)


@pytest.mark.slow
def test_recurrent_training_resumes_exports_and_plays_from_the_command_line(tmp_path):
    common = ["--env=CartPoleNoVel-v1", f"--save-dir={tmp_path}"]
    first = run(
        "--train",
        "--recurrent",
        "--lstm-units=16",
        "--max-steps=1500",
        "--eval-interval=0",
        "--eval_episodes=3",
        *common,
        program="a2c_cartpole.py",
        check=True,
    )
    assert "greedy return over 3 episodes" in first.stdout
    resumed = run(
        "--train",
        "--resume",
        "--max-steps=3000",
        "--eval_episodes=3",
        *common,
        program="a2c_cartpole.py",
        check=True,
    )
    assert re.search(r"trained \d+ episodes, 30\d\d env steps", resumed.stdout)
    refused = run(*common, "--norecurrent", program="a2c_cartpole.py")  # the preset has it
    assert refused.returncode == 2
    line = error_line(refused)
    assert "(LSTM core of 16 units) than this program builds (no LSTM core)" in line
    assert line.endswith("pass --recurrent --lstm_units=16")
    exported = tmp_path / "novel.keras"
    run(
        "--recurrent",
        "--lstm-units=16",
        f"--export={exported}",
        *common,
        program="a2c_cartpole.py",
        check=True,
    )
    played = run(f"--model={exported}", "--episodes=2", *common, program="a3c_cartpole.py")
    assert played.returncode == 0, played.stderr[-2000:]
    assert "episode 2 finished" in played.stdout
    # The random baseline.
    episodes = RandomAgent(NO_VELOCITY_ENV, seed=0).run(EpisodeLog(max_episodes=5))
    assert len(episodes) == 5 and all(e.episode_return > 0 for e in episodes)
