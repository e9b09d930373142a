"""Tuning with Optuna (``--tune``): a small study runs, prunes, records a failed trial and goes
on, resumes after an interrupt with its trials, shares one storage between processes without
running a trial twice, and refuses bad input with one line before writing anything."""

import json
import signal
import time

import gymnasium as gym
import optuna
import pytest
from optuna.trial import TrialState

from a3c_keras import A2C, tuning
from config.hyperparameters import A2CConfig
from tests.custom_envs import Corridor
from tests.programs import ROOT, error_line, run, start
from utils.errors import UsageError
from utils.settings import Search

# A trial of a few seconds: CartPole, 4 envs x t_max 8, two evaluations of 3 episodes.
SMALL = [
    "--env=CartPole-v1",
    "--trial-steps=1024",
    "--trial-evaluations=2",
    "--eval-episodes=3",
    "--num-envs=4",
    "--update-freq=8",
]


def tune(*args, **kwargs):
    return run("--tune", *args, program="a2c_cartpole.py", **kwargs)


def load(save_dir, env="CartPole-v1", algorithm="a2c"):
    storage = tuning.open_storage(str(save_dir / f"tune_{env}.journal"))
    return optuna.load_study(study_name=f"{algorithm}_{env}", storage=storage)


def test_a_small_study_runs_reports_the_best_settings_and_writes_its_plots(tmp_path):
    result = tune(*SMALL, "--trials=3", "--tune-params=lr,entropy_coef", f"--save_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("tuning A2C on CartPole-v1: 3 trials of 1024 env steps, 2 settings")
    trial_lines = [line for line in lines if line.startswith("trial ")]
    assert [line.split(":")[0] for line in trial_lines] == ["trial 0", "trial 1", "trial 2"]
    assert all("-> greedy" in line for line in trial_lines)
    study = load(tmp_path)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    assert set(study.trials[0].params) == {"lr", "entropy_coef"}
    assert [t.user_attrs["seed"] for t in study.trials] == [0, 1, 2]  # a seed of its own
    assert study.trials[0].params["lr"] == A2CConfig().lr  # trial 0: the base settings
    best = study.best_trial
    assert f"best: trial {best.number}, greedy {best.value:.1f}" in result.stdout
    # The best settings as a preset entry that Python reads back, and the command.
    entry = result.stdout.split("as a preset (config/presets.py):\n")[1].split("re-run:")[0]
    assert "'lr': " in entry and "'max_steps': 1024" in entry and "evidence=()" in entry
    rerun = next(line for line in lines if line.startswith("re-run: python a2c_cartpole.py"))
    lr = float(f"{best.params['lr']:.6g}")
    assert f"--lr={lr:g}" in rerun.split() and "--max_steps=1024" in rerun.split()
    for trial in study.trials:  # each a normal run's files
        assert (
            tmp_path
            / f"trials/a2c_CartPole-v1/trial_{trial.number:04d}/model_CartPole-v1.weights.h5"
        ).is_file()
    assert (tmp_path / "tune_a2c_CartPole-v1_history.png").stat().st_size > 0
    assert (tmp_path / "tune_a2c_CartPole-v1_importance.png").stat().st_size > 0


def options(**changes):
    return tuning.TuneOptions(**{"trials": 2, "trial_steps": 1024, "evaluations": 2, **changes})


def base(**changes):
    settings = dict(num_envs=4, update_freq=8, eval_episodes=3, max_steps=1024)
    return A2CConfig(**{**settings, **changes})


def test_a_trial_worse_than_the_median_is_pruned(tmp_path, monkeypatch):
    # The corridor: a model that has not learned goes left at the start (its logits there are
    # its biases, 0 and 0: argmax 0) and is cut off at 40 steps, -4.0; one that has learned
    # walks right, 0.4.
    gym.register("TunedCorridor-v0", entry_point=lambda render_mode=None: Corridor())
    monkeypatch.setattr(tuning, "PRUNER_STARTUP_TRIALS", 1)
    config = base(env="TunedCorridor-v0", max_steps=2048)
    study_options = options(trial_steps=2048)
    spaces = {"lr": Search(choices=(3e-2, 1e-9))}
    tuning.check_study(config, study_options, tmp_path)
    study, _ = tuning.open_study(config, study_options, tmp_path)
    study.enqueue_trial({"lr": "0.03"})  # learns
    study.enqueue_trial({"lr": "1e-09"})  # cannot: worse at its first evaluation
    lines = []
    tuning.run_study(A2C, config, spaces, study_options, tmp_path, out=lines.append)
    trials = load(tmp_path, "TunedCorridor-v0").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.PRUNED], lines
    assert trials[0].intermediate_values[1024] > -3.9
    assert trials[1].intermediate_values[1024] == pytest.approx(-4.0)
    assert "-> pruned at 1024 env steps (greedy -4.0)" in lines[1]
    log = (
        tmp_path / "trials/a2c_TunedCorridor-v0/trial_0001/TunedCorridor-v0_episodes.csv"
    ).read_text()
    assert int(log.splitlines()[-1].split(",")[6]) <= 1024 + 32  # stopped there, not at 2048
    # The evaluation at the end of the budget is not put to the pruner: with one evaluation a
    # trial, the same two trials both run their budget and are complete, with their values.
    # The evaluation is reported at the step planned for it (1000), not at the 1024 env steps
    # of whole rollouts it came after, so trials of other rollout sizes meet at one step.
    study_options = options(trial_steps=1000, evaluations=1)
    config = base(env="TunedCorridor-v0", max_steps=1000)
    tuning.check_study(config, study_options, tmp_path / "one")
    study, _ = tuning.open_study(config, study_options, tmp_path / "one")
    study.enqueue_trial({"lr": "0.03"})
    study.enqueue_trial({"lr": "1e-09"})
    tuning.run_study(A2C, config, spaces, study_options, tmp_path / "one", out=lines.append)
    trials = load(tmp_path / "one", "TunedCorridor-v0").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.COMPLETE], lines
    assert trials[0].value > -3.9 and trials[1].value == pytest.approx(-4.0)
    assert trials[1].intermediate_values == {1000: pytest.approx(-4.0)}


