"""docs/BENCHMARKS.md is evidence: a rewrite keeps every section it does not measure again, and
keeps an older measurement of the suite it does, marked superseded; a stop while writing keeps
the file whole."""

import signal
import subprocess
import sys
import time

import pytest

from tests.programs import ROOT, run, start
from utils.provenance import code_revision

sys.path.insert(0, str(ROOT / "benchmarks"))
import benchmark  # noqa: E402
import evidence  # noqa: E402

OLD = (
    "# Benchmarks\n\nheader\n\n"
    "## `a2c`: A2C, defaults\n\n- Measured 2026-11-22 by ... at commit 42c5aba on a machine.\n\n"
    "old table\n\n"
    "## `a2c-step-costs`: written by another script\n\nits table\n\n"
    "## `a3c-threads-scaling@before`: a renamed suite, tagged\n\nkept\n\n"
    "## A section without a key\n\nkept too\n"
)
NEW = (
    "## `a2c`: A2C, defaults\n\n- Measured 2026-11-26 by ... at commit 9e4ecb6 on a machine.\n\n"
    "new table\n"
)


def test_rewriting_a_suite_keeps_unknown_and_renamed_sections_and_the_older_measurement():
    new = evidence.merge_sections(OLD, {"a2c": NEW}, order=["a2c", "a3c"])
    for text in ("written by another script", "a renamed suite, tagged", "kept too", "header"):
        assert text in new
    assert new.count("\n## ") == 5
    # The new measurement comes first, the old one right below it, marked and re-anchored.
    assert new.index("new table") < new.index("old table") < new.index("its table")
    assert "## `a2c` (superseded, measured 2026-11-22 at 42c5aba): A2C, defaults" in new
    assert '<a id="a2c"></a>' in new and '<a id="a2c--2026-11-22-42c5aba"></a>' in new
    assert '<a id="a2c-step-costs"></a>' in new
    # Writing nothing changes nothing; writing the same measurement again adds no section.
    assert evidence.merge_sections(new, {}, order=["a2c"]) == new
    assert evidence.merge_sections(new, {"a2c": NEW}, order=["a2c"]) == new
    # A third measurement keeps both older ones, newest first.
    third = NEW.replace("2026-11-26", "2026-11-27").replace("9e4ecb6", "abcdef1")
    newer = evidence.merge_sections(new, {"a2c": third.replace("new", "newest")}, order=["a2c"])
    assert newer.count("\n## ") == 6
    assert newer.index("newest table") < newer.index("new table") < newer.index("old table")
    # The suite measured again on the same day at the same commit (an @before side of a second
    # comparison): both kept, the older numbered.
    again = evidence.merge_sections(newer, {"a2c": NEW.replace("new table", "| 1 |")}, ["a2c"])
    twice = evidence.merge_sections(again, {"a2c": NEW.replace("new table", "| 2 |")}, ["a2c"])
    assert twice.count("\n## ") == 8 and "| 1 |" in twice and "| 2 |" in twice
    assert '<a id="a2c--2026-11-26-9e4ecb6-2"></a>' in twice


