"""What a run owns: a save dir has one owner from its checks on, a lock is never written
through a link, a checkpoint state file never makes a run resume from or prune another run's
files, studies of two algorithms keep their own trials and plots, a journal line cut short
does not stop a study, and a study's jobs end with its process. Through the real command line
(and the Python API where it takes its own path)."""

import contextlib
import os
import signal
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from a3c_keras import A2C, tuning
from tests.programs import ROOT, error_line, run, start
from utils.errors import UsageError
from utils.process_watchdog import command_line, process_table
from utils.run_lock import RunLock, holder

SLOW_ENV = "--env=tests.faulty_envs:SlowToMake-v0"  # 5 s to make, said on stderr first


def files_under(path: Path) -> dict[str, int]:
    """Each file under ``path`` and its modification time (ns)."""
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()}


def train(save_dir, *extra):
    return run(
        "--train",
        "--max-steps=1024",
        "--eval-episodes=2",
        f"--save_dir={save_dir}",
        *extra,
        program="a2c_cartpole.py",
    )


@pytest.mark.slow
def test_a_second_training_a_moment_later_in_one_save_dir_is_refused_and_the_first_is_intact(
    tmp_path,
):
    # The first run makes its two envs (10 s) after its checks: it holds the save dir from
    # the checks on, so the second, started while the first has written nothing yet, is
    # refused; before, both passed the checks and the second replaced the first's files.
    run_flags = ["--train", SLOW_ENV, "--max-steps=1024", "--eval-interval=0", "--eval-episodes=1"]
    first = start("a2c_cartpole.py", *run_flags, "--num-envs=2", f"--save_dir={tmp_path}")
    try:
        made = 0
        while made < 2:  # the probe of the checks, then the first env of the run
            line = first.stderr.readline()
            assert line, first.communicate()[1][-3000:]
            made += line.strip() == "making SlowToMake"
        assert sorted(p.name for p in tmp_path.iterdir()) == [".run.lock"]  # nothing else yet
        assert f"pid {first.pid} on " in holder(tmp_path)
        second = run(
            *run_flags, "--num-envs=1", f"--save_dir={tmp_path}", program="a2c_cartpole.py"
        )
        assert second.returncode == 2
        line = error_line(second)
        assert f"--save_dir={tmp_path} is in use by another training run (pid {first.pid}" in line
        stdout, stderr = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, stderr[-3000:]
    assert "trained " in stdout and "greedy return over 1 episode" in stdout
    episodes = (tmp_path / "SlowToMake-v0_episodes.csv").read_text().splitlines()
    assert int(episodes[-1].split(",")[6]) >= 1024  # the first run's whole budget, alone
    assert len(list((tmp_path / "logs").iterdir())) == 1  # one run wrote there
    assert (tmp_path / "model_SlowToMake-v0.weights.h5").is_file()