def test_a_failed_trial_is_recorded_with_its_reason_and_the_study_goes_on(tmp_path):
    config, study_options = base(recurrent=True), options(trials=2)
    spaces = {"separate_value_trunk": Search(choices=(True, False))}
    tuning.check_study(config, study_options, tmp_path)
    study, _ = tuning.open_study(config, study_options, tmp_path)
    study.enqueue_trial({"separate_value_trunk": "true"})  # not with an LSTM core
    study.enqueue_trial({"separate_value_trunk": "false"})
    lines = []
    tuning.run_study(A2C, config, spaces, study_options, tmp_path, out=lines.append)
    trials = load(tmp_path).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE], lines
    assert "--recurrent and --separate_value_trunk" in trials[0].user_attrs["failure"]
    assert "-> failed: flags --recurrent and --separate_value_trunk" in lines[0]
    assert "-> greedy" in lines[1]


@pytest.mark.slow
def test_an_interrupted_study_resumes_with_the_trials_it_had(tmp_path):
    args = [*SMALL, "--trial-steps=4096", "--trials=20", f"--save_dir={tmp_path}"]
    process = start("a2c_cartpole.py", "--tune", *args)
    try:
        journal = tmp_path / "tune_CartPole-v1.journal"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if (
                journal.exists()
                and sum(t.state == TrialState.COMPLETE for t in load(tmp_path).trials) >= 2
            ):
                break
            assert process.poll() is None, process.communicate()[1][-3000:]
            time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr[-3000:]
    assert "continue the study with --resume" in stderr
    before = load(tmp_path).trials
    finished = [t for t in before if tuning.counted(t)]
    assert len(finished) >= 2
    cut = [t for t in before if t.user_attrs.get("interrupted")]
    # The trial running when the signal came (none if it came between two trials): failed,
    # not counted.
    assert len(cut) <= 1 and all(t.state == TrialState.FAIL for t in cut)
    wanted = len(finished) + 1
    refused = tune(*args)  # the study is there: --resume or --overwrite
    assert refused.returncode == 2 and "--resume" in error_line(refused)
    resumed = tune(*args[:-2], f"--trials={wanted}", f"--save_dir={tmp_path}", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"going on from {len(finished)} trials" in resumed.stdout
    after = load(tmp_path).trials
    assert [t.params for t in after[: len(before)]] == [t.params for t in before]  # kept
    assert sum(map(tuning.counted, after)) == wanted  # one more trial, not the whole study


@pytest.mark.slow
def test_two_processes_share_one_study_without_running_a_trial_twice(tmp_path):
    # 10 trials of a few seconds: the second process (a new Python importing TensorFlow)
    # starts asking while the first still has trials to run, even on a busy machine.
    flags = ["--trials=10", "--tune-jobs=2", "--tune-pruner=none", f"--save_dir={tmp_path}"]
    result = tune(*SMALL, *flags, process=True)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = load(tmp_path).trials
    assert sorted(t.number for t in trials) == list(range(10))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.user_attrs["pid"] for t in trials}) == 2  # both processes ran trials
    assert len({json.dumps(t.params, sort_keys=True) for t in trials}) == 10
    assert "(job 1)" in result.stdout
    directories = sorted(p.name for p in (tmp_path / "trials/a2c_CartPole-v1").iterdir())
    assert directories == [f"trial_{n:04d}" for n in range(10)]


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--tune-params=lr,nonsense"], "--tune_params: nonsense: no setting of A2CConfig"),
        (["--tune-params=seed"], "--tune_params: seed cannot be tuned: each trial's seed is"),
        (["--trial-steps=40"], "--trial_steps=40: each of the 2 evaluations"),
        (["--tune-storage=sqlite:////nonexistent/dir/s.db"], "cannot open it"),
        (["--train"], "--tune trains runs of its own: leave --train out"),
        (["--tune-pruner=best"], "--tune_pruner=best: must be one of median, halving, none"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, flags, words):
    save_dir = tmp_path / "study"
    result = tune(*SMALL, *flags, f"--save_dir={save_dir}")
    assert result.returncode == 2
    assert words in error_line(result)
    assert not save_dir.exists()


