"""Pixels: Atari preprocessing, the convolutional trunk, uint8 rollouts, and a few hundred steps
of training on Pong through the command line (train, save, play, record, export)."""

import dataclasses
import importlib.util
import re

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

from agents.losses import compute_loss
from agents.memory import RolloutCollector
from config.hyperparameters import A3CConfig
from config.presets import with_preset
from models import build_model
from tests.programs import error_line, run
from utils.envs import check_spaces, env_dims, make_env, make_vector_env
from utils.errors import EnvError

pytestmark = pytest.mark.slow  # Pong from pixels

pytest.importorskip("ale_py")  # requirements-test.txt installs it: CI runs these
PONG = "ALE/Pong-v5"


def test_the_preprocessing_gives_84x84_grey_frames_stacked_four_as_bytes():
    env = make_env(PONG)
    observation, _ = env.reset(seed=0)
    assert observation.shape == (4, 84, 84) and observation.dtype == np.uint8
    assert env.action_space == gym.spaces.Discrete(6)
    env.close()
    envs = make_vector_env(PONG, 3)
    observations, _ = envs.reset(seed=0)
    assert observations.shape == (3, 4, 84, 84) and observations.dtype == np.uint8
    assert envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    observations, rewards, *_ = envs.step(np.zeros(3, np.int64))
    assert observations.dtype == np.uint8 and rewards.shape == (3,)
    envs.close()
    dims = env_dims(env.observation_space, env.action_space)
    assert dims.image_shape == (4, 84, 84) and dims.obs_shape == (4, 84, 84)


def test_the_convolutional_trunk_takes_bytes_and_gives_the_heads_outputs():
    dims = env_dims(gym.spaces.Box(0, 255, (4, 84, 84), np.uint8), gym.spaces.Discrete(6))
    model = build_model(dims, (256,))
    frames = np.random.default_rng(0).integers(0, 256, (5, 4, 84, 84), dtype=np.uint8)
    params, value = model(frames)
    assert params.shape == (5, 6) and value.shape == (5,) and params.dtype == tf.float32
    shapes = [tuple(v.shape) for v in model.trainable_variables]
    # The A3C paper's trunk: 16 filters 8x8 stride 4, 32 filters 4x4 stride 2, then 256 units.
    assert shapes[:5] == [(8, 8, 4, 16), (16,), (4, 4, 16, 32), (32,), (9 * 9 * 32, 256)]
    # Bytes are scaled by the model: the same frames as floats in [0, 255] give the same.
    same, _ = model(frames.astype(np.float32))
    np.testing.assert_allclose(params, same, atol=1e-5)


def test_rollouts_keep_frames_as_bytes_and_the_loss_reaches_the_convolutions():
    envs = make_vector_env(PONG, 2)
    dims = env_dims(envs.single_observation_space, envs.single_action_space)
    model = build_model(dims, (32,))
    collector = RolloutCollector(envs, model, tf.random.Generator.from_seed(0), t_max=5)
    collector.reset(seed=0)
    rollout, _ = collector.collect()
    envs.close()
    assert rollout.states.dtype == np.uint8 and rollout.states.shape == (6, 2, 4, 84, 84)
    assert rollout.states.nbytes == 6 * 2 * 4 * 84 * 84  # one byte a pixel, no float copy
    with tf.GradientTape() as tape:
        loss = compute_loss(model, rollout, gamma=0.99)
    kernel = model.encoder[2].kernel
    assert float(tf.norm(tape.gradient(loss.total, kernel))) > 0


