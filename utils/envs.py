"""Making gymnasium environments and checking that the agents support them."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import difflib
import enum
import functools
import hashlib
import importlib
import importlib.util
import inspect
import json
import sys
import types
import warnings
from collections.abc import Callable
from typing import NamedTuple

import gymnasium as gym
import numpy as np
from absl import logging
from gymnasium.envs.classic_control.cartpole import CartPoleEnv, CartPoleVectorEnv

from utils.env_contract import (
    CheckedEnv,
    CheckedVectorEnv,
    env_process_signals,
    quiet_async_worker,
)
from utils.errors import EnvError, EnvFault, first_line, one_line
from utils.spaces import (
    ActionSpec,
    ObservationEncoder,
    ObservationSpec,
    action_spec,
    observation_encoder,
)
from utils.spaces import is_image as is_image  # agents/memory.py imports it from here

# CartPoleNoVel-v1 (RL Zoo's env of that name): CartPole-v1 whose observation keeps the cart
# position and the pole angle (indices 0 and 2) and drops both velocities, so a policy must
# remember to balance. Registered here, on import, for every command and every worker process.
NO_VELOCITY_ENV = "CartPoleNoVel-v1"
POSITIONS = [0, 2]


def _positions_space(space: gym.spaces.Box) -> gym.spaces.Box:
    return gym.spaces.Box(space.low[..., POSITIONS], space.high[..., POSITIONS], dtype=space.dtype)


def cartpole_no_velocity(**kwargs) -> gym.Env:
    """CartPole-v1's env with observations ``(x, theta)``: float32 ``(2,)``."""
    env = CartPoleEnv(**kwargs)
    space = _positions_space(env.observation_space)
    return gym.wrappers.TransformObservation(env, lambda obs: obs[POSITIONS], space)


def cartpole_no_velocity_vector(num_envs: int, **kwargs) -> gym.vector.VectorEnv:
    """The native CartPole vector env with observations ``(x, theta)``: float32
    ``(num_envs, 2)``."""
    envs = CartPoleVectorEnv(num_envs=num_envs, **kwargs)
    single = _positions_space(envs.single_observation_space)
    return gym.wrappers.vector.TransformObservation(
        envs,
        lambda obs: obs[:, POSITIONS],
        observation_space=gym.vector.utils.batch_space(single, num_envs),
        single_observation_space=single,
    )


if NO_VELOCITY_ENV not in gym.registry:
    gym.register(
        NO_VELOCITY_ENV,
        entry_point=cartpole_no_velocity,
        vector_entry_point=cartpole_no_velocity_vector,
        max_episode_steps=500,
        reward_threshold=475.0,
    )


VECTOR_MODES = ("auto", "native", "sync", "async")
# ``auto`` takes an env's native vector version from this many envs on: below it a loop over
# plain envs is faster (on CartPole, the native vector env costs as much a step for 1 env as
# for 8; a loop over plain envs grows with their number and costs the same at 4).
NATIVE_FROM = 4


# The module that registered each env named as ``module:EnvId`` in this process, so that other
# processes (Ray's workers) can import it too (``env_registration``), and a file records it
# (``env_record``).
ENV_MODULES: dict[str, str] = {}
# What each ``module:EnvId`` registered, by (module, id): another module registering the same id
# replaces it in gymnasium's registry, and a module is imported once, so naming the first
# module again puts its env back (``resolve_env_id``).
MODULE_SPECS: dict[tuple[str, str], gym.envs.registration.EnvSpec] = {}