def test_a_space_file_narrows_widens_and_is_checked(tmp_path):
    good = tmp_path / "space.json"
    good.write_text(
        json.dumps(
            {"lr": {"low": 1e-4, "high": 1e-2, "log": True}, "num_envs": {"choices": [2, 4]}}
        )
    )
    spaces = tuning.search_spaces(A2CConfig(), False, ("lr", "num_envs"), str(good))
    assert spaces["lr"] == Search(1e-4, 1e-2, log=True)
    assert spaces["num_envs"].choices == (2, 4)
    # A complement ("1 - x") range is drawn on a log scale unless the file says otherwise.
    for extra, log in [({}, True), ({"log": False}, False)]:
        good.write_text(
            json.dumps({"gamma": {"low": 1e-3, "high": 0.1, "complement": True, **extra}})
        )
        spaces = tuning.search_spaces(A2CConfig(), False, ("gamma",), str(good))
        assert spaces["gamma"] == Search(1e-3, 0.1, log=log, complement=True)
        trial = optuna.create_study().ask()
        gamma = tuning.suggest(trial, spaces, A2CConfig)["gamma"]
        assert trial.distributions["1-gamma"].log is log and 0.9 <= gamma <= 0.999
    # A resumed study must draw each setting as its trials did (Optuna refuses another scale).
    study_options = options(trials=1)
    tuning.check_study(base(), study_options, tmp_path / "study")
    study, _ = tuning.open_study(base(), study_options, tmp_path / "study")
    log_gamma = {"gamma": Search(1e-3, 0.1, log=True, complement=True)}
    tuning.suggest(study.ask(), log_gamma, A2CConfig)
    resumed = options(trials=2, resume=True)
    tuning.check_study(base(), resumed, tmp_path / "study", log_gamma)  # the same: fine
    wider = {"gamma": Search(1e-4, 0.2, log=True, complement=True)}
    tuning.check_study(base(), resumed, tmp_path / "study", wider)  # a range may move
    linear_gamma = {"gamma": Search(1e-3, 0.1, complement=True)}
    with pytest.raises(Exception, match="--resume: the study drew 1-gamma as Float.*log=True"):
        tuning.check_study(base(), resumed, tmp_path / "study", linear_gamma)
    assert "log_std_init" in tuning.search_spaces(A2CConfig(), True)  # Box actions only
    table = (ROOT / "docs" / "TUNING.md").read_text()  # the docs list every space
    assert all(f"| `{name}`" in table for name in tuning.search_spaces(A2CConfig(), True))
    assert "log_std_init" not in tuning.search_spaces(A2CConfig(), False)
    for entry, words in [
        ({"lr": {"low": 1e-2, "high": 1e-4}}, "needs finite low < high"),
        ({"gamma": {"low": 0.5, "high": 1.5}}, "gamma must be in (0, 1]"),
        ({"lr": {"low": 0, "high": 1, "log": True}}, "a log scale needs low > 0"),
        ({"activation": {"choices": ["relu", "gelu"]}}, "must be one of relu, tanh"),
        ({"nonsense": {"choices": [1]}}, "nonsense: no such setting"),
    ]:
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(entry))
        with pytest.raises(Exception, match=words.replace("(", r"\(").replace(")", r"\)")):
            tuning.search_spaces(A2CConfig(), False, (), str(bad))
    result = tune(*SMALL, f"--tune-space={tmp_path}/missing.json", f"--save_dir={tmp_path}/s")
    assert result.returncode == 2 and "cannot read it as JSON" in error_line(result)


