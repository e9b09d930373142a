"""What the command line does: the random baseline, training with its final report, play (in a
window or into a GIF/MP4), evaluation and export of the saved model. Each mode receives the
config and the run options; none reads flags."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
from absl import logging

from agents.random_agent import RandomAgent
from cli.options import RunOptions
from cli.signals import STOP_SIGNALS
from config.hyperparameters import MODEL_SETTINGS, ActorCriticConfig
from models import ActorCriticModel, build_model
from models.export import LoadedPolicy, plain_model
from training.episode_log import EpisodeLog, save_episodes_csv
from training.evaluation import EvalResult, evaluate, play
from training.state import saved_settings
from training.trainer import REPORT_SEED_OFFSET, Algorithm, Trainer
from utils.checkpoint import (
    describe,
    export_model,
    load_model_file,
    load_weights,
    model_path,
    run_files,
)
from utils.envs import env_dims, make_env, reward_threshold
from utils.errors import (
    CheckpointError,
    Interrupted,
    NoCheckpointError,
    SaveDirInUseError,
    UsageError,
    WriteError,
)
from utils.plotting import plot_training_curve
from utils.run_lock import RunLock
from utils.settings import format_value
from utils.video import VideoWriter, check_video_path


def train_and_report(
    config: ActorCriticConfig,
    options: RunOptions,
    make_algorithm: Callable[[ActorCriticConfig], Algorithm],
    out=print,
) -> None:
    """Trains (resuming if asked), then writes the plot and episode log, evaluates the saved
    model over new seeded episodes and reports.

    SIGINT, SIGTERM or SIGHUP stops training cleanly: the run is checkpointed, the plot and log are
    written, and the program exits 128 + the signal number.

    Only one training runs in a save directory at a time (``utils.run_lock.RunLock``).

    Raises:
        UsageError: ``--resume`` with no checkpoint, a ``--save_dir`` that cannot be written or
            that another run holds.
        CheckpointError: ``--resume`` and no intact checkpoint fits this run.
        TrainingError: training failed (a worker, or non-finite updates).
        utils.errors.WriteError: a file could not be written (disk full, say).
    """
    save_dir = Path(options.save_dir)
    algorithm = make_algorithm(config)
    lock = RunLock(save_dir)
    try:
        lock.acquire()
        if options.overwrite:
            remove_earlier_run(save_dir, config.env)
        trainer = Trainer(algorithm, save_dir, resume=options.resume)
    except BaseException as error:
        algorithm.close()
        lock.release()
        if isinstance(error, NoCheckpointError):
            raise UsageError(f"--resume: {error}; leave --resume out to start a new run") from None
        if isinstance(error, SaveDirInUseError):
            raise UsageError(str(error)) from None
        if isinstance(error, OSError) and not isinstance(error, WriteError):
            raise UsageError(
                f"--save_dir={save_dir} cannot be created or written: {error.strerror}"
            ) from None
        raise
    try:
        with stop_on_signals(trainer.request_stop) as received:
            episodes = trainer.train()
    finally:
        lock.release()
    env, files = config.env, run_files(save_dir, config.env)
    plot = plot_training_curve(
        files.plot,
        trainer.title,
        [e.episode_return for e in episodes],
        [e.moving_average for e in episodes],
        reward_threshold(env),
        [(e.episodes, e.result.mean, e.result.std) for e in trainer.evaluations],
        config.eval_episodes,
    )
    csv = save_episodes_csv(episodes, files.episodes)
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
    best = new_model(config)
    load_weights(best, trainer.save_path, env)
    seed = config.seed + REPORT_SEED_OFFSET
    out(evaluate(best, env, episodes=config.eval_episodes, seed=seed).summary())


def remove_earlier_run(save_dir: Path, env_id: str) -> None:
    """``--overwrite``: removes what an earlier run on ``env_id`` left in ``save_dir`` (its
    model, checkpoints, episode log and plot; TensorBoard's run directories stay, each run has
    its own), with a log line naming them. The caller holds the save directory's lock."""
    files = run_files(save_dir, env_id)
    removed = []
    if files.checkpoints.is_dir():
        shutil.rmtree(files.checkpoints)
        removed.append(files.checkpoints.name)
    for path in (files.model, files.episodes, files.plot):
        if path.is_file():
            path.unlink()
            removed.append(path.name)
    if removed:
        logging.info(
            "--overwrite: removed the earlier run's %s from %s", ", ".join(removed), save_dir
        )