def resolve_env_id(env_id: str) -> str:
    """The registered id of ``env_id``, importing ``module`` first for ``module:EnvId`` ids.

    ``module:EnvId`` is gymnasium's way to name an env that a module registers on import (your
    own env, say); the module must be importable from the working directory. Where two modules
    register the same id, the one named last is the one made: its registration is put back
    if the other module was imported since.

    Raises:
        EnvError: if the module is relative or cannot be imported (whatever it raises), or no
            env has the id (naming close ids).
    """
    module, _, name = env_id.rpartition(":")
    if atari_name(name):
        require_atari(name)
    if module:
        if module.startswith("."):
            raise EnvError(
                f"env id {env_id!r}: a relative module cannot be imported; name it from the "
                f"working directory ({module.lstrip('.')}:{name}, say)"
            )
        registered = MODULE_SPECS.get((module, name))
        if registered is not None:
            gym.registry[name] = registered  # another module may have replaced it since
        else:
            before = dict(gym.registry)
            try:
                importlib.import_module(module)
            except Exception as error:  # noqa: BLE001 - a user's module may raise anything
                raise EnvError(
                    f"cannot import {module!r} for env id {env_id!r}: {type(error).__name__}: "
                    f"{first_line(error)}"
                ) from None
            for key, spec in gym.registry.items():  # what this import registered
                if before.get(key) is not spec:
                    MODULE_SPECS[module, key] = spec
        ENV_MODULES[name] = module
    if name not in gym.registry:
        close = difflib.get_close_matches(name, list(gym.registry), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else "see gymnasium.pprint_registry()"
        raise EnvError(f"unknown env id {env_id!r}; {hint}")
    return name


# Envs given to the Python API as a factory (a function or class that makes one) or as an env
# object, registered with gymnasium under a name, so that everything taking an id (vector envs,
# evaluation, play, file names) takes them too. Ray's workers register them again from here
# (``env_registration``).
FACTORY_SPECS: dict[str, gym.envs.registration.EnvSpec] = {}
# Their spaces: a name registered again (a notebook's cell run twice) must make the same kind.
FACTORY_SPACES: dict[str, tuple[gym.Space, gym.Space]] = {}
# Their identities (``env_identity``): an env registered without a name takes its class's name
# only if nothing else is registered there, or the same env is.
FACTORY_IDENTITIES: dict[str, tuple] = {}
# The most parts (objects, containers, arrays) ``env_identity`` looks at in an env; an env of
# more is the same only as itself.
IDENTITY_PARTS = 20_000


def env_identity(env: gym.Env, changed: dict | None | bool = False) -> tuple:
    """What makes two envs the same env for ``register_env``: a tuple, equal for the same env.

    An env with a gymnasium spec (made by ``gymnasium.make``, perhaps wrapped) is its spec: its
    id, entry point, ``kwargs`` (``render_mode`` left out), ``max_episode_steps``, reward
    threshold and wrappers with their arguments, and the attributes changed on it after
    ``gymnasium.make`` (``changed_attributes``). Any other env (no spec, a wrapper that does
    not record its arguments, or a spec no fresh env can be made from) is the env object as
    pickle would take it apart: its class by its import
    path and its attributes as they are (arrays by dtype, shape and contents), so two fresh
    instances of a class made with the same arguments are the same, and an env already
    stepped is another. Within either, a class or function is the same by its import path
    where that path names it; a lambda, a local function or anything that cannot be taken
    apart (or an env of more than ``IDENTITY_PARTS`` parts) is the same only as itself.
    ``changed``: the env's ``changed_attributes`` where the caller has them (False: found here).
    """
    spec = env.spec
    if changed is False:
        changed = changed_attributes(env)
    if changed is not None:
        kwargs = {k: v for k, v in spec.kwargs.items() if k != "render_mode"}
        wrappers = tuple((w.name, w.entry_point, w.kwargs) for w in spec.additional_wrappers)
        value = (
            spec.id,
            spec.entry_point,
            kwargs,
            spec.max_episode_steps,
            spec.reward_threshold,
            wrappers,
            changed,
        )
    else:
        value = env
    kind, budget = "object" if value is env else "spec", [IDENTITY_PARTS]
    try:
        identity = described(value, set(), budget)
    except RecursionError:
        return (kind, SameObject(env))
    return (kind, identity if budget[0] >= 0 else SameObject(env))


class SameObject:
    """A part ``env_identity`` cannot take apart: equal only to itself (held, so its ``id`` is
    not taken by another object)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other) -> bool:
        return isinstance(other, SameObject) and other.value is self.value

    __hash__ = None


def described(value, path: set[int], budget: list[int]):
    """``value`` as nested tuples of plain values, equal for equal values (``env_identity``);
    ``path`` holds the ids of the containers being described (a cycle is marked, not
    followed), ``budget`` the parts left: below 0, the rest is not described (the caller
    compares the whole object by identity then)."""
    budget[0] -= 1
    if budget[0] < 0:
        return SameObject(value)
    if value is None or isinstance(value, bool | int | float | complex | str | bytes):
        return (type(value).__name__, value)
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            return ("array", value.dtype.str, value.shape, described(value.tolist(), path, budget))
        digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).digest()
        return ("array", value.dtype.str, value.shape, digest)
    if isinstance(value, np.generic):
        return ("scalar", value.dtype.str, value.tobytes())
    if isinstance(value, np.dtype):
        return ("dtype", repr(value))
    if isinstance(value, enum.Enum):
        return ("enum", described(type(value), path, budget), value.name)
    if isinstance(value, type | types.FunctionType | types.BuiltinFunctionType | types.ModuleType):
        return named(value)
    if id(value) in path:
        return ("cycle",)
    path.add(id(value))
    try:
        if type(value) in (list, tuple):
            return (type(value).__name__, tuple(described(v, path, budget) for v in value))
        if type(value) is dict:
            items = value.items()
            return (
                "dict",
                tuple((described(k, path, budget), described(v, path, budget)) for k, v in items),
            )
        if type(value) in (set, frozenset):
            parts = sorted((described(v, path, budget) for v in value), key=repr)
            return (type(value).__name__, tuple(parts))
        if isinstance(value, np.random.Generator):
            return ("Generator", described(value.bit_generator.state, path, budget))
        try:
            reduced = value.__reduce_ex__(4)  # how pickle takes it apart
        except Exception:  # noqa: BLE001 - an object may refuse to be pickled in any way
            return SameObject(value)
        if isinstance(reduced, str):  # a global, by name
            return ("global", type(value).__module__, reduced)
        return ("object", described(tuple(reduced), path, budget))
    finally:
        path.discard(id(value))


def named(value) -> tuple | SameObject:
    """A class, function or module by its import path, where that path names it; else the
    object itself (``SameObject``): a lambda, a local function, a class defined again."""
    if isinstance(value, types.ModuleType):
        return ("module", value.__name__)
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
        found = sys.modules.get(module)
        for part in qualname.split("."):
            found = getattr(found, part, None)
        if found is value:
            return ("named", module, qualname)
    return SameObject(value)


# Attributes of an env or a wrapper that do not say which env it is: its link to the env it
# wraps, gymnasium's bookkeeping (spec, order; its checker's ``checked_*``), random generators,
# rendering, and the state a reset or a step sets (MuJoCo's ``data``). Besides these, an
# attribute that a fresh env lacks or holds None in (the state before the first reset:
# CartPole's ``state``) is not compared.
UNCOMPARED_ATTRIBUTES = frozenset(
    {
        "env",
        "_env",
        "spec",
        "_cached_spec",
        "np_random",
        "_np_random",
        "_np_random_seed",
        "render_mode",
        "screen",
        "clock",
        "isopen",
        "viewer",
        "window",
        "_has_reset",
        "_disable_render_order_enforcing",
        "close_called",
        "_elapsed_steps",
        "state",
        "steps_beyond_terminated",
        "data",
    }
)


def env_layers(env: gym.Env) -> list[gym.Env]:
    """``env``, the env it wraps, and so on down to the unwrapped env (the last)."""
    layers = [env]
    while isinstance(layers[-1], gym.Wrapper) and len(layers) < 100:
        layers.append(layers[-1].env)
    return layers


def layer_attributes(layer) -> dict:
    """The attributes of one layer (``env_layers``) that can say which env it is
    (``UNCOMPARED_ATTRIBUTES`` left out)."""
    attributes = getattr(layer, "__dict__", None)
    if not isinstance(attributes, dict):
        return {}
    return {
        k: v
        for k, v in attributes.items()
        if k not in UNCOMPARED_ATTRIBUTES and not k.startswith("checked_")
    }


def same_value(mine, theirs) -> bool:
    """Whether an attribute of an env has the same value as a fresh env's: spaces by their
    bounds, shape and dtype (not their random generator), functions by their code, defaults
    and closure, anything else by ``described``. A value that cannot be taken apart (a
    simulator's handle: a Box2D world, an ALE interface) counts as the same: it says nothing
    that can be compared."""
    if isinstance(mine, gym.Space) and isinstance(theirs, gym.Space):
        try:
            return bool(mine == theirs)
        except Exception:  # noqa: BLE001 - a user's space may compare in any way
            return True
    if isinstance(mine, types.FunctionType) and isinstance(theirs, types.FunctionType):
        if mine is theirs:
            return True
        if mine.__code__ is not theirs.__code__:
            return named(mine) == named(theirs) and not isinstance(named(mine), SameObject)
        try:
            cells = [
                tuple(cell.cell_contents for cell in function.__closure__ or ())
                for function in (mine, theirs)
            ]
            return same_value(mine.__defaults__, theirs.__defaults__) and all(
                same_value(a, b) for a, b in zip(*cells, strict=True)
            )
        except ValueError:  # a closure cell not filled yet: nothing to compare
            return True
    try:
        budget = [IDENTITY_PARTS]
        ours, fresh = described(mine, set(), budget), described(theirs, set(), budget)
    except RecursionError:
        return True
    if has_object(ours) or has_object(fresh):
        return True
    return ours == fresh


def has_object(value) -> bool:
    """Whether a ``described`` value holds a part compared only by identity (``SameObject``)."""
    if isinstance(value, SameObject):
        return True
    return isinstance(value, tuple) and any(has_object(part) for part in value)


def fresh_env(spec: gym.envs.registration.EnvSpec) -> gym.Env | None:
    """A new env made from ``spec`` (no rendering), then the wrappers the spec records beyond
    those its entry point adds itself, or None if none can be made."""
    kwargs = {k: v for k, v in spec.kwargs.items() if k != "render_mode"}
    env = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            env = gym.make(dataclasses.replace(spec, kwargs=kwargs, additional_wrappers=()))
            own = len(env.spec.additional_wrappers)  # the entry point's own wrappers
            for wrapper in spec.additional_wrappers[own:]:
                make = wrapper.entry_point
                if isinstance(make, str):
                    make = gym.envs.registration.load_env_creator(make)
                env = make(env, **wrapper.kwargs)
            return env
    except Exception:  # noqa: BLE001 - a user's env may fail to be made in any way
        if env is not None:
            with contextlib.suppress(Exception):
                env.close()
        return None


def changed_attributes(env: gym.Env) -> dict | None:
    """The attributes of ``env`` and its wrappers whose values differ from those of a fresh env
    made from its gymnasium spec (``env.unwrapped.x_threshold = 1.0`` after ``gymnasium.make``),
    by name: the env's own as they are (``x_threshold``), a wrapper's after its class's name
    (``TimeLimit._max_episode_steps``). Not compared: ``UNCOMPARED_ATTRIBUTES``, attributes
    the fresh env lacks or holds None in (state a reset sets), values that cannot be taken
    apart (``same_value``).

    Returns:
        A dict (empty where nothing was changed), or None where there is nothing to compare
        with: no spec, a wrapper that does not record its arguments, a spec no env can be made
        from, or a fresh env of other wrappers.
    """
    spec = env.spec
    if spec is None or any(w.kwargs is None for w in spec.additional_wrappers):
        return None
    fresh = fresh_env(spec)
    if fresh is None:
        return None
    try:
        mine, theirs = env_layers(env), env_layers(fresh)
        if [type(layer) for layer in mine] != [type(layer) for layer in theirs]:
            return None
        changed = {}
        for index, (layer, base) in enumerate(zip(mine, theirs, strict=True)):
            prefix = "" if index == len(mine) - 1 else f"{type(layer).__name__}."
            before = layer_attributes(base)
            for name, value in layer_attributes(layer).items():
                if before.get(name) is None:
                    continue  # state a reset or a step sets (or nothing the env reads)
                if not same_value(value, before[name]):
                    changed[prefix + name] = value
        return changed
    finally:
        with contextlib.suppress(Exception):
            fresh.close()


# What a file records of an env ----------------------------------------------------------------

# The record (``env_record``) of each factory or object ``register_env`` registered, by name.
FACTORY_RECORDS: dict[str, dict] = {}
# A value of an env's record that cannot be taken apart (a lambda, a simulator's handle) is
# written as ``{OPAQUE: "its type"}``: it compares the same as anything (``record_difference``).
OPAQUE = "opaque"


def env_record(env_id: str) -> dict:
    """What a file (weights, ``.keras`` export, checkpoint) records of the env ``env_id``
    names in this process, as JSON-able values, so that loading it for another env is refused
    (``record_difference``). Nothing in it is imported or run when it is read.

    - An id: ``{"id": "CartPole-v1"}``; one a module registered (``--env=moda:Foo-v0``) with
      that module, ``{"id": "Foo-v0", "module": "moda"}``.
    - A factory or an env object (``register_env``): ``{"id": name, "made_by": "factory"``
      or ``"object"``, ``"class": "pkg.mod:MazeEnv"`` (the unwrapped env's), then for an env
      made by ``gymnasium.make`` its ``"spec"`` (``id``, ``kwargs``, ``max_episode_steps``,
      ``wrappers`` with their arguments) and the ``"attributes"`` changed since
      (``changed_attributes``); for any other env the ``"kwargs"`` its class takes that it
      keeps as attributes of the same names (``constructor_arguments``) and its
      ``"wrappers"``, outermost first, with theirs ``}``.
    """
    if env_id in FACTORY_RECORDS:
        return FACTORY_RECORDS[env_id]
    record = {"id": env_id}
    if env_id in ENV_MODULES:
        record["module"] = ENV_MODULES[env_id]
    return record


def object_record(env: gym.Env, name: str, made_by: str, changed: dict | None) -> dict:
    """``env_record``'s record of an env a factory made or an env object (``made_by``),
    registered under ``name``; ``changed`` is its ``changed_attributes``."""
    record = {"id": name, "made_by": made_by, "class": class_path(type(env.unwrapped))}
    spec = env.spec
    if changed is not None:
        record["spec"] = {
            "id": spec.id,
            "kwargs": value_record({k: v for k, v in spec.kwargs.items() if k != "render_mode"}),
            "max_episode_steps": spec.max_episode_steps,
            "wrappers": [
                {"class": value_record(w.entry_point), "kwargs": value_record(w.kwargs)}
                for w in spec.additional_wrappers
            ],
        }
        record["attributes"] = {key: value_record(changed[key]) for key in sorted(changed)}
    else:
        record["kwargs"] = constructor_arguments(env.unwrapped)
        record["wrappers"] = [
            {"class": class_path(type(layer)), "kwargs": wrapper_arguments(layer)}
            for layer in env_layers(env)[:-1]
        ]
    return record


def class_path(cls: type) -> str:
    """``module:QualName`` of a class (not imported again: only written)."""
    return f"{getattr(cls, '__module__', '?')}:{getattr(cls, '__qualname__', cls.__name__)}"


def constructor_arguments(obj) -> dict:
    """The arguments ``obj``'s class takes (``render_mode`` left out) that it keeps as
    attributes of the same names (``length`` as ``self.length`` or ``self._length``), as
    ``value_record``s: an object of no spec says no more of how it was made."""
    try:
        parameters = inspect.signature(type(obj).__init__).parameters
    except (TypeError, ValueError):
        return {}
    attributes = getattr(obj, "__dict__", {})
    arguments = {}
    for name, parameter in parameters.items():
        if name in ("self", "render_mode") or parameter.kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            continue
        for attribute in (name, f"_{name}"):
            if attribute in attributes and attribute not in UNCOMPARED_ATTRIBUTES:
                arguments[name] = value_record(attributes[attribute])
                break
    return arguments


def wrapper_arguments(wrapper: gym.Wrapper) -> dict:
    """The arguments a wrapper was made with: those gymnasium's wrappers record
    (``RecordConstructorArgs``), else ``constructor_arguments``."""
    saved = getattr(wrapper, "_saved_kwargs", None)
    if isinstance(saved, dict):
        return {k: value_record(v) for k, v in saved.items() if k != "env"}
    return constructor_arguments(wrapper)


def value_record(value, depth: int = 0):
    """``value`` as JSON for an env's record (``env_record``): numbers, strings, booleans and
    None as they are (a non-finite float as its ``repr``), spaces as ``str(space)``, short
    lists and dicts part by part, classes and functions by their import path, small arrays
    by their values; anything else as its type and a digest of what it is made of
    (``described``), or ``{OPAQUE: type}`` where it cannot be taken apart."""
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        value = value.item()
    if value is None or isinstance(value, bool) or isinstance(value, str) and len(value) <= 200:
        return value
    if isinstance(value, int) and abs(value) < 2**53:
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else repr(value)
    if isinstance(value, gym.Space):
        return str(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.size <= 8:
        if np.isfinite(value).all():
            return {"array": value.dtype.str, "values": value.tolist()}
    if isinstance(value, list | tuple) and len(value) <= 16 and depth < 4:
        return [value_record(part, depth + 1) for part in value]
    if type(value) is dict and len(value) <= 32 and depth < 4:
        if all(isinstance(key, str) for key in value):
            return {key: value_record(part, depth + 1) for key, part in value.items()}
    if isinstance(value, type | types.FunctionType | types.BuiltinFunctionType | types.ModuleType):
        path = named(value)
        if isinstance(path, tuple):
            return path[1] if path[0] == "module" else f"{path[1]}:{path[2]}"
        return {OPAQUE: type(value).__name__}
    try:
        parts = described(value, set(), [IDENTITY_PARTS])
    except RecursionError:
        parts = SameObject(value)
    if has_object(parts):
        return {OPAQUE: type(value).__qualname__}
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
    return f"{type(value).__qualname__} sha256:{digest}"


def record_name(record: dict) -> str:
    """The env of a record as ``--env`` names it: ``module:Id``, or the id."""
    module = record.get("module")
    return f"{module}:{record.get('id')}" if module else str(record.get("id"))


def record_parts(record: dict, prefix: str = "") -> dict:
    """A record's values by their path (``spec.kwargs.gravity``), how it was registered
    (``made_by``) left out."""
    parts = {}
    for key, value in record.items():
        if not prefix and key == "made_by":
            continue
        if isinstance(value, dict) and OPAQUE not in value and "array" not in value:
            parts.update(record_parts(value, f"{prefix}{key}."))
        else:
            parts[prefix + key] = value
    return parts


def same_part(mine, theirs) -> bool:
    """Whether two values of records are the same (an opaque one is the same as anything)."""
    if isinstance(mine, dict) and OPAQUE in mine or isinstance(theirs, dict) and OPAQUE in theirs:
        return True
    if isinstance(mine, list) and isinstance(theirs, list):
        return len(mine) == len(theirs) and all(map(same_part, mine, theirs))
    if isinstance(mine, dict) and isinstance(theirs, dict):
        keys = set(mine) | set(theirs)
        return all(same_part(mine.get(key), theirs.get(key)) for key in keys)
    return mine == theirs


def record_difference(saved: dict, current: dict) -> tuple[str, str] | None:
    """How the env a file records (``saved``, an ``env_record``) differs from the one this
    process has (``current``): both in words, each naming its values where they differ
    (``Foo-v0 (x_threshold=1.0)``, ``moda:Foo-v0``), or None for the same env."""
    if bool(saved.get("made_by")) != bool(current.get("made_by")):  # an id and an object
        return record_words(saved, {}, []), record_words(current, {}, [])
    mine, theirs = record_parts(saved), record_parts(current)
    missing = object()
    # An env object's id is the name this process registered it under (CartPoleEnv-2 when
    # another object of its class came first): what it holds is its identity, not its name.
    names = ("id",) if saved.get("made_by") else ()
    keys = [
        key
        for key in dict.fromkeys([*mine, *theirs])
        if key not in names and not same_part(mine.get(key, missing), theirs.get(key, missing))
    ]
    if not keys:
        return None
    return record_words(saved, mine, keys), record_words(current, theirs, keys)


def record_words(record: dict, parts: dict, keys: list[str]) -> str:
    """``record``'s env by name with its values at ``keys`` (``record_difference``)."""
    words = []
    for key in keys:
        if key in ("id", "module"):
            continue
        shown = key.removeprefix("attributes.").removeprefix("spec.kwargs.")
        shown = shown.removeprefix("kwargs.")
        if key not in parts:
            words.append(f"no {shown}")
        else:
            text = json.dumps(parts[key], default=str)
            words.append(f"{shown}={text if len(text) <= 60 else text[:57] + '...'}")
    name = record_name(record)
    if record.get("made_by"):
        name = f"{name} (an env {record['made_by']}"
        return f"{name}: {', '.join(words)})" if words else f"{name})"
    return f"{name} ({', '.join(words)})" if words else name


def default_env_name(class_name: str, identity: tuple) -> str:
    """The name an env registered without ``env_name`` takes: its class's name where nothing
    is registered under it yet or the same env is (``identity``), else the first of
    ``<class name>-2``, ``-3``, ... that is free or holds the same env. A name gymnasium or
    another package registered is left to ``register_env`` to refuse."""
    name, number = class_name, 1
    while name in FACTORY_SPECS:
        if FACTORY_IDENTITIES.get(name) == identity:
            return name
        number += 1
        name = f"{class_name}-{number}"
    return name


class EnvFactory:
    """A user's env factory as gymnasium's entry point: ``gym.make`` calls it with
    ``render_mode`` when one is asked for, which it receives if it takes that argument."""

    def __init__(self, factory: Callable[..., gym.Env]):
        self.factory = factory
        # The (observation, action) spaces of the first env it made (register_env's): every
        # env it makes must have them, as a vector env's envs and a saved model need.
        self.spaces: tuple[gym.Space, gym.Space] | None = None
        try:
            parameters = inspect.signature(factory).parameters
        except (TypeError, ValueError):  # a builtin or an odd callable: call it plainly
            parameters = {}
        self.takes_render_mode = "render_mode" in parameters or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
        )

    def __call__(self, render_mode: str | None = None) -> gym.Env:
        """An env from the factory (with ``render_mode`` if it takes one).

        Raises:
            EnvError: the env's spaces are not those of the first env the factory made.
        """
        if render_mode is not None and self.takes_render_mode:
            env = self.factory(render_mode=render_mode)
        else:
            env = self.factory()
        if self.spaces is not None and isinstance(env, gym.Env):
            for kind, first, space in zip(
                ("observation", "action"),
                self.spaces,
                (env.observation_space, env.action_space),
                strict=True,
            ):
                if space != first:
                    with contextlib.suppress(Exception):
                        env.close()
                    name = getattr(self.factory, "__qualname__", type(self.factory).__qualname__)
                    raise EnvError(
                        f"the env factory {name} made an env of {kind} space {one_line(space)} "
                        f"after one of {one_line(first)}: every env it makes must have the "
                        "same spaces"
                    )
        return env


class EnvCopy:
    """Copies of an env object (``copy.deepcopy`` of it as it was given), one a call: the
    entry point of an env given as an object, as a vector env needs several."""

    def __init__(self, env: gym.Env):
        self.env = copy.deepcopy(env)

    def __call__(self, render_mode: str | None = None) -> gym.Env:
        return copy.deepcopy(self.env)


def register_env(env, name: str | None = None) -> str:
    """The gymnasium id under which ``env`` is made: an id (``module:EnvId`` too) as it is; a
    factory (a class or function returning a ``gymnasium.Env``, called with no arguments, or
    with ``render_mode`` if it takes one) or an env object (copied with ``copy.deepcopy``;
    one made by ``gymnasium.make`` from a registered id with that id's settings, and no
    attribute changed since (``changed_attributes``), is that id) registered under ``name``;
    what it is, is recorded for the files a run writes (``env_record``).

    Args:
        env: an id, a factory, or a ``gymnasium.Env``.
        name: the id to register a factory or object under (it names the run's files and
            presets); default: the class name of the env it makes (``MazeEnv``), or, where
            this process registered another env under that name, ``MazeEnv-2`` (``-3``, ...).

    A factory's env keeps its own time limit (a ``TimeLimit`` wrapper or its spec's) and
    reward threshold (its spec's); without a time limit, episodes are cut after
    ``DEFAULT_EPISODE_STEPS`` steps. Without ``name``, an env registered again that is the
    same env (``env_identity`` of the env the factory makes, or of the object's copy: a
    notebook's cell run twice) takes the name it had, and its factory replaces the one before;
    another env of the same class gets a name of its own, so an agent built before keeps its
    env. Registering a ``name`` given again replaces what this function registered under it
    before, if its spaces are the same.

    Raises:
        EnvError: ``env`` is none of these; the factory raises, returns something other than
            a ``gymnasium.Env``, or its env cannot be copied; ``name`` is not a valid id, is
            an env gymnasium (or another package) registered, or was registered here for an
            env of other spaces; ``name`` given with an id.
    """
    if isinstance(env, str):
        if name is not None:
            raise EnvError(
                f"env_name={name!r}: an env id ({env!r}) names itself; env_name is for an env "
                "factory or object"
            )
        return resolve_env_id(env)
    if isinstance(env, gym.Env):
        spec = env.spec
        if name is None and spec is not None and spec.id in gym.registry:
            registered = gym.spec(spec.id)
            kwargs = {k: v for k, v in spec.kwargs.items() if k != "render_mode"}
            if (
                registered.kwargs == kwargs
                and registered.entry_point == spec.entry_point
                and spec.max_episode_steps == registered.max_episode_steps
                and not spec.additional_wrappers
                and changed_attributes(env) == {}
            ):
                return spec.id  # as the id makes it: nothing of its own to keep
        try:
            entry_point = EnvCopy(env)
        except Exception as error:  # noqa: BLE001 - a user's env may refuse in any way
            raise EnvError(
                f"the env object {type(env.unwrapped).__name__} cannot be copied "
                f"({type(error).__name__}: {first_line(error)}); pass a factory instead (its "
                "class, or a function that makes it)"
            ) from None
        what = f"a copy of the env object {type(env.unwrapped).__name__}"
        made_by = "object"
    elif callable(env):
        entry_point = EnvFactory(env)
        what = f"the env factory {getattr(env, '__qualname__', repr(env))}"
        made_by = "factory"
    else:
        raise EnvError(
            f"env={env!r}: give a gymnasium env id (a str), a factory (a class or function "
            "that makes a gymnasium.Env) or a gymnasium.Env"
        )
    with env_creation(what):
        made = entry_point()
    if not isinstance(made, gym.Env):
        raise EnvError(f"{what} returned {type(made).__name__}, not a gymnasium.Env")
    try:
        changed = changed_attributes(made)
        identity = env_identity(made, changed)
        if name is not None:
            env_name = name
        else:
            env_name = default_env_name(type(made.unwrapped).__name__, identity)
        record = object_record(made, env_name, made_by, changed)
        limit, wrapper = None, made
        while isinstance(wrapper, gym.Wrapper) and limit is None:
            if isinstance(wrapper, gym.wrappers.TimeLimit):
                limit = wrapper._max_episode_steps
            wrapper = wrapper.env
        spec = made.spec
        limit = limit or (spec.max_episode_steps if spec is not None else None)
        threshold = spec.reward_threshold if spec is not None else None
        spaces = (made.observation_space, made.action_space)
        if isinstance(entry_point, EnvFactory):
            entry_point.spaces = spaces
    finally:
        with contextlib.suppress(Exception):
            made.close()
    if not isinstance(env_name, str) or not gym.envs.registration.ENV_ID_RE.fullmatch(env_name):
        raise EnvError(
            f"env_name={env_name!r} is not a valid env id: letters, digits, _ . : - (and one "
            "optional namespace/), such as MyEnv or MyEnv-v0"
        )
    if env_name in gym.registry and env_name not in FACTORY_SPECS:
        raise EnvError(
            f"env_name={env_name!r} is already a registered env; give the factory another env_name"
        )
    if FACTORY_SPACES.get(env_name, spaces) != spaces:
        raise EnvError(
            f"env_name={env_name!r} names another env in this process (observation space "
            f"{FACTORY_SPACES[env_name][0]}, action space {FACTORY_SPACES[env_name][1]}; this "
            f"one's: {spaces[0]}, {spaces[1]}); give it another env_name"
        )
    gym.registry.pop(env_name, None)  # this module's own, from before: replaced
    try:
        gym.register(
            env_name,
            entry_point=entry_point,
            max_episode_steps=limit,
            reward_threshold=threshold,
            disable_env_checker=True,
        )
    except gym.error.RegistrationError as error:  # MyEnv where MyEnv-v0 is registered, say
        raise EnvError(
            f"env_name={env_name!r} cannot be registered ({first_line(error)}); give the "
            "factory another env_name"
        ) from None
    FACTORY_SPECS[env_name] = gym.spec(env_name)
    FACTORY_SPACES[env_name] = spaces
    FACTORY_IDENTITIES[env_name] = identity
    FACTORY_RECORDS[env_name] = record
    return env_name


def env_registration(env_id: str) -> gym.envs.registration.EnvSpec | str | None:
    """What another process (a Ray worker) needs to make ``env_id``: the spec of an env
    registered by ``register_env`` (its factory sent along), the module of a ``module:EnvId``
    id, or None for an env gymnasium or ale-py registers. ``register_registration`` takes it
    there."""
    return FACTORY_SPECS.get(env_id) or ENV_MODULES.get(env_id)


def register_registration(env_id: str, registration) -> None:
    """In another process: makes ``env_id`` known as ``env_registration`` described it.

    Raises:
        EnvError: the module cannot be imported (``resolve_env_id``).
    """
    if isinstance(registration, gym.envs.registration.EnvSpec):
        gym.registry[env_id] = registration
        FACTORY_SPECS[env_id] = registration
    elif registration:
        resolve_env_id(f"{registration}:{env_id}")


@contextlib.contextmanager
def env_creation(env_id: str, how: str = ""):
    """Turns an exception while an env is made into an ``EnvError`` of one line: gymnasium's
    ``DependencyNotInstalled`` (an env whose simulator is not installed: Box2D for LunarLander,
    MuJoCo) saying what to install, anything else (a user's constructor, an env that cannot go
    to another process) naming it. ``how`` says how the envs were made, for the message."""
    try:
        yield
    except gym.error.DependencyNotInstalled as error:
        raise EnvError(f"{env_id} cannot start: {first_line(error)}") from None
    except (EnvError, MemoryError):
        raise
    except Exception as error:  # noqa: BLE001 - a user's env may raise anything
        raise EnvError(
            f"{env_id} cannot be made{how}: {type(error).__name__}: {first_line(error)}"
        ) from None


# Episodes of an env registered without a time limit (``max_episode_steps``) are cut
# (truncated) after this many steps, in training, evaluation and play alike, so an episode that
# never ends cannot stall a run. Atari games end on their own (ale-py's frame limit).
DEFAULT_EPISODE_STEPS = 10_000


def episode_step_limit(env_id: str) -> int:
    """The steps after which an episode of ``env_id`` is truncated: its registered time limit,
    or ``DEFAULT_EPISODE_STEPS`` (said once per env, as a warning)."""
    limit = gym.spec(env_id).max_episode_steps
    if limit:
        return limit
    if not is_atari(env_id):
        warn_no_time_limit(env_id)
    return DEFAULT_EPISODE_STEPS


@functools.cache
def warn_no_time_limit(env_id: str) -> None:
    logging.warning(
        "%s has no time limit (max_episode_steps): its episodes are cut (truncated) after %d steps",
        env_id,
        DEFAULT_EPISODE_STEPS,
    )


# Atari (``ALE/<Game>-v5``, from ale-py): the preprocessing of Mnih et al. 2015 as gymnasium's
# ``AtariPreprocessing`` and ``FrameStackObservation`` implement it, and ale-py's native vector
# env the same way: frames skipped 4 (the max of the last two), 84x84 grey, 4 stacked
# (observations uint8 ``(4, 84, 84)``), up to 30 no-op starts. Episodes are whole games and
# rewards raw, so reported returns are the game's score; training makes a lost life terminal
# (agents/memory.py) and clips rewards (``--clip_rewards``) for the loss only. The v5 games
# repeat the last action with probability 0.25 (sticky actions, Machado et al. 2018);
# ``<Game>NoFrameskip-v4`` (``PongNoFrameskip-v4``) are the frames RL Zoo and the A3C paper's
# results are on: no sticky actions, the same preprocessing (and the same settings: the preset
# of ``ALE/*``).
ATARI_PREFIX = "ALE/"
ATARI_V4_SUFFIX = "NoFrameskip-v4"
ATARI_PREPROCESSING = {"frame_skip": 4, "screen_size": 84, "noop_max": 30, "stack": 4}
ATARI_PACKAGES = "pip install -r requirements-atari.txt (ale-py and opencv-python-headless)"


def atari_name(name: str) -> bool:
    """Whether ``name`` is of the form of an ale-py game's id (``ALE/Pong-v5``,
    ``PongNoFrameskip-v4``), known or not."""
    return name.startswith(ATARI_PREFIX) or name.endswith(ATARI_V4_SUFFIX)


def is_atari(env_id: str) -> bool:
    """Whether ``env_id`` names an Atari game of ale-py played from the screen (``ALE/Pong-v5``,
    ``PongNoFrameskip-v4``; not one registered with ``obs_type="ram"``, whose observations are
    128 flat bytes)."""
    name = env_id.rpartition(":")[2]
    if not atari_name(name):
        return False
    require_atari(name)
    spec = gym.registry.get(name)
    return spec is not None and spec.kwargs.get("obs_type", "rgb") != "ram"


def require_atari(env_id: str) -> None:
    """Registers ale-py's games with gymnasium.

    Raises:
        EnvError: if ale-py or OpenCV (which ``AtariPreprocessing`` resizes with) is missing.
    """
    for module in ("ale_py", "cv2"):
        if importlib.util.find_spec(module) is None:
            raise EnvError(f"{env_id} needs the {module} module: {ATARI_PACKAGES}")
    import ale_py

    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)  # no greeting at each game
    gym.register_envs(ale_py)


def make_atari_env(env_id: str, render_mode: str | None = None) -> gym.Env:
    """One Atari game with the evaluation preprocessing (whole games, raw rewards)."""
    env = gym.make(env_id, frameskip=1, render_mode=render_mode)
    env = gym.wrappers.AtariPreprocessing(
        env,
        noop_max=ATARI_PREPROCESSING["noop_max"],
        frame_skip=ATARI_PREPROCESSING["frame_skip"],
        screen_size=ATARI_PREPROCESSING["screen_size"],
        terminal_on_life_loss=False,
        grayscale_obs=True,
    )
    return gym.wrappers.FrameStackObservation(env, ATARI_PREPROCESSING["stack"])


def make_atari_vector_env(env_id: str, num_envs: int) -> gym.vector.VectorEnv:
    """ale-py's native vector env of ``num_envs`` games, preprocessed as ``make_atari_env``,
    with the game's registered settings (sticky actions or none, the action set, the frames a
    game may last); a ``NoFrameskip-v4`` game, which registers no vector env, gets ale-py's
    all the same."""
    size = ATARI_PREPROCESSING["screen_size"]
    settings = dict(
        img_height=size,
        img_width=size,
        stack_num=ATARI_PREPROCESSING["stack"],
        noop_max=ATARI_PREPROCESSING["noop_max"],
        episodic_life=False,
        reward_clipping=False,
        autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP,
    )
    spec = gym.spec(env_id)
    if spec.vector_entry_point is not None:
        return gym.make_vec(
            env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **settings
        )
    from ale_py.vector_env import AtariVectorEnv

    registered = {
        name: spec.kwargs[name]
        for name in ("repeat_action_probability", "full_action_space", "max_num_frames_per_episode")
        if name in spec.kwargs
    }
    return AtariVectorEnv(
        game=spec.kwargs["game"],
        num_envs=num_envs,
        frameskip=ATARI_PREPROCESSING["frame_skip"],
        **registered,
        **settings,
    )


def make_env(env_id: str, render_mode: str | None = None, encoded: bool = True) -> gym.Env:
    """``gymnasium.make(env_id)`` with its registered wrappers (time limit included), checked
    (``utils.env_contract.CheckedEnv``), its observations encoded as the model takes them
    (``utils.spaces.observation_encoder``: Discrete, Dict and the like flattened by gymnasium;
    the env's own are ``env_spaces``), or with ``encoded=False`` as the env gives them (what
    ``predict`` takes).

    Raises:
        EnvError: if ``env_id`` is not registered (naming close ids), its simulator is not
            installed (``missing_dependency``), or its spaces are not supported (see
            ``check_spaces``).
    """
    env_id = resolve_env_id(env_id)
    with env_creation(env_id):
        if is_atari(env_id):
            env = make_atari_env(env_id, render_mode)
        else:
            limit = None if gym.spec(env_id).max_episode_steps else episode_step_limit(env_id)
            # gymnasium's passive checker only warns; CheckedEnv raises, naming the env.
            env = gym.make(
                env_id, render_mode=render_mode, max_episode_steps=limit, disable_env_checker=True
            )
    try:
        encoder = check_spaces(env.observation_space, env.action_space, env_id)
        if render_mode is not None:
            modes = env.metadata.get("render_modes") or []
            if render_mode not in modes:
                raise EnvError(
                    f"{env_id} cannot render in mode {render_mode!r} (its render modes: "
                    f"{', '.join(modes) or 'none'})"
                )
    except EnvError:
        env.close()
        raise
    checked = CheckedEnv(env, env_id)
    return encoder.wrap(checked) if encoded else checked


def probe_env(env_id: str, render: bool = False) -> Dims:
    """Makes ``env_id``, resets it (seed 0) and takes one random step, checking what it returns
    against gymnasium's contract (``utils.env_contract``); with ``render``, also that it renders
    RGB frames. Run before a run starts, so an env that breaks the contract at once is bad input.

    Returns:
        The env's ``Dims``.

    Raises:
        EnvError: naming the env, the call and what it returned (or raised).
    """
    env = make_env(env_id, render_mode="rgb_array" if render else None)
    try:
        env.reset(seed=0)
        env.action_space.seed(0)
        env.step(env.action_space.sample())
        if render:
            frame = env.render()
            array = np.asarray(frame) if frame is not None else None
            if array is None or array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
                got = "None" if array is None else f"an array of shape {array.shape}, {array.dtype}"
                raise EnvError(
                    f"{env_id}'s render() returned {got}; a recording needs RGB frames (uint8, "
                    "height x width x 3)"
                )
        return env_dims_of(env)
    except EnvFault as fault:
        raise EnvError(str(fault)) from None
    finally:
        env.close()


def make_vector_env(
    env_id: str, num_envs: int, mode: str = "auto", encoded: bool = True
) -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``env_id`` stepped together, resetting on the next step.

    Args:
        env_id: gymnasium id of a supported env.
        num_envs: number of envs, >= 1.
        mode: ``native`` (the env's own batched implementation, as CartPole has), ``sync`` (a
            Python loop over envs), ``async`` (one process per env), or ``auto``: native where the
            env has one and ``num_envs >= NATIVE_FROM``, else sync. Atari games always use
            ale-py's native vector env.
        encoded: False leaves the observations as the envs give them (what ``predict`` takes).

    Returns:
        A vector env in gymnasium's ``NEXT_STEP`` autoreset mode: the step after an episode ends
        returns the reset observation with reward 0 and ignores its action. Its batches are
        checked as the envs give them (``utils.env_contract.CheckedVectorEnv``), then encoded
        as the model takes them (``utils.spaces.observation_encoder``) unless ``encoded`` is
        False.

    Raises:
        EnvError: for an unknown or unsupported env, or ``native`` where the env has none.
        ValueError: for an unknown ``mode`` or ``num_envs`` < 1.
    """
    if mode not in VECTOR_MODES:
        raise ValueError(f"vector mode must be one of {', '.join(VECTOR_MODES)}, got {mode!r}")
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    env_id = resolve_env_id(env_id)
    native = gym.spec(env_id).vector_entry_point is not None
    if mode == "native" and not native:
        raise EnvError(f"{env_id} has no native vector env; use --vector_mode=sync or async")
    how = " in processes (--vector_mode=async)" if mode == "async" else ""
    with env_creation(env_id, how):
        if is_atari(env_id):
            envs = make_atari_vector_env(env_id, num_envs)
        elif mode == "native" or (mode == "auto" and native and num_envs >= NATIVE_FROM):
            envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
        else:
            limit = gym.spec(env_id).max_episode_steps
            wrappers = [] if limit else [time_limit(episode_step_limit(env_id))]
            vector_kwargs = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}
            if mode == "async":
                wrappers.append(env_process_signals)
                vector_kwargs["worker"] = quiet_async_worker  # quiet when the driver dies
            envs = gym.make_vec(
                env_id,
                num_envs=num_envs,
                vectorization_mode="sync" if mode == "auto" else mode,
                vector_kwargs=vector_kwargs,
                wrappers=wrappers,
                disable_env_checker=True,  # CheckedVectorEnv checks the batches
            )
    try:
        encoder = check_spaces(envs.single_observation_space, envs.single_action_space, env_id)
        autoreset = envs.metadata.get("autoreset_mode")
        if autoreset != gym.vector.AutoresetMode.NEXT_STEP:
            raise EnvError(f"{env_id}'s vector env resets in mode {autoreset}; NEXT_STEP is needed")
    except EnvError:
        envs.close()
        raise
    checked = CheckedVectorEnv(envs, env_id)
    return encoder.wrap_vector(checked) if encoded else checked


def time_limit(steps: int) -> Callable[[gym.Env], gym.Env]:
    """A wrapper function (picklable, for ``async`` envs) that cuts episodes at ``steps``."""
    return functools.partial(gym.wrappers.TimeLimit, max_episode_steps=steps)


def check_spaces(
    observation_space: gym.Space, action_space: gym.Space, env_id: str = "env"
) -> ObservationEncoder:
    """Checks that the agents support an env's spaces (``utils.spaces``: the observation
    encoders and ``action_spec``); returns the observations' encoder.

    Raises:
        EnvError: naming the unsupported space and what is supported.
    """
    action_spec(action_space, env_id)
    return observation_encoder(observation_space, env_id)


class Dims(NamedTuple):
    """What a model needs to know of a checked env's spaces.

    Attributes:
        obs_dim: numbers in an observation as the model takes it (a Discrete's one-hot, a
            Dict's parts flattened and concatenated).
        num_actions: Discrete: actions; Box: the action's dimensions; MultiDiscrete: its
            entries; MultiBinary: its bits.
        continuous: whether actions are a Box (float vectors).
        image_shape: ``(channels, height, width)`` of uint8 image observations, else ``()``.
        observation_space: the env's observation space as it gives observations (before
            encoding); None where only sizes are known.
        action_space: the env's action space; None where only sizes are known.
    """

    obs_dim: int
    num_actions: int
    continuous: bool
    image_shape: tuple[int, ...] = ()
    observation_space: gym.Space | None = None
    action_space: gym.Space | None = None

    @property
    def obs_shape(self) -> tuple[int, ...]:
        """The shape of one observation as the model takes it: ``image_shape``, or
        ``(obs_dim,)``."""
        return self.image_shape or (self.obs_dim,)

    @property
    def action(self) -> ActionSpec:
        """The model's record of the actions (``utils.spaces.ActionSpec``)."""
        if self.action_space is not None:
            return action_spec(self.action_space)
        return ActionSpec("Box" if self.continuous else "Discrete", (self.num_actions,))

    @property
    def encoder(self) -> ObservationEncoder | None:
        """The observations' encoder (None where only sizes are known)."""
        if self.observation_space is None:
            return None
        return observation_encoder(self.observation_space)

    @property
    def observation(self) -> ObservationSpec:
        """The model's record of the observations (``utils.spaces.ObservationSpec``)."""
        if self.observation_space is not None:
            return self.encoder.spec
        return ObservationSpec("image" if self.image_shape else "flat", self.obs_shape)


