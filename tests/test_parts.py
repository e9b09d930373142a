"""A run's parts: each program that trained it, across --resume, recorded in its checkpoints."""

from __future__ import annotations

import tensorflow as tf

from a3c_keras import A2C, Callback
from tests.programs import run
from training.state import checkpoint_prefixes, json_entry, saved_parts
from utils.provenance import code_revision

QUIET = {"verbose": 0, "eval_interval": 0}


class StopAtUpdate(Callback):
    """Stops training at update ``index`` (as a signal or a target would: before the budget)."""

    def __init__(self, index: int):
        super().__init__()
        self.index = index

    def on_update_end(self, index, logs):
        if index >= self.index:
            self.model.stop_training = True


def test_each_program_that_trains_a_run_is_a_part_with_its_commit_steps_and_times(tmp_path):
    first = A2C("CartPole-v1", save_dir=tmp_path, num_envs=4, checkpoint_every=10, **QUIET)
    first.learn(2000)
    directory = tmp_path / "checkpoints_CartPole-v1"
    periodic = json_entry(tf.train.load_checkpoint(checkpoint_prefixes(directory)[0]), "parts")
    assert [p["outcome"] for p in periodic] == ["running"]  # a periodic checkpoint's
    assert 0 < periodic[0]["env_steps_end"] < 2000
    resumed = A2C("CartPole-v1", save_dir=tmp_path, resume=True, **QUIET)
    resumed.learn(6000, callback=StopAtUpdate(50))
    parts = saved_parts(tmp_path, "CartPole-v1")
    assert [p["part"] for p in parts] == [1, 2]
    assert [p["outcome"] for p in parts] == ["finished", "stopped"]
    assert all(p["commit"] == code_revision() for p in parts)  # the commit they ran
    first_end = first.trainer.episode_log.env_steps
    assert (parts[0]["env_steps_start"], parts[0]["env_steps_end"]) == (0, first_end)
    assert parts[1]["env_steps_start"] == first_end  # goes on where the first ended
    assert parts[1]["env_steps_end"] == resumed.trainer.episode_log.env_steps < 6000
    for part in parts:
        assert 0 < part["train_seconds"] <= part["wall_seconds"]
        assert part["started"] <= part["ended"] and part["ended"].endswith("Z")
    total = sum(p["train_seconds"] for p in parts)
    assert abs(total - resumed.trainer.train_seconds) < 0.2  # the parts add up to the run


def test_a_checkpoint_from_before_parts_resumes_and_its_training_is_one_part(tmp_path):
    agent = A2C("CartPole-v1", save_dir=tmp_path, num_envs=4, **QUIET)
    agent.learn(1000)
    state = agent.trainer.state
    # A checkpoint as runs wrote them before parts were recorded: all but the parts.
    old = state._checkpoint_of({})
    tf.train.CheckpointManager(old, state.directory, max_to_keep=3).save()
    newest = checkpoint_prefixes(state.directory)[-1]
    assert json_entry(tf.train.load_checkpoint(newest), "parts") is None
    steps = agent.trainer.episode_log.env_steps
    earlier = saved_parts(tmp_path, "CartPole-v1")
    assert [(p["outcome"], p["env_steps_end"], p["commit"]) for p in earlier] == [
        ("not recorded", steps, None)
    ]
    resumed = A2C("CartPole-v1", save_dir=tmp_path, resume=True, **QUIET)
    resumed.learn(2000)
    assert resumed.trainer.episode_log.env_steps >= 2000
    # Its checkpoints go on numbering after the old one (none is written over).
    assert int(resumed.trainer.state.latest.rsplit("-", 1)[1]) > int(newest.rsplit("-", 1)[1])
    parts = saved_parts(tmp_path, "CartPole-v1")
    assert [p["outcome"] for p in parts] == ["not recorded", "finished"]
    assert parts[0]["train_seconds"] > 0 and parts[1]["env_steps_start"] == steps


def test_the_command_line_says_which_part_a_resumed_run_trained(tmp_path):
    flags = ["--train", "--eval-interval=0", "--eval-episodes=2", f"--save_dir={tmp_path}"]
    first = run(*flags, "--max-steps=1024", program="a2c_cartpole.py")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "part 1" not in first.stdout  # a run of one part says nothing of parts
    second = run(*flags, "--max-steps=2048", "--resume", program="a2c_cartpole.py")
    assert second.returncode == 0, second.stderr[-2000:]
    line = next(line for line in second.stdout.splitlines() if line.startswith("part 2"))
    assert f"at commit {code_revision()}" in line and "env steps 1024 to 2" in line


def test_a_resumed_run_keeps_the_evaluations_of_its_earlier_parts(tmp_path):
    settings = {"num_envs": 4, "eval_interval": 512, "eval_episodes": 2, "verbose": 0}
    first = A2C("CartPole-v1", save_dir=tmp_path, **settings)
    first.learn(1024)
    earlier = [(e.env_steps, e.episodes, e.result.returns.tolist()) for e in first.evaluations]
    assert [steps for steps, _, _ in earlier] == [512, 1024]
    resumed = A2C("CartPole-v1", save_dir=tmp_path, resume=True, verbose=0)
    resumed.learn(2048)
    kept = [(e.env_steps, e.episodes, e.result.returns.tolist()) for e in resumed.evaluations]
    assert kept[:2] == earlier and [steps for steps, _, _ in kept[2:]] == [1536, 2048]
    again = A2C("CartPole-v1", save_dir=tmp_path, resume=True, verbose=0)
    again.learn(2048)  # the budget was used: the final model was evaluated at 2048 already
    assert [e.env_steps for e in again.evaluations] == [512, 1024, 1536, 2048]
    assert len(saved_parts(tmp_path, "CartPole-v1")) == 2  # and no part of no steps is added


def test_a_run_that_reached_its_evaluation_target_finished_its_part(tmp_path):
    settings = {"num_envs": 4, "eval_interval": 256, "eval_episodes": 2, "verbose": 0}
    agent = A2C("CartPole-v1", save_dir=tmp_path, stop_at_eval_return=5.0, **settings)
    agent.learn(100_000)
    assert agent.trainer.episode_log.env_steps == 256  # the first evaluation reached 5
    assert [p["outcome"] for p in saved_parts(tmp_path, "CartPole-v1")] == ["finished"]
