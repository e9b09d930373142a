"""The command line that a3c_cartpole.py and a2c_cartpole.py share: baseline, play, train, report.

Each entry point defines its flags and how to make its agent; ``run`` does the rest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import keras
import numpy as np
from absl import flags, logging

from agents.config import ActorCriticConfig
from agents.episode_log import Episode, EpisodeLog, save_episodes_csv
from agents.evaluation import EvalResult, Evaluation, evaluate, play
from agents.random_agent import RandomAgent
from agents.training import TrainingError
from agents.training_state import NoCheckpointError, TrainingState
from models import ActorCriticModel
from utils.checkpoint import (
    CheckpointError,
    export_model,
    load_model_file,
    load_weights,
    model_path,
)
from utils.envs import EnvError, env_dims, make_env, resolve_env_id, reward_threshold
from utils.files import safe_name
from utils.flags import config_from_flags, exit_with_error
from utils.plotting import plot_moving_average
from utils.video import VideoError, check_video_path, write_video

FLAGS = flags.FLAGS


class UsageError(ValueError):
    """Bad input from the user, reported as one line and exit status 2."""


USER_ERRORS = (UsageError, EnvError, CheckpointError, VideoError)


class Agent(Protocol):
    """What ``run`` needs of ``MasterAgent`` (A3C) and ``A2CAgent``."""

    title: str  # "A3C on CartPole-v1"
    save_path: Path  # the best model's weights file
    episode_log: EpisodeLog
    train_seconds: float  # of training, evaluations excluded; set by train
    state: TrainingState
    evaluations: list[Evaluation]  # greedy evaluations during training

    def train(self) -> list[Episode]: ...

    def request_stop(self) -> None: ...


def run(
    program: str,
    config_class: type[ActorCriticConfig],
    make_agent: Callable[[ActorCriticConfig, Path, bool], Agent],
) -> None:
    """Runs the baseline, play or training, as the flags say.

    Bad input exits 2 with one line and writes nothing; a failed run exits 1 keeping its last
    checkpoint; SIGINT or SIGTERM stops training cleanly, checkpoints, writes the plot and exits
    128 + the signal number.

    Args:
        program: the entry point's file name, for messages.
        config_class: the algorithm's config, built from the flags of the same names.
        make_agent: builds the agent for a config, a save directory and whether to resume,
            writing nothing, so bad input fails before any file is touched.
    """
    try:
        config = config_from_flags(config_class)
        config = dataclasses.replace(config, env_id=resolve_env_id(config.env_id))
        if FLAGS.algorithm == "random":
            run_random_baseline(config.env_id, FLAGS.max_eps, config.seed)
            return
        if FLAGS.train:
            train_and_report(config, Path(FLAGS.save_dir), make_agent, FLAGS.resume)
        elif FLAGS.evaluate:
            model = load_saved_model(config, program)
            seed = config.seed + 10_000
            print(evaluate(model, config.env_id, config.eval_episodes, seed=seed).summary())
        elif not FLAGS.export:
            play_saved_model(config, program)
        if FLAGS.export:  # the saved model: with --train, the one just trained
            print(f"exported: {export_model(load_saved_model(config, program), FLAGS.export)}")
    except USER_ERRORS as error:
        exit_with_error(str(error))
    except TrainingError as error:
        exit_with_error(f"training failed: {error}", status=1)
    except KeyboardInterrupt:
        exit_with_error("interrupted", status=128 + signal.SIGINT)


def train_and_report(
    config: ActorCriticConfig,
    save_dir: Path,
    make_agent: Callable[[ActorCriticConfig, Path, bool], Agent],
    resume: bool,
    out=print,
) -> None:
    """Trains (resuming if asked), then writes the plot and log, evaluates and reports."""
    try:
        agent = make_agent(config, save_dir, resume)
    except NoCheckpointError as error:
        raise UsageError(f"--resume: {error}; leave --resume out to start a new run") from None
    prepare_save_dir(save_dir)
    with stop_on_signals(agent.request_stop) as received:
        episodes = agent.train()
    env_id = config.env_id
    plot = plot_moving_average(
        episodes,
        save_dir / f"{safe_name(env_id)}_moving_average.png",
        agent.title,
        reward_threshold(env_id),
        agent.evaluations,
    )
    csv = save_episodes_csv(episodes, save_dir / f"{safe_name(env_id)}_episodes.csv")
    steps, seconds = agent.episode_log.env_steps, agent.train_seconds
    out(
        f"trained {len(episodes)} episodes, {steps} env steps in {seconds:.1f} s "
        f"({steps / max(seconds, 1e-9):.0f} env steps/s)"
    )
    out(f"model: {agent.save_path}")
    out(f"plot: {plot}")
    out(f"episode log: {csv}")
    out(f"checkpoint: {agent.state.latest} (continue with --resume)")
    if received:
        name = signal.Signals(received[0]).name
        exit_with_error(f"interrupted by {name}; the run was saved", status=128 + received[0])
    best = build_model(env_id, config.hidden_units)
    load_weights(best, agent.save_path, env_id)
    result = evaluate(best, env_id, episodes=config.eval_episodes, seed=config.seed + 10_000)
    out(result.summary())


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


def load_saved_model(config: ActorCriticConfig, program: str) -> keras.Model:
    """The model named by ``--model``: a ``.keras`` file, or weights (by default the run's
    ``<save_dir>/model_<env>.weights.h5``) loaded into a new ``ActorCriticModel``.

    Raises:
        CheckpointError: if there is no such model (saying how to train one), or it does not
            fit the env.
    """
    env_id = config.env_id
    model = build_model(env_id, config.hidden_units)
    path = Path(FLAGS.model) if FLAGS.model else model_path(FLAGS.save_dir, env_id)
    if path.suffix == ".keras":
        return load_model_file(path, model.trunk[0].kernel.shape[0], model.num_actions)
    hint = f"train one with: python {program} --train --env={env_id} --save_dir={FLAGS.save_dir}"
    load_weights(model, path, env_id, train_hint=hint)
    return model


def play_saved_model(config: ActorCriticConfig, program: str, out=print) -> EvalResult:
    """Plays ``--episodes`` greedy episodes of the saved model, printing each step; with
    ``--render=human`` in a window, with ``--record=PATH`` into a GIF or MP4.

    Raises:
        CheckpointError: if there is no saved model or it does not fit the env.
        VideoError: for a ``--record`` path of another format, checked before playing.
        UsageError: for ``--render=human`` where there is no display.
    """
    record = check_video_path(FLAGS.record) if FLAGS.record else None
    if FLAGS.render == "human" and not has_display():
        raise UsageError("--render=human needs a display; --record=PATH.gif saves the play")
    model = load_saved_model(config, program)
    render_mode = "rgb_array" if record else (None if FLAGS.render == "none" else FLAGS.render)
    result, frames = play(
        model, config.env_id, FLAGS.episodes, seed=config.seed, render_mode=render_mode, out=out
    )
    returns = ", ".join(f"{value:g}" for value in result.returns)
    out(f"returns: {returns}; mean {result.mean:g}")
    out(result.summary())
    if record:
        fps = make_env(config.env_id).metadata.get("render_fps", 50)
        out(f"recording: {write_video(frames, record, fps=fps)}")
    return result


def has_display() -> bool:
    """False on Linux without an X11 or Wayland display; True elsewhere."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
