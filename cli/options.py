"""What a run of a3c_cartpole.py or a2c_cartpole.py does, apart from the hyperparameters: the
mode (baseline, train, play, evaluate, export), where files go, and how to play."""

from __future__ import annotations

import dataclasses

from utils.settings import at_least, one_of, setting, validate


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The command line's own settings; ``--helpshort`` prints each one's help.

    Raises:
        ConfigError: for a value of the wrong type or outside its range.
    """

    algorithm: str = setting(
        "a3c",
        "The program's actor-critic algorithm, or random: the uniform random baseline "
        "(with or without --train), for --max_eps episodes or --max_steps env steps.",
        one_of("a3c", "a2c", "random"),
    )
    train: bool = setting(False, "Train a model; without it, play the saved model.")
    save_dir: str = setting("runs/a3c", "Directory for the model, the plot, logs, checkpoints.")
    resume: bool = setting(False, "Continue training from the newest checkpoint in --save_dir.")
    overwrite: bool = setting(
        False,
        "With --train: start afresh where --save_dir already holds a run on this env, removing "
        "its model, checkpoints, episode log and plot (without it such a run is refused).",
    )
    model: str = setting(
        "",
        "The saved model to play, evaluate or export: a .weights.h5 or .keras file "
        "(default: <save_dir>/model_<env>.weights.h5).",
    )
    episodes: int = setting(1, "Greedy episodes to play without --train.", at_least(1))
    render: str = setting(
        "none", "Play in a window (human) or not (none).", one_of("none", "human")
    )
    record: str = setting("", "Also write the played episodes to this .gif or .mp4 file.")
    evaluate: bool = setting(
        False, "Evaluate the saved model over --eval_episodes seeded greedy episodes, not play."
    )
    export: str = setting(
        "", "Write the saved (with --train, the trained) model to this .keras file."
    )
    tune: bool = setting(
        False,
        "Tune the hyperparameters with an Optuna study of --trials training runs instead of "
        "training one (docs/TUNING.md); --resume goes on with the study in --save_dir.",
    )
    trials: int = setting(20, "With --tune: trials the study is to have.", at_least(1))
    trial_steps: int = setting(
        0, "With --tune: env steps of each trial; 0: --max_steps.", at_least(0)
    )
    trial_evaluations: int = setting(
        4,
        "With --tune: greedy evaluations in each trial (of --eval_episodes), which judge it and "
        "let the pruner stop it early.",
        at_least(1),
    )
    tune_jobs: int = setting(
        1, "With --tune: processes on this machine that run trials at once.", at_least(1)
    )
    tune_params: str = setting(
        "",
        "With --tune: the settings to tune, comma-separated; empty: every setting with a "
        "search space (docs/TUNING.md lists them: lr, gamma, update_freq, ...).",
    )
    tune_space: str = setting(
        "",
        "With --tune: a JSON file of search spaces that replace or add to the settings' own, "
        '{"lr": {"low": 1e-4, "high": 1e-2, "log": true}, "update_freq": {"choices": [5, 16]}}.',
    )
    tune_storage: str = setting(
        "",
        "With --tune: the study's Optuna storage, a database URL (sqlite:///study.db, "
        "postgresql://...) shared by machines, or a journal file; empty: "
        "<save_dir>/tune_<env>.journal.",
    )
    tune_pruner: str = setting(
        "median",
        "With --tune: stop trials worse than the median of the others at the same evaluation "
        "(median), by successive halving (halving), or never (none).",
        one_of("median", "halving", "none"),
    )

    def __post_init__(self):
        validate(self)
