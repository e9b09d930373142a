"""gymnasium's contract, checked while an env runs, so that an env that breaks it (a user's own,
``--env=module:Id``) is named as the cause in one line instead of failing deep inside training.

The contract (gymnasium 1.x): ``reset(seed=..., options=...)`` returns ``(observation, info)``,
``step(action)`` returns ``(observation, reward, terminated, truncated, info)``; observations
belong to the observation space (a Box's of its shape and finite, a Discrete's an integer in it,
a Dict's with its keys, each part so), checked as the env gives them, before the model's
encoding (``utils.spaces``); rewards are finite numbers.
``make_env`` and ``make_vector_env`` (``utils.envs``) wrap every env they make, so training,
evaluation, play and the checks before a run all step checked envs. A vector env is checked
once per batched step, not per env (its cost: docs/BENCHMARKS.md#a2c-throughput).

An exception that ``reset``, ``step`` or ``render`` raises (``sys.exit`` included) becomes an
``EnvFault`` naming the env and the call, but ``MemoryError`` (the command line reports it as
out of memory) and the signals' ``KeyboardInterrupt`` and ``Interrupted``.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from absl import logging
from gymnasium.vector.async_vector_env import _async_worker as gymnasium_async_worker

from utils.errors import EnvFault, Interrupted, first_line, one_line

CONTRACT = (
    "gymnasium 1.x expects reset() -> (observation, info) and step(action) -> (observation, "
    "reward, terminated, truncated, info)"
)
RESULT_SIZES = {"reset": 2, "step": 5}


def called(env_id: str, call: str, function: Callable[..., Any], *args, **kwargs) -> Any:
    """``function(*args, **kwargs)``, the env's ``call`` ("reset", "step" or "render"); returns
    its result.

    Raises:
        EnvFault: if it raised (but ``MemoryError``), or (``reset``, ``step``) returned no tuple
            of the contract's size.
    """
    try:
        result = function(*args, **kwargs)
    except (MemoryError, EnvFault, Interrupted, KeyboardInterrupt):
        raise  # out of memory, already named, or a signal that arrived meanwhile
    except SystemExit as error:  # sys.exit() in an env would end the run as if it succeeded
        raise EnvFault(f"{env_id}'s {call}() called sys.exit({error.code!r})") from None
    except BaseException as error:  # noqa: BLE001 - whatever a user's env raises is its fault
        hint = f"; {CONTRACT}" if "unpack" in str(error) else ""  # the old gym API, say
        raise EnvFault(
            f"{env_id}'s {call}() raised {type(error).__name__}: {first_line(error)}{hint}"
        ) from None
    size = RESULT_SIZES.get(call)
    if size is None:
        return result
    if not isinstance(result, tuple) or len(result) != size:
        tuple_size = len(result) if isinstance(result, tuple) else None
        what = f"a tuple of {tuple_size}" if tuple_size is not None else type(result).__name__
        old = " (the old gym API's 4-tuple)" if tuple_size == 4 else ""
        raise EnvFault(f"{env_id}'s {call}() returned {what}{old}; {CONTRACT}")
    return result


def check_observations(
    env_id: str, call: str, observations, space: gym.Space, batch: int | None
) -> None:
    """Observations (one, or ``batch`` of them) of ``space`` as the env gives them, before any
    encoding (``observation_fault``).

    Raises:
        EnvFault: saying what the env returned and what its space expects.
    """
    fault = observation_fault(space, observations, batch)
    if fault:
        raise EnvFault(f"{env_id}'s {call}() returned {fault}")


# The spaces whose observations are integers: their values must lie in the space.
INTEGER_SPACES = (gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)


def integer_bounds(space: gym.Space) -> tuple[np.ndarray, np.ndarray]:
    """``(low, high)`` of an integer space's values, ``low <= value < high``, each of its
    shape: a Discrete's ``start`` and ``start + n``, a MultiDiscrete's ``start`` and ``start +
    nvec``, a MultiBinary's 0 and 2."""
    if isinstance(space, gym.spaces.Discrete):
        return np.asarray(space.start), np.asarray(space.start + space.n)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return np.asarray(space.start), np.asarray(space.start + space.nvec)
    return np.zeros(space.shape, np.int64), np.full(space.shape, 2)


