"""The command line that a3c_cartpole.py and a2c_cartpole.py share: baseline, play, train, report.

Each entry point defines its flags and a ``trainer`` function; ``run`` does the rest.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from absl import flags

from agents.config import ActorCriticConfig
from agents.episode_log import Episode, save_episodes_csv
from agents.evaluation import EvalResult, evaluate, play
from agents.random_agent import RandomAgent
from models import ActorCriticModel
from utils.checkpoint import CheckpointError, load_weights, model_path
from utils.envs import EnvError, env_dims, make_env, reward_threshold
from utils.flags import config_from_flags, exit_with_error
from utils.plotting import plot_moving_average

FLAGS = flags.FLAGS


class UsageError(ValueError):
    """Bad input from the user, reported as one line and exit status 2."""


USER_ERRORS = (UsageError, EnvError, CheckpointError)


class TrainOutcome(NamedTuple):
    """What a ``train`` function of an entry point returns.

    Attributes:
        title: names the algorithm and env, such as ``"A3C on CartPole-v1"``.
        episodes: the finished training episodes, in order.
        env_steps: env steps of training.
        train_seconds: seconds of training, periodic evaluations excluded.
    """

    title: str
    episodes: list[Episode]
    env_steps: int
    train_seconds: float


def run(
    program: str,
    config_class: type[ActorCriticConfig],
    trainer: Callable[[ActorCriticConfig, Path], Callable[[], TrainOutcome]],
) -> None:
    """Runs the baseline, play or training, as the flags say; user errors exit 2 with one line.

    Args:
        program: the entry point's file name, for messages.
        config_class: the algorithm's config, built from the flags of the same names.
        trainer: builds the agent for a config and save directory, writing nothing (so bad
            input fails first), and returns the function that trains it, saving the best model
            to ``model_path(save_dir, env)``.
    """
    try:
        config = config_from_flags(config_class)
        if FLAGS.algorithm == "random":
            run_random_baseline(config.env_id, FLAGS.max_eps, config.seed)
        elif not FLAGS.train:
            play_saved_model(config, FLAGS.save_dir, FLAGS.episodes, program)
        else:
            save_dir = Path(FLAGS.save_dir)
            train = trainer(config, save_dir)
            prepare_save_dir(save_dir)
            outcome = train()
            best = build_model(config.env_id, config.hidden_units)
            load_weights(best, model_path(save_dir, config.env_id))
            finish_training(config, save_dir, outcome, best)
    except USER_ERRORS as error:
        exit_with_error(str(error))


def prepare_save_dir(save_dir: str | Path) -> Path:
    """Creates ``save_dir`` if needed and checks that files can be written in it.

    Raises:
        UsageError: if it cannot be created or written.
    """
    path = Path(save_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        message = f"--save_dir={save_dir} cannot be created or written: {error.strerror}"
        raise UsageError(message) from None
    return path


def build_model(env_id: str, hidden_units: Sequence[int]) -> ActorCriticModel:
    """An untrained ``ActorCriticModel`` built for ``env_id``'s spaces."""
    env = make_env(env_id)
    obs_dim, num_actions = env_dims(env)
    env.close()
    return ActorCriticModel(num_actions, tuple(hidden_units)).build_for(obs_dim)


def run_random_baseline(env_id: str, max_eps: int, seed: int, out=print) -> float:
    """Plays ``max_eps`` random episodes, prints and returns the average return."""
    episodes = RandomAgent(env_id, max_eps, seed).run()
    average = float(np.mean([episode.episode_return for episode in episodes]))
    out(f"random baseline on {env_id}: average return {average:.1f} over {len(episodes)} episodes")
    return average


def play_saved_model(
    config: ActorCriticConfig, save_dir: str, episodes: int, program: str, out=print
) -> EvalResult:
    """Loads ``model_<env>.weights.h5`` from ``save_dir`` and plays greedy episodes, printing them.

    Raises:
        CheckpointError: if there is no saved model or it does not fit the env (with how to train).
    """
    env_id = config.env_id
    model = build_model(env_id, config.hidden_units)
    path = model_path(save_dir, env_id)
    hint = f"train one with: python {program} --train --env={env_id} --save_dir={save_dir}"
    load_weights(model, path, train_hint=hint)
    result = play(model, env_id, episodes=episodes, seed=config.seed, out=out)
    out(f"played {path}: " + result.summary())
    return result


def finish_training(
    config: ActorCriticConfig, save_dir: Path, outcome: TrainOutcome, model, out=print
) -> EvalResult:
    """Writes the plot and episode CSV, evaluates ``model`` greedily, prints where it all is.

    Args:
        model: the saved best model, loaded; evaluated over ``config.eval_episodes`` episodes
            seeded from ``config.seed + 10_000`` (seeds the training envs did not start from).
    """
    env_id = config.env_id
    plot = plot_moving_average(
        outcome.episodes,
        save_dir / f"{env_id}_moving_average.png",
        outcome.title,
        reward_threshold(env_id),
    )
    csv = save_episodes_csv(outcome.episodes, save_dir / f"{env_id}_episodes.csv")
    result = evaluate(model, env_id, episodes=config.eval_episodes, seed=config.seed + 10_000)
    steps, seconds = outcome.env_steps, outcome.train_seconds
    out(
        f"trained {len(outcome.episodes)} episodes, {steps} env steps in {seconds:.1f} s "
        f"({steps / max(seconds, 1e-9):.0f} env steps/s)"
    )
    out(f"model: {model_path(save_dir, env_id)}")
    out(f"plot: {plot}")
    out(f"episode log: {csv}")
    out(result.summary())
    return result