def test_a_lock_that_is_a_link_is_refused_and_what_it_points_at_is_not_written(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    stamp = target.stat().st_mtime_ns
    save_dir = tmp_path / "run"
    save_dir.mkdir()
    lock = save_dir / ".run.lock"
    lock.symlink_to(target)
    result = train(save_dir)
    assert result.returncode == 2
    line = error_line(result)
    assert f"{lock} is a symbolic link to {target} where the run keeps its lock" in line
    with pytest.raises(UsageError, match="is a symbolic link to .*: a lock is never written"):
        A2C("CartPole-v1", save_dir=save_dir, num_envs=2, verbose=0).learn(256)
    # The lock itself, past the checks (a link made between them and the lock): not followed.
    with pytest.raises(UsageError, match=f"{lock} is a symbolic link to {target}; the run's"):
        RunLock(save_dir).acquire()
    assert target.read_text() == "precious\n" and target.stat().st_mtime_ns == stamp
    assert sorted(p.name for p in save_dir.iterdir()) == [".run.lock"]
    # A hard link to a file elsewhere would be written through as well.
    lock.unlink()
    os.link(target, lock)
    with pytest.raises(UsageError, match="a file with 2 names"):
        RunLock(save_dir).acquire()
    assert target.read_text() == "precious\n"


def test_without_a_save_dir_a_run_takes_no_lock_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    A2C("CartPole-v1", num_envs=2, eval_interval=0, verbose=0).learn(256)
    assert list(tmp_path.iterdir()) == []


def test_a_refused_run_leaves_no_lock_or_directory_behind(tmp_path):
    result = train(tmp_path / "new", "--resume")
    assert result.returncode == 2
    assert "--resume: no checkpoint to resume in" in error_line(result)
    assert list(tmp_path.iterdir()) == []


def checkpointed_run(save_dir: Path) -> list[Path]:
    """A short run with several checkpoints (the newest two kept); their path prefixes."""
    result = train(save_dir, "--max-steps=3000", "--checkpoint-every=20", "--eval-interval=0")
    assert result.returncode == 0, result.stderr[-2000:]
    indexes = (save_dir / "checkpoints_CartPole-v1").glob("ckpt-*.index")
    return sorted(
        (index.with_suffix("") for index in indexes), key=lambda p: int(p.name.split("-")[1])
    )


def state_file(prefixes) -> str:
    """A checkpoint state file naming ``prefixes``, the last the newest, as TensorFlow writes
    one (with the times that ``tf.train.CheckpointManager`` prunes by)."""
    now = time.time()
    lines = [f'model_checkpoint_path: "{prefixes[-1]}"']
    lines += [f'all_model_checkpoint_paths: "{prefix}"' for prefix in prefixes]
    lines += [f"all_model_checkpoint_timestamps: {now - 10 + i}" for i in range(len(prefixes))]
    lines += [f"last_preserved_timestamp: {now - 20}"]
    return "\n".join(lines) + "\n"


def test_a_state_file_naming_another_run_s_checkpoints_is_refused_and_that_run_stays_whole(
    tmp_path,
):
    other, mine = tmp_path / "other", tmp_path / "mine"
    theirs = checkpointed_run(other)
    checkpointed_run(mine)
    assert len(theirs) == 2  # the newest two, ckpt-2 and ckpt-3 here
    before = files_under(other)
    state = mine / "checkpoints_CartPole-v1" / "checkpoint"
    relative = [Path("../../other/checkpoints_CartPole-v1") / p.name for p in theirs]
    for named in (theirs, relative):  # absolute paths of another run, and ../
        state.write_text(state_file(named))
        result = train(mine, "--resume", "--max-steps=6000", "--checkpoint-every=20")
        assert result.returncode == 2
        line = error_line(result)
        assert f"the checkpoint state file {state} names checkpoints outside" in line
        assert all(str(prefix) in line for prefix in theirs)
        assert "a run resumes from and prunes only its own checkpoints" in line
        assert files_under(other) == before  # nothing read into mine, nothing pruned there
    # The other run is whole: it resumes, and mine does once the state file is removed.
    resumed = train(other, "--resume", "--max-steps=6000")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    state.unlink()
    again = train(mine, "--resume", "--max-steps=6000")
    assert again.returncode == 0, again.stderr[-2000:]


def test_a_run_in_a_relative_save_dir_resumes_from_its_own_checkpoints(tmp_path):
    # TensorFlow writes the state file's names relative to the checkpoint directory: the run's own.
    relative = os.path.relpath(tmp_path, ROOT)  # the programs run in ROOT
    first = checkpointed_run(tmp_path)  # absolute here; the files are the same either way
    assert (
        f'model_checkpoint_path: "{first[-1].name}"'
        in (first[-1].parent / "checkpoint").read_text()
    )
    resumed = train(relative, "--resume", "--max-steps=6000", "--checkpoint-every=20")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming the run in {relative}" in resumed.stderr
    now = sorted(int(p.name.split("-")[1].split(".")[0]) for p in first[-1].parent.glob("*.index"))
    assert now[0] > int(first[-1].name.split("-")[1])  # went on past the first part, and pruned
    assert not any(prefix.with_suffix(".index").exists() for prefix in first)


# A study of a few seconds a trial (tests/test_tuning.py's), for each program's flags.
STUDY = [
    "--tune",
    "--env=CartPole-v1",
    "--trials=1",
    "--trial-steps=1024",
    "--trial-evaluations=2",
    "--eval-episodes=3",
    "--update-freq=8",
    "--tune-params=lr",
]
A2C_STUDY = [*STUDY, "--num-envs=4"]
A3C_STUDY = [*STUDY, "--workers=2", "--envs-per-worker=2"]


def test_studies_of_two_algorithms_in_one_save_dir_keep_their_own_trials_and_plots(tmp_path):
    a2c = run(*A2C_STUDY, f"--save_dir={tmp_path}", program="a2c_cartpole.py")
    assert a2c.returncode == 0, a2c.stderr[-3000:]
    a2c_trials = tmp_path / "trials" / "a2c_CartPole-v1"
    before = files_under(a2c_trials)
    a2c_plot = tmp_path / "tune_a2c_CartPole-v1_history.png"
    plot_stamp = a2c_plot.stat().st_mtime_ns
    a3c = run(*A3C_STUDY, f"--save_dir={tmp_path}", program="a3c_cartpole.py")
    assert a3c.returncode == 0, a3c.stderr[-3000:]
    assert "--overwrite" not in a3c.stderr  # nothing of the first study replaced
    assert files_under(a2c_trials) == before and a2c_plot.stat().st_mtime_ns == plot_stamp
    a3c_trial = tmp_path / "trials" / "a3c_CartPole-v1" / "trial_0000"
    assert (a3c_trial / "model_CartPole-v1.weights.h5").is_file()
    assert f"plot: {tmp_path / 'tune_a3c_CartPole-v1_history.png'}" in a3c.stdout
    storage = tuning.open_storage(str(tmp_path / "tune_CartPole-v1.journal"))
    assert sorted(optuna.get_all_study_names(storage)) == ["a2c_CartPole-v1", "a3c_CartPole-v1"]


def test_a_journal_line_cut_short_is_dropped_with_a_warning_and_the_study_goes_on(tmp_path):
    first = run(*A2C_STUDY, f"--save_dir={tmp_path}", program="a2c_cartpole.py")
    assert first.returncode == 0, first.stderr[-3000:]
    journal = tmp_path / "tune_CartPole-v1.journal"
    whole = journal.read_bytes()
    last = whole.splitlines(keepends=True)[-1]
    journal.write_bytes(whole + last[: len(last) // 2])  # a write a full disk cut short
    damaged = journal.read_bytes()
    args = [arg for arg in A2C_STUDY if arg != "--trials=1"]
    resumed = run(
        *args, "--trials=3", "--resume", f"--save_dir={tmp_path}", program="a2c_cartpole.py"
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Traceback" not in resumed.stderr
    warnings = [line for line in resumed.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1, resumed.stderr
    copies = list(tmp_path.glob("tune_CartPole-v1.journal.damaged-*"))
    assert len(copies) == 1 and copies[0].read_bytes() == damaged  # kept as it was
    assert f"{journal} had 1 damaged line(s)" in warnings[0] and str(copies[0]) in warnings[0]
    storage = tuning.open_storage(str(journal))
    study = optuna.load_study(study_name="a2c_CartPole-v1", storage=storage)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3


def test_a_line_cut_short_with_the_next_write_after_it_keeps_that_write():
    lines = [b'{"op_code":0,"worker_id":"a"}', b'{"op_code":4,"worker_id":"a","value":1}']
    glued = lines[0][:12] + lines[1]  # the next write appended to the partial line
    data = b"\n".join([lines[0], glued, lines[1]]) + b"\n" + lines[1][:9]
    kept, dropped = tuning.journal_damage(data)
    assert kept == b"\n".join([lines[0], lines[1], lines[1]]) + b"\n"
    assert dropped == 2  # the broken start of the glued line, and the last line
    assert tuning.journal_damage(kept) is None


def running(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, ended but not reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] != b"Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the watchdog reads /proc")
def test_a_study_s_other_job_ends_when_the_study_s_process_is_killed(tmp_path):
    study = [arg for arg in A2C_STUDY if arg != "--trials=1"]
    process = start(
        "a2c_cartpole.py", *study, "--trials=200", "--tune-jobs=2", f"--save_dir={tmp_path}"
    )
    job = None
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # until the job (its own process) runs a trial
            assert process.poll() is None, process.communicate()[1][-3000:]
            for pid, (parent, _) in process_table().items():
                if parent == process.pid and tuning.JOB_MARKER.encode() in command_line(pid):
                    job = pid
            journal = tmp_path / "tune_CartPole-v1.journal"
            if job and journal.exists():
                storage = tuning.open_storage(str(journal))
                study = optuna.load_study(study_name="a2c_CartPole-v1", storage=storage)
                if any(t.user_attrs.get("pid") == job for t in study.trials):
                    break
            time.sleep(0.5)
        assert job is not None and running(job)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        ended = time.monotonic() + 5
        while running(job) and time.monotonic() < ended:
            time.sleep(0.1)
        assert not running(job)
    finally:
        if process.poll() is None:
            process.kill()
        if job is not None and running(job):
            with contextlib.suppress(OSError):
                os.kill(job, signal.SIGKILL)