def test_pong_trains_saves_plays_records_and_exports_from_the_command_line(tmp_path):
    common = [f"--env={PONG}", f"--save-dir={tmp_path}"]
    trained = run(
        "--train",
        "--num-envs=2",
        "--max-steps=300",
        "--eval-interval=0",
        "--eval-episodes=1",
        *common,
        program="a2c_cartpole.py",
        check=True,
    )
    # The Atari preset applies (TensorFlow 1's RMSprop, orthogonal weights, rewards clipped) and
    # the greedy game is a real score.
    for setting in ("--optimizer=rmsprop_tf1", "--weight_init=orthogonal", "--clip_rewards=true"):
        assert setting in trained.stderr
    assert "greedy return over 1 episode: -2" in trained.stdout
    assert "A.L.E" not in trained.stderr + trained.stdout  # ale-py's greeting is off
    assert "leaked" not in trained.stderr  # nor its report of an emulator alive at exit
    assert "oneDNN" not in trained.stderr  # nor TensorFlow's complaint about uint8 input
    gif = tmp_path / "pong.gif"
    played = run(*common, f"--record={gif}", program="a2c_cartpole.py", check=True)
    assert "episode 1 finished: return -2" in played.stdout and "oneDNN" not in played.stderr
    assert gif.stat().st_size > 10_000
    exported = tmp_path / "pong.keras"
    run(*common, f"--export={exported}", program="a2c_cartpole.py", check=True)
    again = run(f"--model={exported}", "--evaluate", "--eval-episodes=1", *common)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "greedy return over 1 episode: -2" in again.stdout
    resumed = run(
        "--train",
        "--resume",
        "--max-steps=600",
        "--eval-episodes=1",
        *common,
        program="a2c_cartpole.py",
        check=True,
    )
    assert re.search(r"trained \d+ episodes, 6\d\d env steps", resumed.stdout)


def test_a3c_trains_on_pong_with_threads_and_a_ray_worker_computes_its_gradient(tmp_path):
    threads = run(
        "--train",
        f"--env={PONG}",
        "--workers=2",
        "--envs-per-worker=2",
        "--max-steps=200",
        "--eval-interval=0",
        "--eval-episodes=1",
        f"--save-dir={tmp_path}",
        check=True,
    )
    assert "greedy return over 1 episode: -2" in threads.stdout
    pytest.importorskip("ray")
    from agents.a3c_ray import RemoteWorker

    config = with_preset(A3CConfig, PONG, backend="ray", workers=1, envs_per_worker=2)
    worker = RemoteWorker(config, worker_id=0, seed=0)
    weights = [variable.numpy() for variable in worker.model.synced_variables]
    gradients, _, metrics, _, steps = worker.rollout_gradients(weights)
    worker.close()
    assert steps == 10 and [g.shape for g in gradients] == [w.shape for w in weights]
    assert all(np.isfinite(float(value)) for value in metrics.values())


def test_images_refuse_observation_normalisation_in_one_line(tmp_path):
    result = run(
        "--train",
        f"--env={PONG}",
        "--normalize-observations",
        f"--save-dir={tmp_path}",
        program="a2c_cartpole.py",
    )
    assert result.returncode == 2
    assert "observations are images (4, 84, 84)" in error_line(result)


def test_unsupported_observation_shapes_and_missing_packages_are_one_line(monkeypatch):
    actions = gym.spaces.Discrete(2)
    for space in (
        gym.spaces.Box(0, 1, (5, 5), np.float32),
        gym.spaces.Box(0, 255, (96, 96, 3), np.uint8),  # channels last: not stacked frames
        gym.spaces.Box(0, 255, (4, 20, 20), np.uint8),  # too small for the convolutions
    ):
        with pytest.raises(EnvError, match="supported: flat .* and uint8 images"):
            check_spaces(space, actions, "SomeEnv-v0")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "cv2" else real(name, *a)
    )
    with pytest.raises(EnvError, match="ALE/Pong-v5 needs the cv2 module: pip install -r"):
        make_env(PONG)


class LivesEnvs(gym.vector.VectorEnv):
    """Two envs whose steps report ``lives`` as ale-py's do: env 0 loses a life at step 2 and its
    game ends at step 4 (then resets, lives back to 3); reward 1 a step."""

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

    def __init__(self):
        self.num_envs = 2
        self.single_observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
        self.single_action_space = gym.spaces.Discrete(2)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, 2)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, 2)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return np.zeros((2, 2), np.float32), {"lives": np.array([3, 3])}

    def step(self, actions):
        self.t += 1
        lives = np.array([3 if self.t < 2 or self.t > 4 else 2, 3])
        terminated = np.array([self.t == 4, False])
        rewards = np.array([0.0 if self.t == 5 else 1.0, 1.0])  # step 5: env 0's reset step
        return (
            np.zeros((2, 2), np.float32),
            rewards,
            terminated,
            np.zeros(2, bool),
            {"lives": lives},
        )


