"""The parts of the command-line programs that A3C and A2C share: baseline, play, report, errors."""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from agents.episode_log import Episode, save_episodes_csv
from agents.evaluation import EvalResult, evaluate, play
from agents.random_agent import RandomAgent
from models import ActorCriticModel
from utils.checkpoint import CheckpointError, load_weights, model_path
from utils.envs import EnvError, env_dims, make_env, reward_threshold
from utils.flags import exit_with_error
from utils.plotting import plot_moving_average


class UsageError(ValueError):
    """Bad input from the user, reported as one line and exit status 2."""


USER_ERRORS = (UsageError, EnvError, CheckpointError)


def exit_on_user_error(main: Callable) -> Callable:
    """Wraps an absl ``main``: a ``USER_ERRORS`` exception prints one line and exits 2."""

    @functools.wraps(main)
    def wrapped(argv):
        try:
            return main(argv)
        except USER_ERRORS as error:
            exit_with_error(str(error))

    return wrapped


def prepare_save_dir(save_dir: str | os.PathLike) -> Path:
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
        raise UsageError(
            f"--save_dir={save_dir} cannot be created or written: {error.strerror}"
        ) from None
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
    env_id: str,
    save_dir: str,
    episodes: int,
    seed: int,
    hidden_units: Sequence[int],
    program: str,
    out=print,
) -> EvalResult:
    """Loads ``model_<env>.weights.h5`` from ``save_dir`` and plays greedy episodes, printing them.

    Raises:
        CheckpointError: if there is no saved model or it does not fit the env (with how to train).
    """
    model = build_model(env_id, hidden_units)
    path = model_path(save_dir, env_id)
    load_weights(
        model,
        path,
        train_hint=f"train one with: python {program} --train --env={env_id} --save_dir={save_dir}",
    )
    result = play(model, env_id, episodes=episodes, seed=seed, out=out)
    out(f"played {path}: " + result.summary())
    return result


def finish_training(
    title: str,
    env_id: str,
    save_dir: Path,
    episodes: list[Episode],
    model,
    eval_episodes: int,
    seed: int,
    out=print,
) -> EvalResult:
    """Writes the plot and episode CSV, evaluates ``model`` greedily, prints where it all is.

    Args:
        title: plot title, such as ``"A3C on CartPole-v1"``.
        model: the saved best model, loaded; evaluated over ``eval_episodes`` episodes seeded
            from ``seed + 10_000`` (seeds the training envs did not start from).
    """
    plot = plot_moving_average(
        episodes, save_dir / f"{env_id}_moving_average.png", title, reward_threshold(env_id)
    )
    csv = save_episodes_csv(episodes, save_dir / f"{env_id}_episodes.csv")
    result = evaluate(model, env_id, episodes=eval_episodes, seed=seed + 10_000)
    steps = episodes[-1].env_steps if episodes else 0
    seconds = episodes[-1].seconds if episodes else 0.0
    out(
        f"trained {len(episodes)} episodes, {steps} env steps in {seconds:.1f} s "
        f"({steps / max(seconds, 1e-9):.0f} env steps/s)"
    )
    out(f"model: {model_path(save_dir, env_id)}")
    out(f"plot: {plot}")
    out(f"episode log: {csv}")
    out(result.summary())
    return result
