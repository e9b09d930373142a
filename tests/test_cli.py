"""The command lines of the README, run as a user runs them."""

import re

import pytest

from tests import programs


def run(*args, check=True, program="a3c_cartpole.py"):
    return programs.run(*args, program=program, check=check)


@pytest.mark.parametrize("train", [[], ["--train"]])
def test_random_baseline_runs_with_or_without_train(tmp_path, train):
    result = run(
        "--algorithm=random", "--max-eps=300", "--seed=1", f"--save_dir={tmp_path}/x", *train
    )
    average = float(re.search(r"average return ([\d.]+) over 300 episodes", result.stdout)[1])
    assert 15 < average < 30
    assert not (tmp_path / "x").exists()  # the baseline writes nothing


def test_train_writes_model_plot_and_log_then_play_loads_the_model(tmp_path):
    result = run(
        "--train",
        "--max-eps=20",
        "--workers=2",
        "--update-freq=5",
        "--eval_episodes=5",
        f"--save-dir={tmp_path}",
    )
    model = tmp_path / "model_CartPole-v1.weights.h5"
    plot = tmp_path / "CartPole-v1_moving_average.png"
    log = tmp_path / "CartPole-v1_episodes.csv"
    assert model.is_file() and plot.read_bytes()[:4] == b"\x89PNG"
    assert len(log.read_text().splitlines()) == 21  # header and 20 episodes
    for path in (model, plot, log):
        assert str(path) in result.stdout
    assert re.search(
        r"greedy return over 5 episodes: [\d.]+ ± [\d.]+ .*reward threshold 475", result.stdout
    )
    assert "trained 20 episodes" in result.stdout

    played = run(f"--save_dir={tmp_path}", "--episodes=2")
    steps = re.findall(
        r"episode (\d) \| step (\d+) \| action ([01]) \| return ([\d.]+)", played.stdout
    )
    assert steps[0] == ("1", "1", steps[0][2], "1")
    assert {episode for episode, *_ in steps} == {"1", "2"}
    assert len(steps) <= 2 * 500  # CartPole-v1's time limit holds in play
    assert "greedy return over 2 episodes" in played.stdout


def test_a2c_trains_evaluates_and_plays_like_a3c(tmp_path):
    result = run(
        "--train",
        "--max-steps=4000",
        "--num-envs=4",
        "--eval-interval=2000",
        "--eval_episodes=5",
        f"--save-dir={tmp_path}",
        program="a2c_cartpole.py",
    )
    assert (tmp_path / "model_CartPole-v1.weights.h5").is_file()
    assert (tmp_path / "CartPole-v1_moving_average.png").is_file()
    assert re.search(r"trained \d+ episodes, 40\d\d env steps", result.stdout)
    assert "greedy return over 5 episodes" in result.stdout
    played = run(f"--save_dir={tmp_path}", program="a2c_cartpole.py")
    assert "episode 1 | step 1 | action" in played.stdout
    baseline = run("--algorithm=random", "--max_eps=50", program="a2c_cartpole.py")
    assert "average return" in baseline.stdout


@pytest.mark.slow
def test_a2c_sync_and_async_vector_modes_train(tmp_path):
    for mode in ("sync", "async"):
        result = run(
            "--train",
            "--env=Acrobot-v1",
            f"--vector-mode={mode}",
            "--num_envs=2",
            "--max_steps=600",
            "--eval_interval=0",
            "--eval_episodes=2",
            f"--save_dir={tmp_path}/{mode}",
            program="a2c_cartpole.py",
        )
        assert "greedy return over 2 episodes" in result.stdout


@pytest.mark.slow
def test_the_mountaincar_preset_builds_a_tanh_model_with_a_separate_value_trunk(tmp_path):
    result = run(
        "--train",
        "--env=MountainCar-v0",
        "--max-steps=800",
        "--eval-interval=0",
        "--eval_episodes=2",
        f"--save-dir={tmp_path}",
        program="a2c_cartpole.py",
    )
    assert "--activation=tanh --separate_value_trunk=true" in result.stderr
    assert "greedy return over 2 episodes" in result.stdout
    # Playing takes the preset's model settings too; flags that build another model are refused.
    played = run("--env=MountainCar-v0", f"--save-dir={tmp_path}", program="a2c_cartpole.py")
    assert "episode 1 finished" in played.stdout
    other = run(
        "--env=MountainCar-v0",
        "--activation=relu",
        "--noseparate_value_trunk",
        f"--save-dir={tmp_path}",
        program="a2c_cartpole.py",
        check=False,
    )
    assert other.returncode == 2
    assert "activation tanh, separate value trunk: True" in other.stderr
    assert "activation relu, separate value trunk: False" in other.stderr