def observation_fault(space: gym.Space, observations, batch: int | None, where: str = ""):
    """What is wrong with ``observations`` (one, or with ``batch`` a batch of them, as a vector
    env gives them: a Dict's as a dict of batched arrays, a Tuple's as a tuple of them) of
    ``space``, in words (``"an observation['goal'] of value 7; its observation
    space['goal'] is Discrete(4)"``), or None if nothing is.

    A Box's observations have its shape, are numbers, and are finite if floats; a Discrete's,
    MultiDiscrete's and MultiBinary's are integers of its shape within it (``space.contains``);
    a Dict's have its keys and a Tuple's its length, each part checked so.
    """
    its = f"its observation space{where}"
    if isinstance(space, gym.spaces.Dict):
        if not isinstance(observations, Mapping):
            return f"an observation{where} of type {type(observations).__name__}; {its} is a Dict"
        if set(observations) != set(space.keys()):
            return (
                f"an observation{where} with the keys {sorted(map(str, observations))}; {its} "
                f"has the keys {sorted(map(str, space.keys()))}"
            )
        for key, part in space.items():
            fault = observation_fault(part, observations[key], batch, f"{where}[{key!r}]")
            if fault:
                return fault
        return None
    if isinstance(space, gym.spaces.Tuple):
        if not isinstance(observations, tuple | list) or len(observations) != len(space):
            got = len(observations) if isinstance(observations, tuple | list) else None
            what = f"a {type(observations).__name__}" + (f" of {got}" if got is not None else "")
            return f"an observation{where} that is {what}; {its} is a Tuple of {len(space)}"
        for index, part in enumerate(space):
            fault = observation_fault(part, observations[index], batch, f"{where}[{index}]")
            if fault:
                return fault
        return None
    shape = tuple(space.shape) if batch is None else (batch, *space.shape)
    array = np.asarray(observations)
    if batch is not None and array.shape[:1] != (batch,):
        return f"a batch{where} of shape {array.shape}; the batch has {batch} observations"
    integers = isinstance(space, INTEGER_SPACES)
    kinds = "biu" if integers else "biuf"
    if array.shape != shape or array.dtype.kind not in kinds:
        one = array.shape[1:] if batch is not None and array.ndim else array.shape
        return (
            f"an observation{where} of shape {one} and dtype {array.dtype}; {its} has shape "
            f"{space.shape} and dtype {space.dtype}"
        )
    if integers:
        low, high = integer_bounds(space)
        items = array.reshape(len(array) if batch is not None else 1, -1)
        outside = ((items < low.ravel()) | (items >= high.ravel())).any(axis=1)
        if outside.any():
            item = array[np.argmax(outside)] if batch is not None else array
            value = one_line(item.tolist())
            return f"an observation{where} of value {value}; {its} is {one_line(space)}"
        return None
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = array[~np.isfinite(array)]
        return (
            f"an observation{where} with {bad.size} NaN or infinite value(s) (such as "
            f"{bad[0]}); observations must be finite numbers"
        )
    return None


def check_rewards(env_id: str, rewards) -> None:
    """Rewards that are finite numbers.

    Raises:
        EnvFault: naming the first reward that is not.
    """
    array = np.asarray(rewards)
    if array.dtype.kind not in "biuf" or not np.isfinite(array).all():
        numbers = array.dtype.kind in "biuf"
        bad = array[~np.isfinite(array)][0].item() if numbers else array.ravel()[0]
        raise EnvFault(
            f"{env_id}'s step() returned the reward {bad!r}; rewards must be finite numbers"
        )


def check_step_parts(env_id: str, call: str, result: tuple) -> None:
    """A single env's ``info`` is a dict and ``step``'s ``terminated`` and ``truncated`` are
    booleans (a string such as ``"no"`` would count as true: every episode one step long).

    Raises:
        EnvFault: naming the part and its type.
    """
    info = result[-1]
    if not isinstance(info, dict):
        raise EnvFault(
            f"{env_id}'s {call}() returned info of type {type(info).__name__}; it must be a dict"
        )
    if call == "step":
        for name, flag in (("terminated", result[2]), ("truncated", result[3])):
            if not isinstance(flag, (bool, np.bool_)):
                raise EnvFault(
                    f"{env_id}'s step() returned {name}={flag!r} ({type(flag).__name__}); it "
                    "must be a bool"
                )


class CheckedEnv(gym.Wrapper):
    """An env whose ``reset`` and ``step`` are checked against gymnasium's contract (the module
    docstring); ``EnvFault`` says what broke it."""

    def __init__(self, env: gym.Env, env_id: str):
        super().__init__(env)
        self.env_id = env_id

    def reset(self, *, seed=None, options=None):
        result = called(self.env_id, "reset", self.env.reset, seed=seed, options=options)
        check_observations(self.env_id, "reset", result[0], self.observation_space, None)
        check_step_parts(self.env_id, "reset", result)
        return result

    def step(self, action):
        result = called(self.env_id, "step", self.env.step, action)
        check_observations(self.env_id, "step", result[0], self.observation_space, None)
        check_rewards(self.env_id, result[1])
        check_step_parts(self.env_id, "step", result)
        return result

    def render(self):
        return called(self.env_id, "render", self.env.render)

    def close(self):
        close_quietly(self.env_id, self.env.close)


def release_emulator(envs: gym.vector.VectorEnv) -> None:
    """Drops the emulator of a closed ale-py vector env (its ``ale``). The command line leaves
    a finished run's objects to the process's end (``gc.freeze`` in cli/main.py), and ale-py's
    bindings report a native object still alive then as leaked, in some 80 lines."""
    if getattr(envs, "closed", False) and hasattr(envs, "ale"):
        del envs.ale


