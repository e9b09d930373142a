"""What the command line does: the random baseline, training with its final report, play (in a
window or into a GIF/MP4), evaluation and export of the saved model. Each mode receives the
config and the run options; none reads flags."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import numpy as np
from absl import logging

from a3c_keras.agent import ActorCriticAgent
from agents.random_agent import RandomAgent
from cli.options import RunOptions
from config.hyperparameters import ActorCriticConfig
from models import ActorCriticModel
from models.export import LoadedPolicy
from training.callbacks import SignalStop
from training.episode_log import EpisodeLog
from training.evaluation import EvalResult
from training.summaries import format_return
from utils.checkpoint import (
    export_model,
    keras_metadata,
    load_model_file,
    load_weights,
    model_path,
    run_files,
)
from utils.envs import Dims, make_env
from utils.errors import CheckpointError, Interrupted
from utils.run_lock import RunLock
from utils.video import VideoWriter, check_video_path


def train_and_report(
    config: ActorCriticConfig,
    options: RunOptions,
    agent_class: type[ActorCriticAgent],
    dims: Dims | None = None,
    out=print,
    lock: RunLock | None = None,
) -> None:
    """Trains (resuming if asked) with the API's ``learn`` (``a3c_keras``), which writes the
    plot and episode log too; then evaluates the saved model over new seeded episodes and
    reports. ``lock``: the save directory's, taken by the checks (``cli.checks.check_run``);
    the run trains under it.

    SIGINT, SIGTERM or SIGHUP stops training cleanly (``SignalStop``): the run is
    checkpointed, the plot and log are written, and the program exits 128 + the signal number.

    Raises:
        UsageError: ``--resume`` with no checkpoint, a ``--save_dir`` that cannot be written or
            that another run holds.
        CheckpointError: ``--resume`` and no intact checkpoint fits this run.
        TrainingError: training failed (a worker, or non-finite updates).
        utils.errors.WriteError: a file could not be written (disk full, say).
    """
    verbose = logging.get_verbosity() >= logging.INFO  # --verbosity=-1 hides the progress
    agent = agent_class.from_config(
        config, options.save_dir, options.resume, options.overwrite, verbose, dims, lock
    )
    stop = SignalStop()
    # On a terminal, a progress bar in place of the progress lines.
    agent.learn(callbacks=[stop], progress_bar=verbose and sys.stdout.isatty())
    trainer = agent.trainer
    files = run_files(options.save_dir, config.env)
    steps, seconds = trainer.episode_log.env_steps, trainer.train_seconds
    out(
        f"trained {len(agent.episodes)} episodes, {steps} env steps in {seconds:.1f} s "
        f"({steps / max(seconds, 1e-9):.0f} env steps/s)"
    )
    out(f"model: {agent.model_file}")
    out(f"plot: {files.plot}")
    out(f"episode log: {files.episodes}")
    out(f"checkpoint: {trainer.state.latest} (continue with --resume)")
    this = trainer.state.parts.current
    if this is not None and this["part"] > 1:  # a resumed run: what this program added
        out(
            f"part {this['part']} of the run: env steps {this['env_steps_start']} to "
            f"{this['env_steps_end']} in {this['train_seconds']:.1f} s of training, at commit "
            f"{this['commit'] or 'not recorded'} (benchmarks/benchmark.py --from-runs records "
            "every part)"
        )
    if stop.received:
        name = signal.Signals(stop.received[0]).name
        raise Interrupted(f"interrupted by {name}; the run was saved", 128 + stop.received[0])
    out(agent.load_best().evaluate().summary())


def tune_and_report(
    config: ActorCriticConfig,
    options: RunOptions,
    agent_class: type[ActorCriticAgent],
    dims: Dims,
    program: str,
    out=print,
) -> None:
    """Runs an Optuna study (``a3c_keras.tuning``; ``cli.checks.check_tuning`` has checked it)
    with ``config`` as the base of every trial; prints each trial, then the best settings as a
    preset entry and the command that trains with them, and writes Optuna's plots.

    Raises:
        Interrupted: a signal stopped it (``--resume`` goes on with the study).
    """
    from a3c_keras import tuning
    from cli.checks import tune_options

    study_options = tune_options(options, config)
    spaces = tuning.search_spaces(
        config, dims.continuous, study_options.params, study_options.space_file
    )
    study = tuning.tune(agent_class, config, spaces, study_options, options.save_dir, out)
    for line in tuning.summary(study, config, spaces, study_options, program):
        out(line)
    for path in tuning.write_plots(study, options.save_dir):
        out(f"plot: {path}")


def run_random_baseline(config: ActorCriticConfig, out=print) -> float:
    """Plays random episodes for the config's budget; prints and returns the average return."""
    log = EpisodeLog(config.max_eps or None, config.max_steps or None)
    episodes = RandomAgent(config.env, config.seed).run(log)
    average = float(np.mean([episode.episode_return for episode in episodes]))
    out(
        f"random baseline on {config.env}: average return {format_return(average)} over "
        f"{len(episodes)} episodes"
    )
    return average