def test_a_lost_life_is_terminal_for_the_loss_while_the_episode_is_the_whole_game():
    dims = env_dims(LivesEnvs().single_observation_space, LivesEnvs().single_action_space)
    model = build_model(dims, (4,))
    collector = RolloutCollector(LivesEnvs(), model, tf.random.Generator.from_seed(0), t_max=6)
    collector.reset(seed=0)
    rollout, finished = collector.collect()
    # Step index 1 (the env's step 2) lost a life, index 3 ended the game, index 4 reset it.
    np.testing.assert_array_equal(rollout.terminated[:, 0], [0, 1, 0, 1, 0, 0])
    np.testing.assert_array_equal(rollout.terminated[:, 1], [0] * 6)
    np.testing.assert_array_equal(rollout.valid[:, 0], [1, 1, 1, 1, 0, 1])
    assert [(e.env, e.episode_return, e.length) for e in finished] == [(0, 4.0, 4)]


def test_a_saved_exported_and_resumed_pong_model_keeps_its_initialisation_and_optimizer(tmp_path):
    import keras

    from a3c_keras import A2C
    from agents.optimizers import TF1RMSprop
    from training.state import saved_settings

    frames = np.random.default_rng(0).integers(0, 256, (3, 4, 84, 84), dtype=np.uint8)
    agent = A2C(PONG, num_envs=2, eval_interval=0, save_dir=tmp_path, verbose=0)
    # The preset starts the value head orthogonal with gain 1 (a unit column) and the policy
    # head with gain 0.01 (near-uniform first actions).
    assert np.linalg.norm(agent.model.value_head.kernel) == pytest.approx(1.0, rel=1e-5)
    probabilities = tf.nn.softmax(agent.model(frames)[0]).numpy()
    np.testing.assert_allclose(probabilities, 1 / 6, atol=0.01)
    agent.learn(total_timesteps=40)
    optimizer = agent.algorithm.optimizer
    assert isinstance(optimizer, TF1RMSprop) and int(optimizer.iterations) == 4
    mean_squares = [v.numpy() for v in optimizer._velocities]
    assert all(np.all(m > 0.96) and np.all(m < 1.01) for m in mean_squares)  # from 1, decaying
    assert any(not np.allclose(m, 0.99**4, rtol=1e-6) for m in mean_squares)  # gradients in it
    settings = saved_settings(tmp_path, PONG)
    assert settings["weight_init"] == "orthogonal" and settings["optimizer"] == "rmsprop_tf1"
    expected = agent.model(frames)

    # Saved weights and an export act as the trained model does.
    agent.save(tmp_path / "pong.weights.h5")
    agent.save(tmp_path / "pong.keras")
    loaded = A2C.load(tmp_path / "pong.weights.h5", num_envs=2, save_dir=tmp_path / "l")
    exported = keras.saving.load_model(tmp_path / "pong.keras")
    for params, value in (loaded.model(frames), exported([frames])[:2]):
        np.testing.assert_allclose(params, expected[0], atol=1e-5)
        np.testing.assert_allclose(value, expected[1], atol=1e-5)

    # A resumed run continues with the mean squares it saved, not with fresh ones.
    resumed = A2C(PONG, num_envs=2, eval_interval=0, save_dir=tmp_path, resume=True, verbose=0)
    resumed.learn(total_timesteps=50)
    optimizer = resumed.algorithm.optimizer
    assert isinstance(optimizer, TF1RMSprop) and int(optimizer.iterations) == 5
    # One more update: each mean square decayed by 0.99, plus at most (1 - 0.99) g^2.
    for velocity, saved in zip(optimizer._velocities, mean_squares, strict=True):
        assert np.all(velocity.numpy() >= 0.99 * saved - 1e-6)
        assert np.all(velocity.numpy() < 0.99 * 0.99**4 + 0.02)