def env_dims(observation_space: gym.Space, action_space: gym.Space) -> Dims:
    """The ``Dims`` of a checked env's spaces (``check_spaces``), as the env gives them."""
    encoder = observation_encoder(observation_space)
    action = action_spec(action_space)
    image_shape = encoder.shape if encoder.kind == "image" else ()
    return Dims(
        int(np.prod(encoder.shape)),
        len(action.sizes) if action.space == "MultiDiscrete" else action.sizes[0],
        action.space == "Box",
        image_shape,
        observation_space,
        action_space,
    )


def env_spaces(env: gym.Env | gym.vector.VectorEnv) -> tuple[gym.Space, gym.Space]:
    """The observation and action spaces of one env of ``env`` (an env or vector env that
    ``make_env`` or ``make_vector_env`` made) as the env gives them, before the observations
    are encoded; another env's own spaces."""
    inner = env
    while not isinstance(inner, CheckedEnv | CheckedVectorEnv):
        inner = getattr(inner, "env", None)
        if inner is None:
            inner = env
            break
    if isinstance(inner, gym.vector.VectorEnv):
        return inner.single_observation_space, inner.single_action_space
    return inner.observation_space, inner.action_space


def env_dims_of(env: gym.Env | gym.vector.VectorEnv) -> Dims:
    """The ``Dims`` of an env or vector env that ``make_env`` or ``make_vector_env`` made."""
    return env_dims(*env_spaces(env))