def load_saved_model(
    config: ActorCriticConfig,
    options: RunOptions,
    agent_class: type[ActorCriticAgent],
    program: str,
) -> ActorCriticAgent:
    """An agent (``a3c_keras``) of the flags' settings whose model is the one ``--model``
    names: a ``.keras`` export, or weights (by default the run's
    ``<save_dir>/model_<env>.weights.h5``), which must fit the flags' architecture.

    Raises:
        CheckpointError: if there is no such model (saying how to train one), or it does not
            fit the env.
    """
    env = config.env
    agent = agent_class.from_config(config, options.save_dir, verbose=0)
    model = agent.model
    path = Path(options.model) if options.model else model_path(options.save_dir, env)
    if path.suffix == ".keras":
        obs_shape, params_size = model.spec.observation.shape, model.distribution.params_size
        loaded = load_model_file(path, obs_shape, params_size, env, spec=model.spec)
        agent.model = LoadedPolicy(loaded, model.distribution)
        return agent
    if not path.name.endswith(".weights.h5"):
        raise CheckpointError(
            f"--model={path}: a saved model's name ends in .weights.h5 (weights, as training "
            "writes them) or .keras (an export)"
        )
    hint = f"train one with: python {program} --train --env={env} --save_dir={options.save_dir}"
    load_weights(model, path, env, train_hint=hint)
    return agent


def evaluate_saved_model(config, options, agent_class, program: str, out=print) -> None:
    """Prints the greedy return of the saved model over ``eval_episodes`` seeded episodes."""
    out(load_saved_model(config, options, agent_class, program).evaluate().summary())


def export_saved_model(config, options, agent_class, program: str, out=print) -> None:
    """Writes the saved model (with ``--train``: the one just trained) to ``--export``."""
    agent = load_saved_model(config, options, agent_class, program)
    if isinstance(agent.model, ActorCriticModel):
        out(f"exported: {agent.save(options.export)}")
    else:  # a .keras file given to --model: written again as it was loaded, with its record
        description = keras_metadata(options.model) or None
        out(f"exported: {export_model(agent.model.model, options.export, description)}")


def play_saved_model(
    config: ActorCriticConfig,
    options: RunOptions,
    agent_class: type[ActorCriticAgent],
    program: str,
    out=print,
) -> EvalResult:
    """Plays ``--episodes`` greedy episodes of the saved model, printing each step; with
    ``--render=human`` in a window, with ``--record=PATH`` into a GIF or MP4.

    Raises:
        CheckpointError: if there is no saved model or it does not fit the env.
        VideoError: for a ``--record`` path of another format, checked before playing.
    """
    record = check_video_path(options.record) if options.record else None
    agent = load_saved_model(config, options, agent_class, program)
    render_mode = None if options.render == "none" else options.render
    writer = None
    if record:
        probe = make_env(config.env)
        writer = VideoWriter(record, fps=probe.metadata.get("render_fps", 50))
        probe.close()
    try:
        result = agent.play(
            options.episodes,
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
