"""Envs that misbehave (a user's own, ``--env=module:Id``): named as the cause in one line,
through the real command line, with the right exit status and what is on disk afterwards.

At once (the first reset or step, checked before any work): bad input, exit 2, nothing written.
Later in a run: a fault, exit 1, the run checkpointed (the model is not to blame).
The envs are in tests/faulty_envs.py.
"""

import numpy as np
import pytest
import tensorflow as tf

from tests.programs import error_line, run
from utils.checkpoint import run_files
from utils.env_contract import CheckedEnv, CheckedVectorEnv
from utils.envs import make_env, make_vector_env
from utils.errors import EnvFault

FAULTY = "tests.faulty_envs:"


def train(program, env, save_dir, *extra):
    return run(
        "--train",
        f"--env={FAULTY}{env}",
        "--max-steps=20000",
        "--eval-episodes=5",
        f"--save_dir={save_dir}",
        *extra,
        program=program,
    )


@pytest.mark.parametrize("program", ["a2c_cartpole.py", "a3c_cartpole.py"])
@pytest.mark.parametrize(
    "env, says",
    [
        ("ResetRaises-v0", "ResetRaises-v0's reset() raised ConnectionError: the simulator is"),
        ("WrongShape-v0", "WrongShape-v0's reset() returned an observation of shape (3,) and"),
        ("TextObservations-v0", "returned an observation of shape (4,) and dtype <U1"),
        ("OldGymApi-v0", "OldGymApi-v0's reset() returned ndarray; gymnasium 1.x expects reset()"),
        ("OldGymStep-v0", "step() raised ValueError: not enough values to unpack (expected 5, g"),
        ("ConstructorRaises-v0", "cannot be made: OSError: cannot open /dev/simulator"),
        ("TextTerminated-v0", "step() returned terminated='no' (str); it must be a bool"),
        ("ListInfo-v0", "reset() returned info of type list; it must be a dict"),
    ],
)
def test_an_env_that_breaks_the_contract_at_once_is_bad_input(tmp_path, program, env, says):
    result = train(program, env, tmp_path)
    assert result.returncode == 2
    assert says in error_line(result)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("program", ["a2c_cartpole.py", "a3c_cartpole.py"])
@pytest.mark.parametrize(
    "env, says",
    [
        ("StepRaises-v0", "StepRaises-v0's step() raised RuntimeError: the simulator crashed"),
        ("NanObservationLater-v0", "step() returned an observation with 4 NaN or infinite"),
        ("EvaluationSeedsFail-v0", "reset() raised ValueError: no level for seed 20000"),
        ("ExitInStep-v0", "ExitInStep-v0's step() called sys.exit(0)"),
    ],
)
def test_an_env_that_fails_later_stops_the_run_with_one_line_and_a_checkpoint(
    tmp_path, program, env, says
):
    result = train(program, env, tmp_path, "--eval-interval=2000")
    assert result.returncode == 1, result.stderr[-2000:]
    line = error_line(result)
    assert says in line and "the run was checkpointed (" in line
    checkpoints = run_files(tmp_path, env).checkpoints
    assert (checkpoints / "ckpt-1.index").is_file()
    # The checkpoint is whole, with the episodes so far (a resume reads them back: one case
    # resumes below).
    reader = tf.train.load_checkpoint(str(checkpoints / "ckpt-1"))
    assert reader.get_tensor("episodes/.ATTRIBUTES/VARIABLE_VALUE").shape[0] > 0
    if env == "StepRaises-v0" and program == "a2c_cartpole.py":
        resumed = train(program, env, tmp_path, "--eval-interval=2000", "--resume")
        assert "resuming the run in" in resumed.stderr and "Traceback" not in resumed.stderr


@pytest.mark.parametrize(
    "env, says",
    [
        ("Unpicklable-v0", "Unpicklable-v0's step() raised TypeError: cannot pickle"),
        (
            "DiesInProcess-v0",
            "the process of an env (--vector_mode=async) ended with exit status 3",
        ),
    ],
)
def test_async_envs_that_cannot_be_sent_or_whose_process_dies_are_one_line(tmp_path, env, says):
    result = train("a2c_cartpole.py", env, tmp_path, "--vector-mode=async", "--num-envs=2")
    assert result.returncode == 1
    assert says in error_line(result)
    assert "Worker-" not in result.stderr and "ERROR" not in result.stderr  # none relayed


@pytest.mark.parametrize(
    "source, env, says",
    [
        (None, "tests.no_such_module:X-v0", "cannot import 'tests.no_such_module' for env id"),
        (None, ".faulty_envs:StepRaises-v0", "a relative module cannot be imported; name it"),
        ("def broken(:\n", "broken:X-v0", "cannot import 'broken' for env id 'broken:X-v0': Syn"),
        (
            "raise RuntimeError('no licence server')\n",
            "broken:X-v0",
            "cannot import 'broken' for env id 'broken:X-v0': RuntimeError: no licence server",
        ),
    ],
)
def test_an_env_module_that_cannot_be_imported_is_one_line(tmp_path, source, env, says):
    if source is not None:  # a module of the user's, beside the command
        (tmp_path / "broken.py").write_text(source)
        result = run(
            f"--env={env}", "--train", f"--save_dir={tmp_path}/run",
            env={"PYTHONPATH": str(tmp_path)},
        )  # fmt: skip
    else:
        result = run(f"--env={env}", "--train", f"--save_dir={tmp_path}/run")
    assert result.returncode == 2
    assert says in error_line(result)
    assert not (tmp_path / "run").exists()


