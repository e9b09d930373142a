"""What the command line does: the random baseline, training with its final report, play (in a
window or into a GIF/MP4), evaluation and export of the saved model. Each mode receives the
config and the run options; none reads flags."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
from absl import logging

from agents.config import ActorCriticConfig
from agents.episode_log import save_episodes_csv
from agents.evaluation import EvalResult, evaluate, play
from agents.random_agent import RandomAgent
from agents.trainer import REPORT_SEED_OFFSET, Algorithm, Trainer
from agents.training_state import NoCheckpointError
from cli.options import RunOptions
from models import ActorCriticModel
from utils.checkpoint import export_model, load_model_file, load_weights, model_path
from utils.envs import env_dims, make_env, reward_threshold
from utils.files import safe_name
from utils.plotting import plot_training_curve
from utils.video import check_video_path, write_video


class UsageError(ValueError):
    """Bad input from the user, reported as one line and exit status 2."""


def train_and_report(
    config: ActorCriticConfig,
    options: RunOptions,
    make_algorithm: Callable[[ActorCriticConfig], Algorithm],
    out=print,
) -> None:
    """Trains (resuming if asked), then writes the plot and episode log, evaluates the saved
    model over new seeded episodes and reports.

    SIGINT or SIGTERM stops training cleanly: the run is checkpointed, the plot and log are
    written, and the program exits 128 + the signal number.

    Raises:
        UsageError: ``--resume`` with no checkpoint, or a ``--save_dir`` that cannot be written.
        TrainingError: training failed (a worker, or non-finite updates).
    """
    save_dir = Path(options.save_dir)
    algorithm = make_algorithm(config)
    try:
        trainer = Trainer(algorithm, save_dir, resume=options.resume)
    except NoCheckpointError as error:
        algorithm.close()
        raise UsageError(f"--resume: {error}; leave --resume out to start a new run") from None
    prepare_save_dir(save_dir)
    with stop_on_signals(trainer.request_stop) as received:
        episodes = trainer.train()
    env = config.env
    plot = plot_training_curve(
        save_dir / f"{safe_name(env)}_moving_average.png",
        trainer.title,
        [e.episode_return for e in episodes],
        [e.moving_average for e in episodes],
        reward_threshold(env),
        [(e.episodes, e.result.mean, e.result.std) for e in trainer.evaluations],
        config.eval_episodes,
    )
    csv = save_episodes_csv(episodes, save_dir / f"{safe_name(env)}_episodes.csv")
    steps, seconds = trainer.episode_log.env_steps, trainer.train_seconds
    out(
        f"trained {len(episodes)} episodes, {steps} env steps in {seconds:.1f} s "
        f"({steps / max(seconds, 1e-9):.0f} env steps/s)"
    )
    out(f"model: {trainer.save_path}")
    out(f"plot: {plot}")
    out(f"episode log: {csv}")
    out(f"checkpoint: {trainer.state.latest} (continue with --resume)")
    if received:
        name = signal.Signals(received[0]).name
        raise Interrupted(f"interrupted by {name}; the run was saved", 128 + received[0])
    best = build_model(env, config.hidden_units)
    load_weights(best, trainer.save_path, env)
    seed = config.seed + REPORT_SEED_OFFSET
    out(evaluate(best, env, episodes=config.eval_episodes, seed=seed).summary())


class Interrupted(Exception):
    """Training was stopped by a signal after saving; ``status`` is the exit status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@contextlib.contextmanager
def stop_on_signals(request_stop: Callable[[], None]):
    """Within the block, SIGINT (Ctrl-C) and SIGTERM call ``request_stop`` instead of killing.

    Yields the list of signal numbers received. After the first signal the previous handler is
    back, so a second Ctrl-C interrupts at once: the program never hangs on a stop.
    """
    received: list[int] = []
    catch = (signal.SIGINT, signal.SIGTERM)

    def handler(signum, frame):
        received.append(signum)
        signal.signal(signum, previous[signum])
        logging.warning("%s: stopping after the current step", signal.Signals(signum).name)
        request_stop()

    previous = {signum: signal.signal(signum, handler) for signum in catch}
    try:
        yield received
    finally:
        for signum in catch:
            signal.signal(signum, previous[signum])


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


