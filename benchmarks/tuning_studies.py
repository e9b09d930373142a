"""Records a finished tuning study (``--tune``, docs/TUNING.md) as a section of docs/BENCHMARKS.md.

    python benchmarks/tuning_studies.py --study=tune-lunarlander-1 \
        --storage=runs/tune-lunar/tune_LunarLander-v3.journal --run-checkout=CHECKOUT

Reads the study from its storage (the journal file or database URL the study used) and writes
the section ``--study`` of docs/BENCHMARKS.md: the command that ran it; when; at which commit
(``--run-checkout``: the checkout it ran in, at the commit it ran, as ``benchmark.py
--from-runs``; ``--unknown-commit`` where that checkout is gone and its commit was not kept);
the trials by state, its wall time (first trial's start to last trial's end, in minutes) and
processes; and one row a trial: its state, its value (the last greedy evaluation; a pruned
trial's evaluation that stopped it; a failed trial's reason), the env steps it reached, its
seconds, its seed and its settings.
Each study that a preset or a doc cites is in ``STUDIES``.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path
from typing import NamedTuple

import optuna
from optuna.trial import FrozenTrial, TrialState

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from benchmark import SUITES, script_section  # noqa: E402
from evidence import write_sections  # noqa: E402

from a3c_keras.tuning import open_storage, short  # noqa: E402
from utils.errors import UsageError  # noqa: E402


class Study(NamedTuple):
    """A study's section: its heading's title, what it was for, the command that ran it."""

    title: str
    purpose: str
    command: str


LUNAR_STUDY1 = (
    "python a2c_cartpole.py --tune --env=LunarLander-v3 --trials=40 --trial-steps=500000 "
    "--eval-episodes=20 --tune-jobs=2 --tune-params=lr,optimizer,weight_init,activation,gamma,"
    "gae_lambda,update_freq,entropy_coef,max_grad_norm,value_coef --save-dir=runs/tune-lunar"
)
LUNAR_STUDY2 = (
    "python a2c_cartpole.py --tune --env=LunarLander-v3 --trials=20 --trial-steps=1000000 "
    "--eval-episodes=50 --tune-jobs=2 --tune-params=lr,gamma,update_freq,entropy_coef,"
    "value_coef,max_grad_norm --tune-space=docs/tuning/lunarlander_study2.json "
    "--optimizer=rmsprop_torch --weight-init=orthogonal --activation=tanh --update-freq=128 "
    "--lr=0.00509785 --gamma=0.995896 --gae-lambda=0.999852 --entropy-coef=0.0113843 "
    "--value-coef=0.26849 --max-grad-norm=1.22756 --save-dir=runs/tune-lunar2"
)
MOUNTAINCAR_STUDY1 = (
    "python a2c_cartpole.py --tune --env=MountainCar-v0 --trials=30 --trial-steps=300000 "
    "--eval-episodes=20 --tune-params=lr,gamma,gae_lambda,update_freq,entropy_coef,value_coef,"
    "max_grad_norm,optimizer,weight_init --save-dir=runs/tune-mc2"
)
MOUNTAINCAR_STUDY2 = (
    "python a2c_cartpole.py --tune --env=MountainCar-v0 --trials=12 --trial-steps=1000000 "
    "--eval-episodes=20 --tune-jobs=2 --tune-params=optimizer,weight_init,lr,update_freq,gamma "
    "--save-dir=runs/tune-mc3"
)
ACROBOT_STUDY1 = (
    "python a2c_cartpole.py --tune --env=Acrobot-v1 --trials=30 --trial-steps=200000 "
    "--eval-episodes=20 --save-dir=runs/tune-acro"
)
ACROBOT_STUDY2 = (
    "python a2c_cartpole.py --tune --env=Acrobot-v1 --trials=24 --trial-steps=200000 "
    "--eval-episodes=20 --tune-jobs=2 --entropy-coef=0.01 --lr=0.001 --optimizer=adam "
    "--gamma=0.99 --gae-lambda=1 --update-freq=8 --value-coef=0.5 --max-grad-norm=0.5 "
    "--hidden-units=128 --weight-init=glorot --save-dir=runs/tune-acro2"
)
STUDIES = {
    "tune-mountaincar-1": Study(
        "Optuna study 1 on MountainCar-v0: 30 trials of 300k env steps",
        "Nine settings searched over the hand-tuned preset (the settings not searched; trial 0 "
        "was drawn like the others: the code of the time did not run the base settings first); "
        "each trial judged by the best of 4 greedy evaluations of 20 episodes (its value here; "
        "trials are judged by their last since), median pruner. Its best trial gave -135.9, "
        "-127.3 and -116.0 on fresh seeds (docs/TUNING.md): a lucky trial.",
        MOUNTAINCAR_STUDY1,
    ),
    "tune-mountaincar-2": Study(
        "Optuna study 2 on MountainCar-v0: 12 trials of 1M env steps",
        "Five settings searched over study 1's best (the preset of the time: the settings not "
        "searched; trial 0 was drawn like the others); each trial judged by the last of 4 "
        "greedy evaluations of 20 episodes. Its trial 11 is the MountainCar-v0 preset "
        "(a2c-mountaincar-tuned).",
        MOUNTAINCAR_STUDY2,
    ),
    "tune-acrobot-1": Study(
        "Optuna study 1 on Acrobot-v1: 30 trials of 200k env steps",
        "Every setting with a search space, over the hand-tuned preset (trial 0 was drawn like "
        "the others: the code of the time did not run the base settings first); each trial "
        "judged by the best of 4 greedy evaluations of 20 episodes (its value here). Its best "
        "gave -500, -84.4 and -500 on fresh seeds (a2c-acrobot-tuned): not a preset.",
        ACROBOT_STUDY1,
    ),
    "tune-acrobot-2": Study(
        "Optuna study 2 on Acrobot-v1: stopped after 20 of 24 trials of 200k env steps",
        "Every setting with a search space, from the hand-tuned preset stated in flags: trial 0 "
        "ran it where it lay in the spaces (GAE 1 and a 128-unit trunk did not, and were "
        "drawn); each trial judged by the last of 4 greedy evaluations of 20 episodes. Stopped "
        "by hand after 20 counted trials: its two running trials are recorded as interrupted. "
        "None reached the hand-tuned preset's measurements, which stays the preset.",
        ACROBOT_STUDY2,
    ),
    "tune-lunarlander-1": Study(
        "Optuna study 1 on LunarLander-v3: 40 trials of 500k env steps",
        "Ten settings searched from the hand-tuned preset (trial 0 runs it); each trial judged "
        "by the last of 4 greedy evaluations of 20 episodes, median pruner. It ran before a "
        "trial's last evaluation was kept from the pruner: trial 37, pruned at 500k env steps, "
        "ran its budget. Its three best trials, trained again on seeds 50-52, gave 161-237 "
        "(docs/TUNING.md).",
        LUNAR_STUDY1,
    ),
    "tune-lunarlander-2": Study(
        "Optuna study 2 on LunarLander-v3: 20 trials of 1M env steps",
        "From study 1's trial 36 (trial 0 runs it), with PyTorch's RMSprop, orthogonal "
        "initialisation, tanh and GAE lambda fixed, six settings in narrowed ranges; each trial "
        "judged by the last of 4 greedy evaluations of 50 episodes. It ran before a trial's last "
        "evaluation was kept from the pruner: a trial pruned at 1M env steps ran its budget. "
        "Its trial 16 is the LunarLander-v3 preset (a2c-lunarlander-tuned).",
        LUNAR_STUDY2,
    ),
}


def settings(trial: FrozenTrial) -> str:
    """A trial's settings as ``name=value`` words (``1-gamma`` shown as gamma)."""
    words = []
    for name, value in trial.params.items():
        if name.startswith("1-"):
            name, value = name[2:], 1.0 - value
        words.append(f"{name}={short(value)}")
    return " ".join(words)


FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def outcome(trial: FrozenTrial) -> tuple[str, str]:
    """(state, value) of a finished trial's row: "completed" and the value the study judged it
    by; "pruned" and the evaluation that stopped it; "interrupted" (a signal; not counted by
    the study) and nothing; "failed" and its reason."""
    if trial.state == TrialState.COMPLETE:
        return "completed", f"{trial.value:.1f}"
    if trial.state == TrialState.PRUNED:
        last = max(trial.intermediate_values, default=None)
        return "pruned", "" if last is None else f"{trial.intermediate_values[last]:.1f}"
    if trial.user_attrs.get("interrupted"):
        return "interrupted", ""
    return "failed", str(trial.user_attrs.get("failure", ""))[:80]


def body(study: optuna.Study, trials: list[FrozenTrial]) -> str:
    """The lines and the table of a study's finished ``trials`` (at least one): the trials by
    state, minutes from the first one's start to the last one's end, the processes that ran
    them, a row each, and the best completed one."""
    states = collections.Counter(outcome(trial)[0] for trial in trials)
    started = min(t.datetime_start for t in trials)
    ended = max(t.datetime_complete for t in trials)
    processes = len({(t.user_attrs.get("host"), t.user_attrs.get("pid")) for t in trials})
    running = len(study.trials) - len(trials)
    lines = [
        f"- Study `{study.study_name}`: {len(trials)} trial{'s' if len(trials) > 1 else ''} ("
        + ", ".join(f"{count} {state}" for state, count in states.items())
        + f"); {(ended - started).total_seconds() / 60:.1f} minutes from the first trial's "
        f"start to the last one's end, {processes} process{'es' if processes > 1 else ''}"
        + (f"; {running} not finished, left out." if running else "."),
        "",
        "| trial | state | value | env steps | seconds | seed | settings |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for trial in trials:
        state, value = outcome(trial)
        steps = max(trial.intermediate_values, default=0)
        seconds = trial.user_attrs.get("seconds", "")
        seed = trial.user_attrs.get("seed", "")
        row = [trial.number, state, value, steps, seconds, seed, settings(trial)]
        lines.append("| " + " | ".join(map(str, row)) + " |")
    completed = [trial for trial in trials if trial.state == TrialState.COMPLETE]
    if completed:
        best = max(completed, key=lambda trial: trial.value)
        lines += ["", f"Best: trial {best.number}, {best.value:.1f} ({settings(best)})."]
    else:
        lines += ["", "No trial completed."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", required=True, help=f"one of {', '.join(STUDIES)}")
    parser.add_argument("--storage", required=True, help="the study's journal file or URL")
    parser.add_argument(
        "--name", default="", help="the study's name, where the storage holds several"
    )
    parser.add_argument(
        "--run-checkout", default="", help="the checkout the study ran in, at the commit it ran"
    )
    parser.add_argument(
        "--unknown-commit",
        action="store_true",
        help="the checkout the study ran in is gone and its commit was not kept: say so",
    )
    parser.add_argument("--output", default=str(ROOT / "docs" / "BENCHMARKS.md"))
    args = parser.parse_args()
    if args.study not in STUDIES:
        sys.exit(f"error: --study={args.study}: give one of {', '.join(STUDIES)}")
    if bool(args.run_checkout) == args.unknown_commit:
        sys.exit("error: give --run-checkout=CHECKOUT (where the study ran) or --unknown-commit")
    local = args.storage.removeprefix("sqlite:///")  # a file: a journal or an SQLite database
    if "://" not in local and not Path(local).is_file():
        sys.exit(f"error: --storage={args.storage}: no such file")
    try:
        storage = open_storage(args.storage)
    except UsageError as error:
        sys.exit("error: " + str(error).replace("--tune_storage", "--storage", 1))
    names = [summary.study_name for summary in optuna.get_all_study_summaries(storage)]
    if not names:
        sys.exit(f"error: --storage={args.storage} holds no study")
    if args.name and args.name not in names:
        sys.exit(f"error: --storage={args.storage} holds no study {args.name} (it holds {names})")
    if not args.name and len(names) > 1:
        sys.exit(f"error: --storage={args.storage} holds the studies {names}: give --name")
    name = args.name or names[0]
    study = optuna.load_study(study_name=name, storage=storage)
    trials = [t for t in study.trials if t.state in FINISHED and t.datetime_complete]
    if not trials:
        sys.exit(f"error: the study {name} has no finished trial")
    entry = STUDIES[args.study]
    started = min(t.datetime_start for t in trials)
    text = script_section(
        args.study,
        entry.title,
        entry.purpose,
        f"`{entry.command}`; recorded by `python benchmarks/tuning_studies.py "
        f"--study={args.study} --storage=...`",
        body(study, trials),
        root=None if args.unknown_commit else Path(args.run_checkout),
        date=started.strftime("%Y-%m-%d"),
    )
    write_sections(Path(args.output), {args.study: text}, order=list(SUITES))
    print(text)


if __name__ == "__main__":
    main()