def test_a_closed_atari_vector_env_lets_go_of_its_emulator():
    envs = make_vector_env(PONG, 2)
    envs.reset(seed=0)
    assert hasattr(envs.unwrapped, "ale")
    envs.close()
    assert envs.unwrapped.closed and not hasattr(envs.unwrapped, "ale")


def test_rl_zoos_frames_have_no_sticky_actions_and_the_atari_preset(monkeypatch):
    """PongNoFrameskip-v4, the frames RL Zoo's Atari results are on: the same preprocessing
    and preset as ALE/Pong-v5, without v5's sticky actions (repeated with probability 0.25)."""
    import ale_py.vector_env

    made = []

    class Recorded(ale_py.vector_env.AtariVectorEnv):
        def __init__(self, *args, **kwargs):
            made.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(ale_py.vector_env, "AtariVectorEnv", Recorded)
    zoo = "PongNoFrameskip-v4"
    envs = make_vector_env(zoo, 2)
    observations, _ = envs.reset(seed=0)
    envs.close()
    assert observations.shape == (2, 4, 84, 84) and observations.dtype == np.uint8
    assert made[-1]["repeat_action_probability"] == 0.0 and made[-1]["frameskip"] == 4
    assert made[-1]["noop_max"] == 30 and made[-1]["reward_clipping"] is False
    assert gym.spec(PONG).kwargs["repeat_action_probability"] == 0.25  # v5's, for contrast
    env = make_env(zoo)
    assert env.reset(seed=0)[0].shape == (4, 84, 84)
    env.close()
    from config.hyperparameters import A2CConfig

    for config_class in (A2CConfig, A3CConfig):
        on_zoo, on_v5 = with_preset(config_class, zoo), with_preset(config_class, PONG)
        assert on_zoo == dataclasses.replace(on_v5, env=zoo) and on_zoo.clip_rewards


def test_nature_dqn_s_convolutions_are_stable_baselines3_s_cnn_and_files_keep_them(tmp_path):
    import keras

    from a3c_keras import A2C
    from utils.errors import CheckpointError

    agent = A2C(PONG, num_envs=2, image_encoder="nature", hidden_units=(512,), save_dir=tmp_path)
    convolutions = [layer for layer in agent.model.layers if "conv" in layer.name]
    assert [(c.filters, c.kernel_size, c.strides) for c in convolutions] == [
        (32, (8, 8), (4, 4)),
        (64, (4, 4), (2, 2)),
        (64, (3, 3), (1, 1)),
    ]
    # SB3's CnnPolicy on Pong: NatureCNN (three convolutions, a 3136 -> 512 layer), 6 logits
    # and a value: 1,687,719 weights.
    convolution_weights = (8 * 8 * 4 + 1) * 32 + (4 * 4 * 32 + 1) * 64 + (3 * 3 * 64 + 1) * 64
    assert agent.model.count_params() == convolution_weights + 3137 * 512 + 513 * 6 + 513
    agent.learn(total_timesteps=40)
    frames = np.random.default_rng(0).integers(0, 256, (3, 4, 84, 84), dtype=np.uint8)
    expected = agent.model(frames)
    agent.save(tmp_path / "pong.weights.h5")
    agent.save(tmp_path / "pong.keras")
    loaded = A2C.load(tmp_path / "pong.weights.h5")  # the file says which convolutions
    assert loaded.config.image_encoder == "nature"
    exported = keras.saving.load_model(tmp_path / "pong.keras")
    for params, value in (loaded.model(frames), exported([frames])[:2]):
        np.testing.assert_allclose(params, expected[0], atol=1e-5)
        np.testing.assert_allclose(value, expected[1], atol=1e-5)
    with pytest.raises(CheckpointError, match="image encoder nature"):
        A2C.load(tmp_path / "pong.weights.h5", image_encoder="a3c")