def action_clipper(
    action_space: gym.Space, env_id: str = "env"
) -> Callable[[np.ndarray], np.ndarray]:
    """What turns a policy's actions into the env's: for a Box, the sample clipped to the
    space's bounds (``np.clip``; the policy's log-probability stays that of the unclipped
    sample); for Discrete the actions (``0..n-1``) shifted by the space's ``start``; for
    MultiDiscrete each entry shifted by its ``start``, in the space's dtype; for MultiBinary
    the bits in the space's dtype.

    Works on one action ``(A,)`` or a batch ``(N, A)``. A bound that is infinite clips nothing
    there; that is logged as a warning, once per env and space (each worker builds a clipper).
    """
    if isinstance(action_space, gym.spaces.Discrete):
        start = int(action_space.start)  # the policy's actions are 0..n-1
        return (lambda actions: actions + start) if start else (lambda actions: actions)
    if isinstance(action_space, gym.spaces.MultiDiscrete):
        start, dtype = action_space.start, action_space.dtype  # each entry's are 0..n_i-1
        return lambda actions: (np.asarray(actions) + start).astype(dtype)
    if isinstance(action_space, gym.spaces.MultiBinary):
        dtype = action_space.dtype
        return lambda actions: np.asarray(actions).astype(dtype)
    if not isinstance(action_space, gym.spaces.Box):
        return lambda actions: actions
    low, high = action_space.low.astype(np.float32), action_space.high.astype(np.float32)
    unbounded = ~(np.isfinite(low) & np.isfinite(high))
    if unbounded.any():
        warn_unbounded(env_id, str(action_space), ", ".join(map(str, np.flatnonzero(unbounded))))
    return lambda actions: np.clip(actions, low, high)


@functools.cache
def warn_unbounded(env_id: str, space: str, dimensions: str) -> None:
    """Logs, once for each distinct call, that actions go unclipped in ``dimensions``."""
    logging.warning(
        "%s's action space %s has no finite bound in dimension(s) %s: actions are sent there "
        "unclipped",
        env_id,
        space,
        dimensions,
    )


def reward_threshold(env_id: str) -> float | None:
    """The return at which gymnasium counts ``env_id`` solved (mean over 100 episodes), or None."""
    return gym.spec(env_id).reward_threshold