def test_a_benchmark_stopped_while_writing_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(OLD)

    def fail(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(evidence.os, "replace", fail)
    with pytest.raises(KeyboardInterrupt):
        evidence.write_sections(path, {"a2c": NEW}, order=["a2c"])
    assert path.read_text() == OLD
    assert [p.name for p in tmp_path.iterdir()] == ["BENCHMARKS.md"]  # no temporary left


def test_every_section_of_the_benchmarks_file_has_its_anchor_and_keys_are_unique():
    text = (ROOT / "docs" / "BENCHMARKS.md").read_text()
    _, sections = evidence.parse(text)
    assert len(sections) == text.count("\n## ")
    for section in sections.values():
        assert f'<a id="{evidence.anchor(section)}"></a>' in section
    # The file is as the writer leaves it: written again, nothing moves.
    assert evidence.merge_sections(text, {}, order=list(benchmark.SUITES)) == text


def test_a_script_section_says_its_command_date_commit_and_versions_and_merges_as_its_key():
    text = benchmark.script_section(
        "a3c-x", "a title", "What it shows.", "`python x.py`", "| t |\n"
    )
    heading, *_ = text.splitlines()
    assert heading == "## `a3c-x`: a title" and "- Command: `python x.py`." in text
    date, commit = evidence.measured(text)
    assert date and commit and "- Versions: Python" in text and text.endswith("| t |\n")
    merged = evidence.merge_sections(OLD, {"a3c-x": text}, order=["a2c"])
    assert evidence.parse(merged)[1]["a3c-x"].startswith(heading + '\n<a id="a3c-x"></a>')


def test_a_tuning_study_is_recorded_trial_by_trial_into_the_benchmarks_file(tmp_path):
    import datetime

    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import FrozenTrial, TrialState

    from a3c_keras import tuning

    storage = str(tmp_path / "tune_LunarLander-v3.journal")
    study = optuna.create_study(
        study_name="a2c_LunarLander-v3", storage=tuning.open_storage(storage)
    )
    start = datetime.datetime(2026, 11, 27, 12, 0, 0)
    spaces = {
        "lr": FloatDistribution(1e-5, 1e-2, log=True),
        "1-gamma": FloatDistribution(1e-4, 0.03),
    }

    def trial(state, minutes, params, steps, value=None, user_attrs=None):
        study.add_trial(
            FrozenTrial(
                number=0,  # the storage numbers them
                state=state,
                value=value,
                datetime_start=start + datetime.timedelta(minutes=minutes),
                datetime_complete=start + datetime.timedelta(minutes=minutes + 2),
                params=params,
                distributions=spaces,
                user_attrs=user_attrs or {},
                system_attrs={},
                intermediate_values=steps,
                trial_id=0,
            )
        )

    trial(
        TrialState.COMPLETE,
        0,
        {"lr": 1e-3, "1-gamma": 0.01},
        {500: 10.0, 1000: 250.25},
        value=250.25,
        user_attrs={"seed": 0, "seconds": 61.5, "pid": 1},
    )
    trial(
        TrialState.PRUNED,
        1,
        {"lr": 1e-4, "1-gamma": 0.02},
        {500: -80.0},
        user_attrs={"seed": 1, "seconds": 30.0, "pid": 2},
    )
    trial(
        TrialState.FAIL,
        3,
        {"lr": 9e-3, "1-gamma": 0.001},
        {},
        user_attrs={"failure": "updates went NaN", "pid": 1},  # no seed: set after training
    )
    output = tmp_path / "BENCHMARKS.md"
    output.write_text("# Benchmarks\n\n## `a2c`: kept\n\nits table\n")
    script = [sys.executable, "benchmarks/tuning_studies.py", "--study=tune-lunarlander-2"]
    arguments = [f"--storage={storage}", "--unknown-commit", f"--output={output}"]
    result = subprocess.run(script + arguments, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    sections = evidence.parse(output.read_text())[1]
    assert list(sections) == ["a2c", "tune-lunarlander-2"]  # the older section kept
    text = sections["tune-lunarlander-2"]
    assert "- Measured 2026-11-27 at an unrecorded commit" in text
    assert (
        "3 trials (1 completed, 1 pruned, 1 failed); 5.0 minutes" in text and "2 processes" in text
    )
    assert "| 0 | completed | 250.2 | 1000 | 61.5 | 0 | lr=0.001 gamma=0.99 |" in text
    assert "| 1 | pruned | -80.0 | 500 | 30.0 | 1 | lr=0.0001 gamma=0.98 |" in text
    assert "| 2 | failed | updates went NaN | 0 |  |  | lr=0.009 gamma=0.999 |" in text
    assert "Best: trial 0, 250.2 (lr=0.001 gamma=0.99)." in text
    # A study with no completed trial, and one still running, is recorded without them.
    study = optuna.create_study(study_name="other", storage=tuning.open_storage(storage))
    trial(TrialState.PRUNED, 0, {"lr": 1e-4, "1-gamma": 0.02}, {500: -80.0})
    study.ask()  # running
    result = subprocess.run(script + arguments + ["--name=other"], cwd=ROOT, capture_output=True)
    assert result.returncode == 0, result.stderr[-2000:]
    text = evidence.parse(output.read_text())[1]["tune-lunarlander-2"]
    assert "`other`: 1 trial (1 pruned); 2.0 minutes" in text and "1 not finished, left out" in text
    assert "No trial completed." in text
    result = subprocess.run(script + arguments, cwd=ROOT, capture_output=True, text=True)
    assert "holds the studies ['a2c_LunarLander-v3', 'other']: give --name" in result.stderr


def test_a_run_of_two_parts_is_recorded_with_each_part_and_its_curve(tmp_path, monkeypatch):
    save_dir, log = tmp_path / "run", tmp_path / "run.log"
    flags = ["--train", "--eval-interval=1024", "--eval-episodes=2", f"--save_dir={save_dir}"]
    for extra in (["--max-steps=2048"], ["--max-steps=4096", "--resume"]):  # two sessions
        result = run(*flags, *extra, program="a2c_cartpole.py")
        assert result.returncode == 0, result.stderr[-2000:]
        with log.open("a") as handle:  # the parts' output, appended as `>> log 2>&1` does
            handle.write(result.stdout + result.stderr)
    suite = benchmark.Suite("A2C in two parts", ["a2c_cartpole.py", "--train"], "why", [0])
    monkeypatch.setitem(benchmark.SUITES, "two-parts", suite)
    row = benchmark.finished_run(suite, 0, log, save_dir, ROOT)
    parts = row["parts"]
    assert [(p["part"], p["env_steps_start"], p["env_steps_end"]) for p in parts] == [
        (1, 0, 2048),
        (2, 2048, 4096),
    ]
    assert row["env_steps"] == 4096 and row["wall_s"] == pytest.approx(
        sum(p["wall_seconds"] for p in parts)
    )
    text = benchmark.section("two-parts", "two-parts", [0], [row], " --from-runs=...", ROOT)
    commit = code_revision()
    assert f"at commit {commit} (the last part's; each part's below)" in text
    assert f"| 1 | {commit} | " in text and "| 0 to 2,048 |" in text
    assert f"| 2 | {commit} | " in text and "| 2,048 to 4,096 |" in text
    assert text.count("| finished |") == 2
    # The curve: at each evaluation during training, with its greedy mean.
    assert [point[0] for point in row["curve"]] == [1024, 2048, 3072, 4096]
    assert all(point[3] is not None for point in row["curve"])
    assert "| 4,096 | " in text
    # A run whose last part stopped before its budget is not recorded yet.
    directory = save_dir / "checkpoints_CartPole-v1"
    before = set(directory.glob("*.index"))
    process = start(
        "a2c_cartpole.py", *flags, "--max-steps=10000000", "--resume", "--checkpoint-every=5"
    )
    deadline = time.monotonic() + 120
    while set(directory.glob("*.index")) <= before and time.monotonic() < deadline:
        time.sleep(0.2)  # until part 3 has trained and checkpointed
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM
    with pytest.raises(SystemExit, match="has not finished: its part 3 ended 'stopped' at"):
        benchmark.finished_run(suite, 0, log, save_dir, ROOT)