def close_quietly(env_id: str, close: Callable[[], Any]) -> None:
    """Closes an env; an exception there (the run is over, or failing already) is a warning
    naming the env, not a second failure."""
    try:
        close()
    except Exception as error:  # noqa: BLE001 - a user's close may raise anything
        logging.warning(
            "%s's close() raised %s: %s; ignored", env_id, type(error).__name__, first_line(error)
        )


class CheckedVectorEnv(gym.vector.VectorWrapper):
    """A vector env whose batched ``reset`` and ``step`` are checked against gymnasium's
    contract (the module docstring): what a sub-env raises (in this process or, with
    ``async``, in its own, or that process's death) and what the batch holds."""

    def __init__(self, envs: gym.vector.VectorEnv, env_id: str):
        super().__init__(envs)
        self.env_id = env_id
        self.in_processes = isinstance(envs, gym.vector.AsyncVectorEnv)
        self.process_ended = False  # then the others are stopped at close, not waited for

    def reset(self, *, seed=None, options=None):
        if self.in_processes:
            self.env.reset_async(seed=seed, options=options)
            result = called(self.env_id, "reset", self._answers, "reset", self.env.reset_wait)
        else:
            result = called(self.env_id, "reset", self.env.reset, seed=seed, options=options)
        space = self.single_observation_space
        check_observations(self.env_id, "reset", result[0], space, self.num_envs)
        return result

    def step(self, actions):
        if self.in_processes:
            self.env.step_async(actions)
            result = called(self.env_id, "step", self._answers, "step", self.env.step_wait)
        else:
            result = called(self.env_id, "step", self.env.step, actions)
        space = self.single_observation_space
        check_observations(self.env_id, "step", result[0], space, self.num_envs)
        check_rewards(self.env_id, result[1])
        return result

    def close(self, **kwargs):
        """Closes the envs; after an env process ended, stops the others rather than wait for
        the answer to the pending call (gymnasium's ``close`` would wait, then fail on the
        ended one's pipe)."""
        if not self.process_ended:
            close_quietly(self.env_id, lambda: super(CheckedVectorEnv, self).close(**kwargs))
            release_emulator(self.env.unwrapped)
            return
        envs = self.env
        for process in envs.processes:
            if process.is_alive():
                process.kill()  # SIGKILL: env processes ignore SIGTERM (env_process_signals)
        for pipe in envs.parent_pipes:
            if pipe is not None:
                pipe.close()
        for process in envs.processes:
            process.join(timeout=5)
        envs.closed = True
        return None

    def _answers(self, call: str, receive: Callable[[], Any]) -> Any:
        """``receive()`` once every env process has answered ``call``; an env process that
        ended meanwhile (killed, or its env ended it) raises ``EnvFault`` instead of waiting
        for an answer that never comes."""
        envs = self.env
        pending = {pipe for pipe in envs.parent_pipes if pipe is not None}
        ended = {process.sentinel: process for process in envs.processes}
        while pending:
            for ready in multiprocessing.connection.wait([*pending, *ended]):
                if ready in ended:
                    process = ended[ready]
                    process.join(timeout=1)  # its exit status
                    self.process_ended = True
                    raise EnvFault(
                        f"{self.env_id}'s {call}(): the process of an env (--vector_mode=async) "
                        f"ended with exit status {process.exitcode}"
                    )
                pending.discard(ready)
        return receive()


def quiet_async_worker(index, env_fn, pipe, parent_pipe, *args, **kwargs) -> None:
    """gymnasium's loop of an ``async`` env's process (``AsyncVectorEnv(worker=...)``), ended
    quietly when the driver is gone. A driver killed by SIGKILL closes its end of each env's
    pipe: gymnasium's loop then fails to receive or to answer, and ``multiprocessing`` would
    print that traceback from every env process onto the terminal the driver left. The driver
    closes the envs it still has through the same loop (its ``close`` command)."""
    try:
        gymnasium_async_worker(index, env_fn, pipe, parent_pipe, *args, **kwargs)
    except (BrokenPipeError, ConnectionResetError, EOFError):
        return  # nobody is left to answer: the env is closed (gymnasium's finally), end


def env_process_signals(env: gym.Env) -> gym.Env:
    """A wrapper function for ``async`` envs (``gymnasium.make_vec(wrappers=...)``), applied where
    each env is made: in an env's own process (one started by ``multiprocessing``), SIGINT,
    SIGTERM and SIGHUP are ignored. A Ctrl-C or a closed terminal reaches the whole process
    group, and the driver stops the run, saves and closes its env processes; an env process
    that took the signal itself would die under it (or raise the driver's ``Interrupted``, a
    handler it inherited) and lose the run. Returns ``env`` unchanged."""
    if multiprocessing.parent_process() is not None:
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_IGN)
    return env
