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

    def __post_init__(self):
        validate(self)