# Settings a resumed run cannot change: the checkpoint holds what they built.
FIXED_ON_RESUME = (
    "env",
    *MODEL_SETTINGS,
    "normalize_rewards",
    "lr_schedule",
    "optimizer",
    "workers",
    "backend",
)


def resumed_config(
    config: ActorCriticConfig, save_dir: str | Path, given: Callable[[str], bool]
) -> ActorCriticConfig:
    """The config a ``--resume`` run continues with: the settings saved with the checkpoint,
    except the flags given now, which apply (and are named in a log line).

    Raises:
        UsageError: a given flag that cannot change mid-run (``FIXED_ON_RESUME``) differs from
            the saved run's.
    """
    saved = saved_settings(save_dir, config.env)
    if saved is None:
        return config  # a checkpoint from before settings were saved: the flags as given
    kept, changed = {}, []
    for field in dataclasses.fields(config):
        name, now = field.name, getattr(config, field.name)
        if name not in saved:
            continue
        before = tuple(saved[name]) if isinstance(now, tuple) else saved[name]
        if not given(name):
            kept[name] = before
        elif now != before:
            if name in FIXED_ON_RESUME:
                raise UsageError(
                    f"--{name}={format_value(now)}: the run in {save_dir} was started with "
                    f"--{name}={format_value(before)}, which cannot change on --resume (leave "
                    "the flag out, or start a new run in another --save_dir)"
                )
            changed.append(f"--{name}={format_value(now)} (was {format_value(before)})")
    logging.info(
        "resuming the run in %s with its settings%s",
        save_dir,
        "; changed: " + ", ".join(changed) if changed else "",
    )
    return dataclasses.replace(config, **kept)


@contextlib.contextmanager
def stop_on_signals(request_stop: Callable[[], None]):
    """Within the block, SIGINT (Ctrl-C), SIGTERM and SIGHUP (a closed terminal) call
    ``request_stop`` instead of killing.

    Yields the list of signal numbers received. After the first signal the previous handler is
    back, so a second Ctrl-C interrupts at once: the program never hangs on a stop.
    """
    received: list[int] = []
    catch = STOP_SIGNALS

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


def new_model(config: ActorCriticConfig) -> ActorCriticModel:
    """An untrained ``ActorCriticModel`` of ``config``'s settings, built for its env's spaces."""
    env = make_env(config.env)
    dims = env_dims(env.observation_space, env.action_space)
    env.close()
    return build_model(dims, **config.model_options())


def run_random_baseline(config: ActorCriticConfig, out=print) -> float:
    """Plays random episodes for the config's budget; prints and returns the average return."""
    log = EpisodeLog(config.max_eps or None, config.max_steps or None)
    episodes = RandomAgent(config.env, config.seed).run(log)
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
    model = new_model(config)
    path = Path(options.model) if options.model else model_path(options.save_dir, env)
    if path.suffix == ".keras":
        obs_shape = model.image_shape or int(model.trunk[0].kernel.shape[0])
        loaded = load_model_file(path, obs_shape, model.distribution.params_size, env)
        return LoadedPolicy(loaded, model.distribution)
    if not path.name.endswith(".weights.h5"):
        raise CheckpointError(
            f"--model={path}: a saved model's name ends in .weights.h5 (weights, as training "
            "writes them) or .keras (an export)"
        )
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
    description = describe(model, config.env) if isinstance(model, ActorCriticModel) else None
    out(f"exported: {export_model(plain_model(model), options.export, description)}")


def play_saved_model(
    config: ActorCriticConfig, options: RunOptions, program: str, out=print
) -> EvalResult:
    """Plays ``--episodes`` greedy episodes of the saved model, printing each step; with
    ``--render=human`` in a window, with ``--record=PATH`` into a GIF or MP4.

    Raises:
        CheckpointError: if there is no saved model or it does not fit the env.
        VideoError: for a ``--record`` path of another format, checked before playing.
    """
    record = check_video_path(options.record) if options.record else None
    model = load_saved_model(config, options, program)
    render_mode = None if options.render == "none" else options.render
    writer = None
    if record:
        probe = make_env(config.env)
        writer = VideoWriter(record, fps=probe.metadata.get("render_fps", 50))
        probe.close()
    try:
        result = play(
            model,
            config.env,
            options.episodes,
            seed=config.seed,
            render_mode=render_mode,
            out=out,
            on_frame=writer.add if writer else None,
        )
    except BaseException:
        if writer:
            writer.discard()
        raise
    returns = ", ".join(f"{value:g}" for value in result.returns)
    out(f"returns: {returns}; mean {result.mean:g}")
    out(result.summary())
    if writer:
        out(f"recording: {writer.close()}")
    return result