def build_model(env_id: str, hidden_units: tuple[int, ...]) -> ActorCriticModel:
    """An untrained ``ActorCriticModel`` built for ``env_id``'s spaces."""
    env = make_env(env_id)
    obs_dim, num_actions = env_dims(env)
    env.close()
    return ActorCriticModel(num_actions, tuple(hidden_units)).build_for(obs_dim)


def run_random_baseline(config: ActorCriticConfig, out=print) -> float:
    """Plays random episodes for the config's budget; prints and returns the average return."""
    agent = RandomAgent(config.env, config.max_eps or None, config.seed, config.max_steps or None)
    episodes = agent.run()
    average = float(np.mean([episode.episode_return for episode in episodes]))
    out(
        f"random baseline on {config.env}: average return {average:.1f} over "
        f"{len(episodes)} episodes"
    )
    return average


def load_saved_model(config: ActorCriticConfig, options: RunOptions, program: str) -> keras.Model:
    """The model named by ``--model``: a ``.keras`` file, or weights (by default the run's
    ``<save_dir>/model_<env>.weights.h5``) loaded into a new ``ActorCriticModel``.

    Raises:
        CheckpointError: if there is no such model (saying how to train one), or it does not
            fit the env.
    """
    env = config.env
    model = build_model(env, config.hidden_units)
    path = Path(options.model) if options.model else model_path(options.save_dir, env)
    if path.suffix == ".keras":
        return load_model_file(path, model.trunk[0].kernel.shape[0], model.num_actions)
    hint = f"train one with: python {program} --train --env={env} --save_dir={options.save_dir}"
    load_weights(model, path, env, train_hint=hint)
    return model


def evaluate_saved_model(config: ActorCriticConfig, options: RunOptions, program: str, out=print):
    """Prints the greedy return of the saved model over ``eval_episodes`` seeded episodes."""
    model = load_saved_model(config, options, program)
    seed = config.seed + REPORT_SEED_OFFSET
    out(evaluate(model, config.env, config.eval_episodes, seed=seed).summary())


def export_saved_model(config: ActorCriticConfig, options: RunOptions, program: str, out=print):
    """Writes the saved model (with ``--train``: the one just trained) to ``--export``."""
    model = load_saved_model(config, options, program)
    out(f"exported: {export_model(model, options.export)}")


def play_saved_model(
    config: ActorCriticConfig, options: RunOptions, program: str, out=print
) -> EvalResult:
    """Plays ``--episodes`` greedy episodes of the saved model, printing each step; with
    ``--render=human`` in a window, with ``--record=PATH`` into a GIF or MP4.

    Raises:
        CheckpointError: if there is no saved model or it does not fit the env.
        VideoError: for a ``--record`` path of another format, checked before playing.
        UsageError: for ``--render=human`` where there is no display.
    """
    record = check_video_path(options.record) if options.record else None
    if options.render == "human" and not has_display():
        raise UsageError("--render=human needs a display; --record=PATH.gif saves the play")
    model = load_saved_model(config, options, program)
    render_mode = "rgb_array" if record else (None if options.render == "none" else options.render)
    result, frames = play(
        model, config.env, options.episodes, seed=config.seed, render_mode=render_mode, out=out
    )
    returns = ", ".join(f"{value:g}" for value in result.returns)
    out(f"returns: {returns}; mean {result.mean:g}")
    out(result.summary())
    if record:
        fps = make_env(config.env).metadata.get("render_fps", 50)
        out(f"recording: {write_video(frames, record, fps=fps)}")
    return result


def has_display() -> bool:
    """False on Linux without an X11 or Wayland display; True elsewhere."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