def test_an_env_without_a_time_limit_is_cut_in_training_evaluation_and_play(tmp_path):
    env = f"--env={FAULTY}NeverEnds-v0"
    trained = run(
        "--train", env, "--num-envs=2", "--max-steps=20000", "--eval-episodes=2",
        f"--save_dir={tmp_path}", program="a2c_cartpole.py",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "NeverEnds-v0 has no time limit (max_episode_steps): its episodes are cut" in (
        trained.stderr
    )
    assert "trained 2 episodes" in trained.stdout  # 2 envs x one episode of 10000 steps
    assert "greedy return over 2 episodes: 10000.0" in trained.stdout
    recording = tmp_path / "play.gif"
    played = run(env, f"--save_dir={tmp_path}", f"--record={recording}", program="a2c_cartpole.py")
    assert played.returncode == 0, played.stderr[-2000:]
    assert "episode 1 finished: return 10000 in 10000 steps" in played.stdout
    assert recording.is_file()


@pytest.mark.parametrize(
    "env, says",
    [
        ("RendersNothing-v0", "RendersNothing-v0's render() returned None; a recording needs RGB"),
        ("NoRenderModes-v0", "cannot render in mode 'rgb_array' (its render modes: none)"),
    ],
)
def test_a_recording_of_an_env_that_renders_no_frames_is_refused_before_loading(
    tmp_path, env, says
):
    recording = tmp_path / "play.gif"
    result = run(f"--env={FAULTY}{env}", f"--record={recording}", f"--save_dir={tmp_path}")
    assert result.returncode == 2  # before the model is looked for: there is none
    assert says in error_line(result)
    assert list(tmp_path.iterdir()) == []


def test_an_env_whose_close_raises_ends_the_run_normally_with_a_warning(tmp_path):
    result = train("a2c_cartpole.py", "CloseRaises-v0", tmp_path, "--max-steps=2048")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "warning: CloseRaises-v0's close() raised RuntimeError: the simulator is already" in (
        result.stderr
    )
    assert "greedy return over 5 episodes" in result.stdout


def test_a_render_that_fails_mid_recording_is_one_line_and_leaves_no_file(tmp_path):
    env = f"--env={FAULTY}RenderRaisesLater-v0"
    trained = train("a2c_cartpole.py", "RenderRaisesLater-v0", tmp_path, "--max-steps=1024")
    assert trained.returncode == 0, trained.stderr[-2000:]
    recording = tmp_path / "play.gif"
    played = run(env, f"--save_dir={tmp_path}", f"--record={recording}", "--episodes=3")
    assert played.returncode == 1
    line = error_line(played)
    assert line.endswith(
        "error: RenderRaisesLater-v0's render() raised RuntimeError: the GPU context was lost"
    )  # no "training failed": this was play
    assert not recording.exists() and not list(tmp_path.glob(".play*"))


def test_a_checked_env_names_what_it_returned():
    env = make_env(f"{FAULTY}WrongShape-v0")
    assert isinstance(env, CheckedEnv)
    with pytest.raises(EnvFault, match=r"observation of shape \(3,\) and dtype float32; its"):
        env.reset(seed=0)
    envs = make_vector_env("CartPole-v1", 4)  # native
    assert isinstance(envs, CheckedVectorEnv)
    states, _ = envs.reset(seed=0)
    assert states.shape == (4, 4)
    envs.close()


def test_a_nan_reward_is_the_env_s_fault_not_the_learning_rate_s():
    envs = make_vector_env(f"{FAULTY}NanReward-v0", 2)
    envs.reset(seed=0)
    with pytest.raises(EnvFault, match=r"NanReward-v0's step\(\) returned the reward nan"):
        envs.step(np.zeros(2, np.int64))
    envs.close()


def test_a_large_evaluation_plays_in_batches_with_the_same_seeds(monkeypatch):
    """--eval-episodes=5000000 must not make 5 million envs at once: episodes are played at most
    ``EVAL_BATCH`` at a time, episode i still reset with seed + i."""
    import training.evaluation as evaluation
    from models import ActorCriticModel

    # Acrobot has no native vector env, whose seeding would differ: sync envs, env i seed + i.
    model = ActorCriticModel(3, hidden_units=(8,)).build_for(6)
    at_once = evaluation.evaluate(model, "Acrobot-v1", episodes=7, seed=3)
    made = []
    make = evaluation.make_vector_env
    monkeypatch.setattr(evaluation, "EVAL_BATCH", 3)
    monkeypatch.setattr(
        evaluation, "make_vector_env", lambda env, n: made.append(n) or make(env, n)
    )
    batched = evaluation.evaluate(model, "Acrobot-v1", episodes=7, seed=3)
    assert made == [3, 3, 1]
    np.testing.assert_array_equal(batched.returns, at_once.returns)


def test_a_discrete_space_that_starts_elsewhere_gets_its_own_actions(tmp_path):
    result = train("a2c_cartpole.py", "DiscreteFromMinusOne-v0", tmp_path, "--max-steps=2048")
    assert result.returncode == 0, result.stderr[-2000:]  # the env asserts -1 or 0
    env = f"--env={FAULTY}DiscreteFromMinusOne-v0"
    played = run(env, f"--save_dir={tmp_path}", program="a2c_cartpole.py")
    assert played.returncode == 0, played.stderr[-2000:]  # the env asserts -1 or 0 here too
    assert "| action 1 |" not in played.stdout
