"""What a Keras user expects: TensorBoard scalars, progress, plots, video, evaluation, export."""

import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from agents.a2c import A2CAgent
from agents.a3c import MasterAgent
from config.hyperparameters import A2CConfig, A3CConfig
from models import ActorCriticModel
from tests.programs import error_line, run
from training.summaries import format_seconds, progress_line
from training.trainer import Trainer
from utils.checkpoint import model_path, save_weights
from utils.plotting import plot_training_curve


def tensorboard_points(save_dir):
    """tag -> [(env steps, value)] of every plain scalar written under ``<save_dir>/logs``, read
    back from the event files; other summaries (the hparams) as ``(step, None)``."""
    points = {}
    for path in Path(save_dir, "logs").glob("*/events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                number = value.simple_value if value.HasField("simple_value") else None
                points.setdefault(value.tag, []).append((event.step, number))
    return points


def tensorboard_tags(save_dir):
    """Every tag written under ``<save_dir>/logs``."""
    return set(tensorboard_points(save_dir))


EXPECTED_TAGS = {
    "episode/return",
    "episode/moving_average",
    "episode/length",
    "train/policy_loss",
    "train/value_loss",
    "train/entropy",
    "train/grad_norm",
    "train/learning_rate",
    "train/env_steps_per_second",
    "eval/mean_return",
    "eval/std_return",
    "worker_0/return",
    "_hparams_/session_start_info",  # the run's settings, for the HPARAMS tab
}


def test_a2c_writes_the_tensorboard_scalars(tmp_path):
    config = A2CConfig(num_envs=4, max_steps=3000, eval_interval=1000, eval_episodes=3)
    trainer = Trainer(A2CAgent(config), tmp_path)
    trainer.train()
    points = tensorboard_points(tmp_path)
    assert EXPECTED_TAGS <= set(points)
    assert len(list(Path(tmp_path, "logs").glob("*/events.out.tfevents.*"))) == 1
    # Plain scalars, a point per progress report over the whole run, the last at its end.
    returns = points["episode/return"]
    assert all(
        value is not None
        for tag in EXPECTED_TAGS - {"_hparams_/session_start_info"}
        for _, value in points[tag]
    )
    steps = [step for step, _ in returns]
    assert steps == sorted(set(steps)) and len(steps) >= 20
    assert steps[-1] == trainer.episode_log.env_steps
    episodes = trainer.episode_log.episodes
    assert min(value for _, value in returns) >= min(e.episode_return for e in episodes)
    assert [step for step, _ in points["eval/mean_return"]] == [
        evaluation.env_steps for evaluation in trainer.evaluations
    ]


def test_a3c_writes_the_tensorboard_scalars_from_the_master_thread(tmp_path):
    config = A3CConfig(max_eps=60, workers=2, eval_interval=500, eval_episodes=3)
    trainer = Trainer(MasterAgent(config), tmp_path)
    trainer.train()
    assert EXPECTED_TAGS | {"worker_1/return"} <= tensorboard_tags(tmp_path)
    assert trainer.evaluations and trainer.evaluations[0].episodes > 0


def test_progress_line_says_done_budget_speed_and_eta():
    line = progress_line(250, 1000, "episode", 45.25, 4100.0, eta=90.0)
    assert line == "episode 250/1000 (25%) | moving avg 45.2 | 4100 steps/s | ETA 1m30s"
    assert format_seconds(7300) == "2h01m" and format_seconds(float("inf")) == "?"


def test_plot_shows_returns_average_and_evaluations(tmp_path):
    returns = [10.0, 20.0, 30.0, 40.0, 50.0]
    path = plot_training_curve(
        tmp_path / "p.png", "A2C on X", returns, returns, 475.0, [(3, 25.0, 5.0)], 2
    )
    image = Image.open(path)
    assert image.format == "PNG" and image.size == (800, 450)


@pytest.fixture
def saved_model(tmp_path):
    """A save dir holding an (untrained) CartPole model."""
    model = ActorCriticModel(2).build_for(4)
    save_weights(model, model_path(tmp_path, "CartPole-v1"), "CartPole-v1")
    return tmp_path


def test_play_records_a_gif_of_every_step(saved_model):
    gif = saved_model / "play.gif"
    result = run(f"--save_dir={saved_model}", f"--record={gif}", "--episodes=2")
    assert result.returncode == 0, result.stderr[-2000:]
    steps = [int(n) for n in re.findall(r"finished: return [\d.]+ in (\d+) steps", result.stdout)]
    assert len(steps) == 2
    image = Image.open(gif)
    durations = []
    for frame in range(image.n_frames):
        image.seek(frame)
        durations.append(image.info["duration"])
    # One 20 ms frame (CartPole renders at 50 fps) after each reset and each step; the GIF
    # writer merges identical neighbours into one longer frame, so count the time.
    assert sum(durations) == 20 * (sum(steps) + 2)
    assert image.size == (300, 200)  # half of CartPole's 600 x 400
    assert f"recording: {gif}" in result.stdout and "mean" in result.stdout


def test_play_records_an_mp4_where_imageio_ffmpeg_is_installed(saved_model):
    pytest.importorskip("imageio_ffmpeg")  # the optional `video` extra; GIFs need none
    imageio = pytest.importorskip("imageio.v2")
    video = saved_model / "play.mp4"
    result = run(f"--save_dir={saved_model}", f"--record={video}")
    assert result.returncode == 0, result.stderr[-2000:]
    steps = int(re.search(r"finished: return [\d.]+ in (\d+) steps", result.stdout)[1])
    reader = imageio.get_reader(video)
    assert reader.count_frames() == steps + 1
    assert reader.get_meta_data()["size"] == (304, 208)  # 300 x 200 rounded up to 16s


@pytest.mark.parametrize(
    "args, environment, message",
    [
        (["--record=play.avi"], {}, "the file must end in .gif or .mp4"),
        (["--render=human"], {"DISPLAY": "", "WAYLAND_DISPLAY": ""}, "needs a display"),
        (["--export=policy.h5"], {}, "--export=policy.h5: the file must end in .keras"),
    ],
)
def test_bad_play_options_get_one_line(saved_model, args, environment, message):
    result = run(f"--save_dir={saved_model}", *args, env=environment)
    assert result.returncode == 2
    assert message in error_line(result)


def test_evaluate_prints_mean_std_min_max_and_the_threshold(saved_model):
    result = run(f"--save_dir={saved_model}", "--evaluate", "--eval-episodes=7")
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(
        r"greedy return over 7 episodes: [\d.]+ ± [\d.]+ \(min [\d.]+, max [\d.]+\); "
        r"(meets|does not meet) the reward threshold 475",
        result.stdout,
    )


def test_export_to_keras_then_play_and_evaluate_from_it(saved_model):
    exported = saved_model / "policy.keras"
    result = run(f"--save_dir={saved_model}", f"--export={exported}")
    assert result.returncode == 0 and exported.is_file(), result.stderr[-2000:]
    loaded = tf.keras.models.load_model(exported)  # usable outside the command line
    logits, value = loaded(np.zeros((3, 4), np.float32))
    assert logits.shape == (3, 2) and value.shape == (3,)
    played = run(f"--model={exported}", "--episodes=1", "--save_dir=/nonexistent")
    assert played.returncode == 0 and "episode 1 | step 1" in played.stdout
    wrong = run(f"--model={exported}", "--env=Acrobot-v1")
    assert wrong.returncode == 2
    assert "policy.keras was trained on CartPole-v1, not Acrobot-v1" in error_line(wrong)
    renamed = saved_model / "policy.h5"  # weights under a name Keras 3 does not read them by
    renamed.write_bytes((saved_model / "model_CartPole-v1.weights.h5").read_bytes())
    misnamed = run(f"--model={renamed}", "--evaluate")
    assert misnamed.returncode == 2
    assert "a saved model's name ends in .weights.h5" in error_line(misnamed)
    # The same observations and as many policy outputs (a mean and a log sigma for one Box
    # dimension): the sizes fit, the file's record of its env does not.
    box = run(f"--model={exported}", "--env=tests.faulty_envs:ContinuousCartPole-v0", "--evaluate")
    assert box.returncode == 2
    assert "was trained on CartPole-v1, not tests.faulty_envs:ContinuousCartPole-v0: pass " in (
        error_line(box)
    )