@pytest.mark.parametrize(
    "entry, words",
    [
        ({"env": {"choices": ["Acrobot-v1"]}}, "env: cannot be tuned: the study's env is --env"),
        ({"eval_interval": {"low": 100, "high": 1000}}, "eval_interval: cannot be tuned"),
        ({"max_steps": {"choices": [1000, 2000]}}, "max_steps: cannot be tuned: each trial's"),
        ({"seed": {"choices": [1, 2]}}, "seed: cannot be tuned: each trial's seed is --seed"),
        ({"stop_at_eval_return": {"low": 0, "high": 9}}, "stop_at_eval_return: cannot be tuned"),
        (
            {"gamma": {"low": 1e-3, "high": 0.1, "complement": "false"}},
            'gamma: "complement" must be true or false (a JSON boolean), not "false"',
        ),
        ({"lr": {"low": 1e-4, "high": 1e-2, "log": 1}}, '"log" must be true or false'),
        ({"update_freq": {"low": 5.2, "high": 5.8}}, "holds no integer, and update_freq is one"),
        (
            {"update_freq": {"choices": list(range(1, 200_001))}},
            '"choices" has 200000 values; a space may have at most 1000',
        ),
    ],
)
def test_a_space_is_checked_by_type_before_any_work(tmp_path, entry, words):
    space = tmp_path / "space.json"
    space.write_text(json.dumps(entry))
    started = time.monotonic()
    with pytest.raises(UsageError) as error:
        tuning.search_spaces(A2CConfig(), False, (), str(space))
    assert words in str(error.value) and "\n" not in str(error.value)
    assert time.monotonic() - started < 5  # 200,000 choices are not each checked first
    result = tune(*SMALL, f"--tune-space={space}", f"--save_dir={tmp_path}/study")
    assert result.returncode == 2 and words in error_line(result)
    assert not (tmp_path / "study").exists()


def test_an_integer_range_draws_the_integers_inside_it(tmp_path):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"update_freq": {"low": 4.5, "high": 9.5}}))
    spaces = tuning.search_spaces(A2CConfig(), False, ("update_freq",), str(space))
    drawn = tuning.distributions(spaces, A2CConfig)["update_freq"]
    assert (drawn.low, drawn.high) == (5, 9)
    study = optuna.create_study()
    values = {tuning.suggest(study.ask(), spaces, A2CConfig)["update_freq"] for _ in range(30)}
    assert values <= set(range(5, 10))


def test_a_resumed_study_goes_on_with_the_base_and_budget_it_started_with(tmp_path):
    save_dir = tmp_path / "study"
    started, budget = base(hidden_units=(16,)), options(trial_steps=4096)
    tuning.check_study(started, budget, save_dir)
    tuning.open_study(started, budget, save_dir)
    assert load(save_dir).user_attrs["trial_steps"] == 4096
    resumed = budget._replace(resume=True)
    lr = {"lr": Search(1e-4, 1e-2, log=True)}
    tuning.check_study(started, resumed, save_dir, lr)  # the same base: goes on
    tuning.check_study(base(hidden_units=(16,), lr=0.5), resumed, save_dir, lr)  # a tuned one
    with pytest.raises(UsageError) as error:  # the defaults, as a --resume without the flags
        tuning.check_study(base(), options(resume=True), save_dir, lr)
    assert str(error.value) == (
        f"--resume: the study a2c_CartPole-v1 in {save_dir}/tune_CartPole-v1.journal was "
        f"started with --trial_steps=4096 --hidden_units=16, not --trial_steps=1024 "
        f"--hidden_units={','.join(map(str, A2CConfig().hidden_units))}: give its flags again "
        "(its trials and its recommendation are on them), or start a new study (--overwrite, "
        "or another --save_dir)"
    )
    # The command line: hidden_units is not tuned here (its own space would let it differ).
    result = tune(*SMALL, "--tune-params=lr", "--resume", f"--save_dir={save_dir}")
    assert result.returncode == 2
    assert "was started with --trial_steps=4096 --hidden_units=16, not --trial_steps=1024 " in (
        error_line(result)
    )
