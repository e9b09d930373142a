"""Tuning: an Optuna study over a config's hyperparameters, each trial a normal training run.

RL Zoo's way (``python -m rl_zoo3.train -optimize``): a TPE sampler proposes the settings of
each trial from those tried before; a trial is a training run with its own seed and budget,
evaluated greedily a few times (``evaluations``); each evaluation's mean return is reported to
the study, and a pruner stops a trial that is clearly worse than the others were at the same
step (median, or successive halving). A trial's value is its last evaluation's mean, as RL
Zoo's (the best of a few noisy evaluations favoured lucky trials: a MountainCar study's best,
-105.5 over 20 episodes, gave -116 to -136 on fresh seeds). A trial that fails (NaN updates,
an env fault, settings that do not go together) is recorded as failed with its reason, and the
study goes on.

The study lives in a storage Optuna can share: a journal file in the save directory by default,
or a database URL. Several processes work on one study: ``jobs`` processes started here, or the
same command with ``--resume`` on other machines with the same storage; each asks the storage
for its next trial, so none runs one twice. An interrupted study goes on with ``--resume``,
keeping its finished trials; a trial cut off by the interrupt is marked failed ("interrupted")
and not counted.

Search spaces are written once, beside each setting (``search`` in
``config/hyperparameters.py``), and can be narrowed (``params``) or changed and widened (a JSON
file, ``space_file``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import optuna
from absl import logging
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

from config.hyperparameters import ActorCriticConfig
from training.callbacks import Callback, SignalStop
from utils.errors import ConfigError, Interrupted, UsageError, first_line
from utils.files import safe_name
from utils.process_watchdog import start_watchdog, stop_watchdog
from utils.settings import Search, field_types, format_value

# RL Zoo's TPE sampler: this many trials are sampled at random before TPE models the rest
# (``--n-startup-trials``, 10 there); the median pruner waits for this many finished trials
# and, in each trial, for a third of its budget (``n_warmup_steps``: a third of the
# evaluations there), so a slow start is not pruned.
STARTUP_TRIALS = 10
PRUNER_STARTUP_TRIALS = 5
PRUNERS = ("median", "halving", "none")
# Settings that only Box actions have.
BOX_ONLY = ("log_std_init", "use_sde", "sde_sample_freq")
# Settings a study cannot tune, and why: each trial sets them itself (``trial_config``), or
# they judge the trials, or say where they run rather than how they learn.
NOT_TUNABLE = {
    "env": "the study's env is --env (run a study for each env)",
    "seed": "each trial's seed is --seed plus its number",
    "max_steps": "each trial's budget is --trial_steps",
    "max_eps": "each trial's budget is --trial_steps",
    "eval_interval": "each trial is evaluated --trial_evaluations times",
    "eval_episodes": "the evaluations that judge the trials take --eval_episodes episodes",
    "stop_at_threshold": "every trial runs its budget",
    "stop_at_eval_return": "every trial runs its budget",
    "checkpoint_every": "checkpoints change no trial's result",
    "ray_address": "it says where trials run, not how they learn",
}
# The most values a space of choices may have: each is checked as a setting before the study
# starts (about 0.5 ms each), and a sampler learns nothing from a few trials among more.
MAX_CHOICES = 1000
# The config fields a resumed study does not compare with its own (``study_record``): those
# each trial sets itself, and where trials run.
NOT_COMPARED_ON_RESUME = (
    "max_steps",
    "max_eps",
    "eval_interval",
    "stop_at_threshold",
    "stop_at_eval_return",
    "ray_address",
)
TRIALS_DIRECTORY = "trials"
# In the command line of each process of --tune_jobs (multiprocessing's spawn): the watchdog of
# a study kills the processes that have it, and theirs, when the study's process dies.
JOB_MARKER = "--multiprocessing-fork"
# Each line of an Optuna journal is one JSON object that starts so.
JOURNAL_LINE_START = b'{"op_code":'


class TuneOptions(NamedTuple):
    """How a study runs (the command line's ``--trials`` and the flags beside it).

    Attributes:
        trials: trials the study is to have, finished (completed, pruned or failed), >= 1.
        trial_steps: env steps of each trial's training, >= one rollout.
        evaluations: greedy evaluations in each trial (every ``trial_steps / evaluations``
            env steps), reported to the pruner.
        jobs: processes on this machine that run trials at once.
        params: the settings to tune (empty: every setting with a search space).
        space_file: a JSON file of search spaces, ``{"lr": {"low": 1e-4, "high": 1e-2,
            "log": true}, "update_freq": {"choices": [5, 16]}}`` ("" for none).
        storage: an Optuna storage URL (``sqlite:///study.db``, ``postgresql://...``) or a
            journal file's path ("": ``<save_dir>/tune_<env>.journal``).
        pruner: one of ``PRUNERS``.
        resume: go on with the study the storage holds.
        overwrite: delete the study the storage holds and start afresh.
    """

    trials: int
    trial_steps: int
    evaluations: int = 4
    jobs: int = 1
    params: tuple[str, ...] = ()
    space_file: str = ""
    storage: str = ""
    pruner: str = "median"
    resume: bool = False
    overwrite: bool = False


# Search spaces ---------------------------------------------------------------------------------


def search_spaces(
    config: ActorCriticConfig, continuous: bool, params=(), space_file: str = ""
) -> dict[str, Search]:
    """The settings a study tunes and where: the settings' own spaces (``search``), narrowed to
    ``params`` and changed or extended by ``space_file``; Box-only settings are left out for
    discrete actions.

    Raises:
        UsageError: one line, for an unknown setting, a file that cannot be read or is not
            such JSON, or a space the setting cannot take (a range outside its rule, a log
            range that is not positive, low >= high, a choice of the wrong type).
    """
    fields = {field.name: field for field in dataclasses.fields(config)}
    spaces = {
        name: field.metadata["search"]
        for name, field in fields.items()
        if field.metadata.get("search") is not None and (continuous or name not in BOX_ONLY)
    }
    if space_file:
        try:
            given = json.loads(Path(space_file).read_text())
        except (OSError, ValueError) as error:
            raise UsageError(
                f"--tune_space={space_file}: cannot read it as JSON ({error})"
            ) from None
        if not isinstance(given, dict):
            raise UsageError(f"--tune_space={space_file}: must map setting names to spaces")
        for name, entry in given.items():
            spaces[name] = parse_space(name, entry, space_file, fields)
    if params:
        unknown = [name for name in params if name not in fields]
        if unknown:
            raise UsageError(
                f"--tune_params: {', '.join(unknown)}: no setting of {type(config).__name__} "
                f"(tunable: {', '.join(spaces)})"
            )
        fixed = [name for name in params if name in NOT_TUNABLE]
        if fixed:
            raise UsageError(f"--tune_params: {fixed[0]} cannot be tuned: {NOT_TUNABLE[fixed[0]]}")
        missing = [name for name in params if name not in spaces]
        if missing:
            raise UsageError(
                f"--tune_params: {', '.join(missing)} has no search space here: give one in "
                "--tune_space (a JSON file)"
            )
        spaces = {name: spaces[name] for name in params}
    if not spaces:
        raise UsageError("nothing to tune: give --tune_params or a --tune_space file")
    for name, space in spaces.items():
        check_space(name, space, fields[name], type(config))
    return spaces


def parse_space(name: str, entry: Any, source: str, fields: dict) -> Search:
    """One entry of a ``--tune_space`` file as a ``Search``: ``{"low": L, "high": H}`` (with
    ``"log": true`` for a log scale; ``"complement": true`` for a setting of 1 - x, x drawn on a
    log scale unless ``"log": false``) or ``{"choices": [...]}``.

    Raises:
        UsageError: a setting that does not exist or cannot be tuned (``NOT_TUNABLE``), an
            entry of another form, ``log`` or ``complement`` not a JSON boolean, more than
            ``MAX_CHOICES`` choices.
    """
    where = f"--tune_space={source}: {name}"
    if name not in fields:
        raise UsageError(f"{where}: no such setting (the settings are the flags' names)")
    if name in NOT_TUNABLE:
        raise UsageError(f"{where}: cannot be tuned: {NOT_TUNABLE[name]}")
    keys = {"low", "high", "log", "complement", "choices"}
    if not isinstance(entry, dict) or not entry or set(entry) - keys:
        raise UsageError(
            f'{where}: give {{"low": L, "high": H}} (with "log": true for a log scale, '
            f'"complement": true for 1 - x) or {{"choices": [...]}}'
        )
    if "choices" in entry:
        values = entry["choices"]
        if not isinstance(values, list) or not values or set(entry) != {"choices"}:
            raise UsageError(f'{where}: "choices" must be a non-empty list, alone')
        if len(values) > MAX_CHOICES:
            raise UsageError(
                f'{where}: "choices" has {len(values)} values; a space may have at most '
                f'{MAX_CHOICES} (give a range, {{"low": L, "high": H}}, for more)'
            )
        return Search(choices=tuple(tuple(v) if isinstance(v, list) else v for v in values))
    low, high = entry.get("low"), entry.get("high")
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high))
    if not numbers:
        raise UsageError(f'{where}: "low" and "high" must both be numbers')
    for key in ("log", "complement"):
        if key in entry and not isinstance(entry[key], bool):
            raise UsageError(
                f'{where}: "{key}" must be true or false (a JSON boolean), not '
                f"{json.dumps(entry[key])}"
            )
    complement = entry.get("complement", False)
    # 1 - x is drawn on a log scale unless the file says "log": false (as RL Zoo draws 1 - gamma)
    return Search(float(low), float(high), log=entry.get("log", complement), complement=complement)


def check_space(name: str, space: Search, field, config_class: type) -> None:
    """Refuses a space whose values the setting cannot take (its type and rule): a choice of
    another type or outside the rule, a range not finite or empty, a log range from 0 or
    below, an integer setting's range with no integer inside (or drawn as 1 - x).

    Raises:
        UsageError: one line naming the setting, its space and what is wrong.
    """
    kind = field_types(config_class)[name]
    rule = field.metadata.get("rule")
    where = f"--tune_params: {name} in {space.describe()}"
    if space.choices:
        for choice in space.choices:
            try:
                config_class(**{name: choice, "max_steps": 1})
            except ConfigError as error:
                raise UsageError(f"{where}: {error}") from None
        return
    if kind not in (int, float):
        raise UsageError(f'{where}: {name} is not a number; give it "choices"')
    if not (math.isfinite(space.low) and math.isfinite(space.high)) or space.low >= space.high:
        raise UsageError(f"{where}: needs finite low < high")
    if space.log and space.low <= 0:
        raise UsageError(f"{where}: a log scale needs low > 0")
    if kind is int and space.complement:
        raise UsageError(f"{where}: {name} is an integer; complement (1 - x) is for a fraction")
    if kind is int and math.ceil(space.low) > math.floor(space.high):
        raise UsageError(f"{where}: holds no integer, and {name} is one")
    ends = (1 - space.high, 1 - space.low) if space.complement else (space.low, space.high)
    if kind is int:
        ends = (math.ceil(space.low), math.floor(space.high))
    if rule is not None and not all(rule.test(end) for end in ends):
        raise UsageError(f"{where}: {name} {rule.allowed}")


def base_params(config: ActorCriticConfig, spaces: dict[str, Search]) -> dict:
    """``config``'s own values as a trial's params (``suggest``'s names and labels), for the
    settings whose value lies in its space; the sampler draws the others."""
    params = {}
    for name, space in spaces.items():
        value = getattr(config, name)
        if space.choices:
            labels = [format_value(choice) for choice in space.choices]
            if format_value(value) in labels:
                params[name] = format_value(value)
        elif space.complement:
            if space.low <= 1.0 - value <= space.high:
                params[f"1-{name}"] = 1.0 - value
        elif space.low <= value <= space.high:
            params[name] = value
    return params


def distributions(spaces: dict[str, Search], config_class: type) -> dict[str, BaseDistribution]:
    """The Optuna distribution each space draws from, by the trial's param name (``1-gamma``
    for a complement range; choices as their comma-separated text, as Optuna's categorical
    values must be plain; an int setting draws ints)."""
    types = field_types(config_class)
    drawn = {}
    for name, space in spaces.items():
        if space.choices:
            labels = [format_value(choice) for choice in space.choices]
            drawn[name] = CategoricalDistribution(labels)
        elif space.complement:
            drawn[f"1-{name}"] = FloatDistribution(space.low, space.high, log=space.log)
        elif types[name] is int:  # the integers in the range (``check_space``: one at least)
            low, high = math.ceil(space.low), math.floor(space.high)
            drawn[name] = IntDistribution(low, high, log=space.log)
        else:
            drawn[name] = FloatDistribution(space.low, space.high, log=space.log)
    return drawn


def suggest(trial: optuna.Trial, spaces: dict[str, Search], config_class: type) -> dict:
    """The trial's settings, drawn from ``spaces`` (``settings_of`` turns Optuna's params back
    into settings)."""
    for name, drawn in distributions(spaces, config_class).items():
        if isinstance(drawn, IntDistribution):
            trial.suggest_int(name, drawn.low, drawn.high, log=drawn.log)
        elif isinstance(drawn, FloatDistribution):
            trial.suggest_float(name, drawn.low, drawn.high, log=drawn.log)
        else:
            trial.suggest_categorical(name, drawn.choices)
    return settings_of(trial.params, spaces)


def settings_of(params: dict, spaces: dict[str, Search]) -> dict:
    """The settings a trial's ``params`` stand for (``suggest``'s names and labels); a setting
    the trial did not draw is left out."""
    settings = {}
    for name, space in spaces.items():
        if space.choices and name in params:
            labels = [format_value(choice) for choice in space.choices]
            if params[name] in labels:
                settings[name] = space.choices[labels.index(params[name])]
        elif space.complement and f"1-{name}" in params:
            settings[name] = 1.0 - params[f"1-{name}"]
        elif not space.choices and not space.complement and name in params:
            settings[name] = params[name]
    return settings


# Storage -----------------------------------------------------------------------------------------


def storage_location(save_dir: str | Path, env_id: str, storage: str = "") -> str:
    """Where the study is kept: ``storage`` as given, else the journal file
    ``<save_dir>/tune_<env>.journal``."""
    return storage or str(Path(save_dir) / f"tune_{safe_name(env_id)}.journal")


def open_storage(location: str) -> optuna.storages.BaseStorage:
    """An Optuna storage: an RDB for a URL (``scheme://...``), else a journal file (repaired
    first if a line of it was cut short: ``repair_journal``).

    Raises:
        UsageError: one line, if it cannot be opened.
    """
    try:
        if "://" in location:
            return optuna.storages.RDBStorage(location)
        if os.path.isfile(location):
            repair_journal(location)
        backend = optuna.storages.journal.JournalFileBackend(location)
        return optuna.storages.JournalStorage(backend)
    except Exception as error:  # SQLAlchemy, OS and Optuna errors all end here
        message = f"--tune_storage={location}: cannot open it ({first_line(error)})"
        raise UsageError(message) from None


def journal_damage(data: bytes) -> tuple[bytes, int] | None:
    """``data`` (a journal file) without the lines that are no whole JSON object, and how many
    were dropped; None if every line is whole. A line that ends with a whole object after a
    broken start (a write cut short, and the next write appended to it) keeps that object;
    a last line without its line break is dropped (the write that made it was cut short)."""
    lines = data.split(b"\n")
    last = lines.pop()  # after the last line break: b"" in a whole file
    kept, dropped = [], 0
    for line in lines:
        if whole_object(line):
            kept.append(line)
            continue
        dropped += 1
        start = line.rfind(JOURNAL_LINE_START)
        if start > 0 and whole_object(line[start:]):
            kept.append(line[start:])
    if last:
        dropped += 1
    if not dropped:
        return None
    return b"".join(line + b"\n" for line in kept), dropped


def whole_object(line: bytes) -> bool:
    """Whether ``line`` is one JSON object."""
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return False


def repair_journal(location: str) -> None:
    """Repairs a journal file a full disk or a crash left with a line cut short (Optuna then
    fails to read it with a ``JSONDecodeError``): under Optuna's own lock of the file, the
    damaged file is kept beside it as ``<journal>.damaged-<time>``, and the lines that are no
    whole JSON object are dropped (``journal_damage``), the file replaced at once; one warning
    says so. A trial whose last record was dropped stays running, and is marked failed
    ("interrupted") when its process is gone. Reads only, if the file is whole.

    Raises:
        OSError: the file cannot be read, or the repaired one written.
    """
    with open(location, "rb") as handle:
        if journal_damage(handle.read()) is None:
            return
    lock = optuna.storages.journal.JournalFileSymlinkLock(location)
    lock.acquire()
    try:
        with open(location, "rb") as handle:
            data = handle.read()
        repaired = journal_damage(data)
        if repaired is None:
            return  # repaired by another process meanwhile
        kept, dropped = repaired
        copy = f"{location}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
        for number in range(2, 1000):  # never over an earlier copy
            if not os.path.lexists(copy):
                break
            copy = f"{location}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{number}"
        shutil.copy2(location, copy)
        directory = os.path.dirname(os.path.abspath(location))
        fd, temporary = tempfile.mkstemp(prefix=".journal-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(kept)
                file.flush()
                os.fsync(file.fileno())
            shutil.copymode(location, temporary)
            os.replace(temporary, location)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    finally:
        lock.release()
    logging.warning(
        "the study's journal %s had %d damaged line(s) (a write cut short: a full disk or a "
        "crash); dropped them and went on, the damaged file kept as %s",
        location,
        dropped,
        copy,
    )


def study_name(config: ActorCriticConfig) -> str:
    return f"{config.algorithm}_{config.env}"


def study_files(config: ActorCriticConfig, save_dir: str | Path) -> tuple[Path, list[Path]]:
    """What a study of ``config``'s algorithm and env writes in ``save_dir`` besides its
    storage: the directory of its trials (``trials/<algorithm>_<env>/``) and its plots
    (``tune_<algorithm>_<env>_history.png``, ``..._importance.png``). Studies of other
    algorithms or envs in one save directory share none of them."""
    name = safe_name(study_name(config))
    plots = [Path(save_dir) / f"tune_{name}_{kind}.png" for kind in ("history", "importance")]
    return Path(save_dir) / TRIALS_DIRECTORY / name, plots


# Trials --------------------------------------------------------------------------------------


class ReportEvaluations(Callback):
    """Reports each greedy evaluation's mean return to the trial and stops the run, cleanly,
    once the pruner says the trial is worse than the others were. An evaluation is reported
    at the step it was planned for (the k-th at ``k * trial_steps // evaluations`` env steps),
    not the env steps it came after (a multiple of the trial's rollout size), so trials with
    other t_max are compared with each other. The evaluation at the end of the budget is not
    put to the pruner: a trial that has run its budget is complete, and its value tells the
    sampler more."""

    def __init__(self, trial: optuna.Trial, trial_steps: int, evaluations: int):
        super().__init__()
        self.trial = trial
        self.trial_steps = trial_steps
        self.interval = max(1, trial_steps // evaluations)
        self.pruned_at: int | None = None
        self.means: list[float] = []

    def on_evaluation_end(self, index: int, logs: dict) -> None:
        if self.pruned_at is not None:
            return  # the final evaluation after the stop
        mean, env_steps = float(logs["mean_return"]), int(logs["env_steps"])
        self.means.append(mean)
        if not math.isfinite(mean):
            return
        self.trial.report(mean, min(index * self.interval, self.trial_steps))
        if env_steps < self.trial_steps and self.trial.should_prune():
            self.pruned_at = env_steps
            self.model.stop_training = True


def trial_config(
    base: ActorCriticConfig, settings: dict, seed: int, options: TuneOptions
) -> ActorCriticConfig:
    """A trial's config: ``base`` with the drawn ``settings``, its own seed, the trial budget
    and its evaluations (never a stop at a threshold: every trial runs its budget).

    Raises:
        ConfigError: drawn settings that do not go together.
    """
    interval = max(1, options.trial_steps // options.evaluations)
    return dataclasses.replace(
        base,
        **settings,
        seed=seed,
        max_steps=options.trial_steps,
        max_eps=0,
        eval_interval=interval,
        stop_at_threshold=False,
        stop_at_eval_return=float("-inf"),
    )


def run_trial(study, agent_class, base, spaces, options, save_dir, job: int, out) -> None:
    """Asks the study for a trial, trains it, tells the study what it reached (completed,
    pruned or failed, with the reason), and prints one line.

    Raises:
        Interrupted: a signal stopped the trial (it is recorded as failed, "interrupted").
    """
    trial = study.ask()
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())
    settings = suggest(trial, spaces, type(base))
    seed = (base.seed + trial.number) % (2**31 - 1)
    shown = " ".join(f"{name}={short(value)}" for name, value in settings.items())
    started = time.perf_counter()
    prefix = f"trial {trial.number}" + (f" (job {job})" if options.jobs > 1 else "")
    reporter = ReportEvaluations(trial, options.trial_steps, options.evaluations)
    stop = SignalStop()
    try:
        config = trial_config(base, settings, seed, options)
        trials, _ = study_files(base, save_dir)
        directory = trials / f"trial_{trial.number:04d}"  # the study's own: never replaced
        agent = agent_class.from_config(config, directory, verbose=0)
        agent.learn(callbacks=[reporter, stop])
    except (KeyboardInterrupt, Interrupted):  # a signal outside training's own handling
        trial.set_user_attr("interrupted", True)
        study.tell(trial, state=TrialState.FAIL)
        raise
    except Exception as error:  # a failed trial is recorded; the study goes on
        reason = first_line(error)
        trial.set_user_attr("failure", reason)
        study.tell(trial, state=TrialState.FAIL)
        out(f"{prefix}: {shown} -> failed: {reason}")
        return
    seconds = time.perf_counter() - started
    trial.set_user_attr("seconds", round(seconds, 1))
    trial.set_user_attr("seed", seed)
    if stop.received:
        trial.set_user_attr("interrupted", True)
        study.tell(trial, state=TrialState.FAIL)
        raise Interrupted("interrupted; continue the study with --resume", 128 + stop.received[0])
    finite = [mean for mean in reporter.means if math.isfinite(mean)]
    if reporter.pruned_at is not None:
        study.tell(trial, state=TrialState.PRUNED)
        out(
            f"{prefix}: {shown} -> pruned at {reporter.pruned_at} env steps "
            f"(greedy {finite[-1]:.1f}), {seconds:.1f} s"
        )
        return
    if not finite:
        trial.set_user_attr("failure", "no finite evaluation")
        study.tell(trial, state=TrialState.FAIL)
        out(f"{prefix}: {shown} -> failed: no finite evaluation")
        return
    value = finite[-1]
    study.tell(trial, value)
    best = study.best_trial
    out(
        f"{prefix}: {shown} -> greedy {value:.1f}, {seconds:.1f} s "
        f"(best: trial {best.number}, {best.value:.1f})"
    )


def short(value: Any, digits: int = 4) -> str:
    """A value for a trial's line: floats to ``digits`` significant digits."""
    return f"{value:.{digits}g}" if isinstance(value, float) else format_value(value)


def rounded(value: Any) -> Any:
    """A float to 6 significant digits (what a preset writes), anything else as it is."""
    return float(f"{value:.6g}") if isinstance(value, float) else value


def counted(trial) -> bool:
    """Whether a trial counts toward the study's number: finished, and not cut off by an
    interrupt."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and not trial.user_attrs.get("interrupted")


def release_abandoned(study) -> int:
    """Marks failed ("interrupted") the running trials of this machine whose process is gone (a
    study killed before it could record them); returns how many."""
    host, released = socket.gethostname(), 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = trial.user_attrs.get("pid")
        if trial.user_attrs.get("host") != host or pid is None or process_alive(pid):
            continue
        study._storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
        study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        released += 1
    return released


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def make_sampler_and_pruner(options: TuneOptions, seed: int, warmup: int):
    """RL Zoo's: a multivariate TPE sampler seeded per process, and the pruner asked for."""
    sampler = optuna.samplers.TPESampler(
        n_startup_trials=STARTUP_TRIALS, seed=seed, multivariate=True
    )
    if options.pruner == "median":
        pruner = optuna.pruners.MedianPruner(
            n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=warmup
        )
    elif options.pruner == "halving":
        pruner = optuna.pruners.SuccessiveHalvingPruner()
    else:
        pruner = optuna.pruners.NopPruner()
    return sampler, pruner


def load_study(config, options, save_dir, job: int = 0) -> optuna.Study:
    """The study in the storage (created by ``open_study``), with this process's sampler."""
    storage = open_storage(storage_location(save_dir, config.env, options.storage))
    warmup = max(1, options.trial_steps // 3)  # RL Zoo: a third of the evaluations
    sampler, pruner = make_sampler_and_pruner(options, config.seed + job, warmup)
    return optuna.load_study(
        study_name=study_name(config), storage=storage, sampler=sampler, pruner=pruner
    )


def check_study(config, options: TuneOptions, save_dir, spaces: dict | None = None) -> None:
    """Checks, before anything is written, that the storage can be opened and holds a study
    exactly when ``resume`` says it does (or ``overwrite`` replaces it), and that a resumed
    study's trials drew each setting in ``spaces`` the way it is drawn now (Optuna refuses a
    setting drawn as a category in one trial and as a number, or on another scale, in the
    next; a range may move), and that it goes on with the base settings and trial budget it
    started with (``check_study_record``). A journal file that does not exist yet is not
    created here.

    Raises:
        UsageError: a storage that cannot be opened, a study already there without
            ``resume`` or ``overwrite``, ``resume`` with none, a space that the resumed
            study drew otherwise, or other base settings or trial budget than the study's.
    """
    location = storage_location(save_dir, config.env, options.storage)
    name = study_name(config)
    if "://" not in location and not Path(location).exists():
        exists = False
    else:
        storage = open_storage(location)
        exists = name in optuna.study.get_all_study_names(storage)
    if exists and not (options.resume or options.overwrite):
        trials = len(optuna.load_study(study_name=name, storage=storage).trials)
        raise UsageError(
            f"{location} already holds the study {name} ({trials} trials): continue it with "
            "--resume, replace it with --overwrite, or give another --save_dir"
        )
    if not exists and options.resume:
        raise UsageError(f"--resume: {location} holds no study {name}; leave --resume out")
    if exists and options.resume:
        check_study_record(config, options, name, location, storage, spaces or {})
    trials, _ = study_files(config, save_dir)
    if not exists and not options.overwrite and trials.is_dir() and any(trials.iterdir()):
        raise UsageError(
            f"{trials} holds the trials of a study {name} that {location} does not hold "
            "(another storage's): replace them with --overwrite, or give another --save_dir"
        )
    if exists and options.resume and spaces:
        drawn = distributions(spaces, type(config))
        for trial in optuna.load_study(study_name=name, storage=storage).trials:
            for param, before in trial.distributions.items():
                if param not in drawn:
                    continue  # a setting this study no longer tunes
                try:
                    optuna.distributions.check_distribution_compatibility(before, drawn[param])
                except ValueError:
                    raise UsageError(
                        f"--resume: the study drew {param} as {before}, not as {drawn[param]}: "
                        "give its space as the study had it, or start a new study (--overwrite)"
                    ) from None


def study_record(config: ActorCriticConfig, options: TuneOptions) -> dict:
    """What a study records when it starts (Optuna's study user attributes), so that
    ``--resume`` goes on with the same base: the base config's fields as JSON, the trial
    budget and the evaluations of each trial."""
    return {
        "base": json.loads(json.dumps(dataclasses.asdict(config))),
        "trial_steps": options.trial_steps,
        "evaluations": options.evaluations,
    }


def check_study_record(config, options, name, location, storage, spaces) -> None:
    """A resumed study goes on with the base it started with (``study_record``): the same
    trial budget and evaluations, and the same value of each setting its trials take from the
    base (not one tuned now or drawn by its trials before, nor one each trial sets itself:
    ``NOT_COMPARED_ON_RESUME``). A study from before it recorded its base is not checked.

    Raises:
        UsageError: one line naming the flags as the study had them and as given.
    """
    study = optuna.load_study(study_name=name, storage=storage)
    recorded = study.user_attrs
    if "base" not in recorded:
        return
    drawn = {param.removeprefix("1-") for t in study.trials for param in t.distributions}
    now = study_record(config, options)
    before_flags, now_flags = [], []
    for key in ("trial_steps", "evaluations"):
        if recorded.get(key) != now[key]:
            flag = "trial_evaluations" if key == "evaluations" else key
            before_flags.append(f"--{flag}={recorded.get(key)}")
            now_flags.append(f"--{flag}={now[key]}")
    for field, value in now["base"].items():
        if field in NOT_COMPARED_ON_RESUME or field in spaces or field in drawn:
            continue
        if field in recorded["base"] and recorded["base"][field] != value:
            before_flags.append(f"--{field}={flag_value(recorded['base'][field])}")
            now_flags.append(f"--{field}={flag_value(value)}")
    if before_flags:
        raise UsageError(
            f"--resume: the study {name} in {location} was started with "
            f"{' '.join(before_flags)}, not {' '.join(now_flags)}: give its flags again "
            "(its trials and its recommendation are on them), or start a new study "
            "(--overwrite, or another --save_dir)"
        )


def flag_value(value) -> str:
    """A setting's value as JSON gave it back (lists for tuples), as a flag writes it."""
    return format_value(tuple(value) if isinstance(value, list) else value)


def open_study(config, options: TuneOptions, save_dir) -> tuple[optuna.Study, int]:
    """Opens the study ``check_study`` allowed: a new one, the one the storage holds
    (``resume``), or a new one in its place (``overwrite``). Returns it and how many trials it
    had."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    location = storage_location(save_dir, config.env, options.storage)
    Path(save_dir).mkdir(parents=True, exist_ok=True)
    storage = open_storage(location)
    name = study_name(config)
    exists = name in optuna.study.get_all_study_names(storage)
    if exists and options.overwrite:
        optuna.delete_study(study_name=name, storage=storage)
        exists = False
    if options.overwrite:  # the replaced study's trials and plots: its own files only
        trials, plots = study_files(config, save_dir)
        shutil.rmtree(trials, ignore_errors=True)
        for plot in plots:
            plot.unlink(missing_ok=True)
    if not exists:
        created = optuna.create_study(study_name=name, storage=storage, direction="maximize")
        for key, value in study_record(config, options).items():  # for --resume to check
            created.set_user_attr(key, value)
    study = load_study(config, options, save_dir)
    return study, len(study.trials)


def run_study(agent_class, base, spaces, options, save_dir, job: int = 0, out=print) -> None:
    """Runs trials until the study has ``options.trials`` counted ones (``counted``), this
    process's share of them when others work on it too.

    Raises:
        Interrupted: a signal stopped a trial.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = load_study(base, options, save_dir, job)
    while True:
        trials = study.get_trials(deepcopy=False)
        running = sum(1 for trial in trials if trial.state == TrialState.RUNNING)
        if sum(map(counted, trials)) + running >= options.trials:
            return
        run_trial(study, agent_class, base, spaces, options, save_dir, job, out)


def job_main(algorithm: str, base, spaces, options, save_dir, job: int) -> None:
    """A process of ``jobs`` (``multiprocessing``'s spawn): imports its agent class and runs
    trials. Exits 130 after an interrupt, as the command line does."""
    from a3c_keras import A2C, A3C

    agent_class = {"a2c": A2C, "a3c": A3C}[algorithm]
    try:
        run_study(agent_class, base, spaces, options, save_dir, job, print)
    except Interrupted as stopped:
        raise SystemExit(stopped.status) from None
    except KeyboardInterrupt:
        raise SystemExit(128 + 2) from None


def tune(agent_class, base, spaces, options, save_dir, out: Callable = print) -> optuna.Study:
    """Runs the study: ``options.jobs - 1`` processes besides this one, each running trials
    until the study has ``options.trials``; returns the study as the storage holds it.

    Call ``check_study`` first.

    Raises:
        Interrupted: a signal stopped it (the trials finished so far are kept).
    """
    study, before = open_study(base, options, save_dir)
    if not before:  # the first trial runs the base settings: the study shows if it beat them
        study.enqueue_trial(base_params(base, spaces), skip_if_exists=True)
    released = release_abandoned(study)
    counted_before = sum(map(counted, study.trials))
    out(
        f"tuning {base.algorithm.upper()} on {base.env}: {options.trials} trials of "
        f"{options.trial_steps} env steps, {len(spaces)} settings "
        f"({', '.join(f'{name} {space.describe()}' for name, space in spaces.items())}); "
        f"study in {storage_location(save_dir, base.env, options.storage)}"
        + (f", going on from {counted_before} trials" if before else "")
        + (f" ({released} left running by a stopped process marked failed)" if released else "")
    )
    context = multiprocessing.get_context("spawn")
    jobs = [
        context.Process(
            target=job_main, args=(base.algorithm, base, spaces, options, str(save_dir), job)
        )
        for job in range(1, options.jobs)
    ]
    # The jobs end with this process however it ends: killed (SIGKILL included), a watchdog
    # process kills them and what they started (utils/process_watchdog.py; Linux).
    watchdog = start_watchdog(JOB_MARKER) if jobs else None
    try:
        for process in jobs:
            process.start()
        run_study(agent_class, base, spaces, options, save_dir, 0, out)
    except (KeyboardInterrupt, Interrupted) as stopped:
        for process in jobs:  # a signal to this process alone (kill) stops them too
            if process.is_alive():
                os.kill(process.pid, signal.SIGINT)
        status = getattr(stopped, "status", 128 + 2)
        raise Interrupted("interrupted; continue the study with --resume", status) from None
    finally:
        for process in jobs:
            if process.pid is not None:
                process.join()
        stop_watchdog(watchdog)
    return load_study(base, options, save_dir)


# Results -------------------------------------------------------------------------------------


def best_config(study, base: ActorCriticConfig, spaces, options) -> ActorCriticConfig:
    """The best trial's config (its settings on ``base``, the trial budget in env steps); a
    setting the best trial did not draw (a study resumed with other spaces) keeps base's."""
    settings = settings_of(study.best_trial.params, spaces)
    return dataclasses.replace(base, **settings, max_steps=options.trial_steps, max_eps=0)


def preset_entry(config: ActorCriticConfig) -> dict:
    """The settings of ``config`` that differ from its class's defaults, but the env, the seed
    and the study's evaluation episodes: what a preset for the env would hold."""
    defaults = type(config)()
    skip = {"env", "seed", "eval_episodes"}  # the study's evaluations are not the preset's
    return {
        field.name: getattr(config, field.name)
        for field in dataclasses.fields(config)
        if field.name not in skip and getattr(config, field.name) != getattr(defaults, field.name)
    }


def summary(study, base, spaces, options, program: str) -> list[str]:
    """The end of a study in lines: its trials by state, the best trial, its settings as a
    preset entry and the command that trains with them."""
    trials = study.trials
    states = {state: sum(1 for t in trials if t.state == state) for state in TrialState}
    lines = [
        f"study {study.study_name}: {len(trials)} trials: {states[TrialState.COMPLETE]} "
        f"completed, {states[TrialState.PRUNED]} pruned, {states[TrialState.FAIL]} failed"
    ]
    if not states[TrialState.COMPLETE]:
        return [*lines, "no trial completed: nothing to recommend"]
    best = study.best_trial
    config = best_config(study, base, spaces, options)
    entry = {name: rounded(value) for name, value in preset_entry(config).items()}
    lines.append(
        f"best: trial {best.number}, greedy {best.value:.1f} (its last evaluation, seed "
        f"{best.user_attrs.get('seed', '?')})"
    )
    settings = "".join(f"            {name!r}: {value!r},\n" for name, value in entry.items())
    lines.append(
        f"as a preset (config/presets.py):\n    {base.env!r}: Preset(\n        {{\n{settings}"
        f'        }},\n        evidence=(),\n        command="python {program} --train '
        f'--env={base.env}",\n    ),'
    )
    flags = " ".join(f"--{name}={format_value(value)}" for name, value in entry.items())
    lines.append(f"re-run: python {program} --train --env={base.env} {flags}")
    return lines


def write_plots(study, save_dir: str | Path) -> list[Path]:
    """Optuna's optimisation history and parameter importances (matplotlib) as PNGs in
    ``save_dir`` (``study_files``: named by the study's algorithm and env); the importances
    need two completed trials. Returns the files written."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as plots

    written = []
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    makers = [("history", plots.plot_optimization_history, 1)]
    if len({json.dumps(t.params, sort_keys=True) for t in complete}) >= 2:
        makers.append(("importance", plots.plot_param_importances, 2))
    for kind, make, needed in makers:
        if len(complete) < needed:
            continue
        path = Path(save_dir) / f"tune_{safe_name(study.study_name)}_{kind}.png"
        axes = make(study)
        axes.figure.savefig(path, bbox_inches="tight")
        plt.close(axes.figure)
        written.append(path)
    return written
