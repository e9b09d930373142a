"""The spaces users bring: what the model takes of an env's observations (one encoder class per
kind of observation space, chosen in ``observation_encoder``) and what it reads of its actions
(``action_spec``), refusing in one line what is not supported.

Observations. Three kinds, each a class below: a flat ``Box`` goes to the model as it is (a
dense trunk); uint8 images ``(channels, height, width)`` too (a convolutional trunk); and the
spaces gymnasium already encodes as one flat vector, ``Discrete`` (one-hot), ``MultiDiscrete``
(one one-hot per entry), ``MultiBinary`` (the bits), and ``Dict`` and ``Tuple`` of these and of
flat ``Box`` (each part encoded, then concatenated in the space's order: a Dict's keys sorted, as
gymnasium keeps them), as Stable-Baselines3's
``MultiInputPolicy`` combines them: ``gymnasium.spaces.utils.flatten``, applied by gymnasium's
``FlattenObservation`` wrappers where ``utils.envs`` makes envs and vector envs (so training,
evaluation, play and the probe before a run all see what the model takes) and by ``batch`` for
observations given to ``predict``.

Actions. ``action_spec`` reads an action space into the record the model's distribution is
chosen from (``models.distributions.distribution_for``): ``Discrete`` (a categorical policy),
flat ``Box`` (a Gaussian), one-dimensional ``MultiDiscrete`` (independent categoricals) and
``MultiBinary`` (independent Bernoullis). What the env receives (a Discrete's ``start`` added, a
Box's bounds clipped to) is ``utils.envs.action_clipper``.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import gymnasium as gym
import numpy as np

from utils.env_contract import observation_fault
from utils.errors import EnvError, one_line

# The convolutional trunk's first layer (8x8, stride 4) and second (4x4, stride 2) need this.
MIN_IMAGE_SIZE = 36


def is_image(observation_space: gym.Space) -> bool:
    """Whether observations are uint8 images ``(channels, height, width)``: stacked frames, few
    channels (at most 16) and a height and width of at least ``MIN_IMAGE_SIZE``."""
    shape = getattr(observation_space, "shape", None) or ()
    return (
        isinstance(observation_space, gym.spaces.Box)
        and len(shape) == 3
        and observation_space.dtype == np.uint8
        and shape[0] <= 16
        and min(shape[1:]) >= MIN_IMAGE_SIZE
    )


def space_signature(space: gym.Space) -> str:
    """What a model depends on of an observation space, in words that do not change with how a
    Box's bounds print: ``Dict('goal': Discrete(4), 'position': Box(shape=(2,), dtype=float32))``.
    Recorded in model files, so a file is refused for an env of other spaces."""
    if isinstance(space, gym.spaces.Box):
        return f"Box(shape={tuple(space.shape)}, dtype={space.dtype})"
    if isinstance(space, gym.spaces.Dict):
        parts = ", ".join(f"{key!r}: {space_signature(part)}" for key, part in space.items())
        return f"Dict({parts})"
    if isinstance(space, gym.spaces.Tuple):
        return f"Tuple({', '.join(space_signature(part) for part in space)})"
    return one_line(
        space
    )  # Discrete(4), Discrete(4, start=1), MultiDiscrete([3 3]), MultiBinary(5)


class ObservationSpec(NamedTuple):
    """What a model knows of the observations it takes (recorded in its files).

    Attributes:
        kind: the encoder's ``kind``: ``"flat"``, ``"image"`` or ``"flattened"``.
        shape: one observation as the model takes it: ``(obs_dim,)`` floats, or an image's
            ``(channels, height, width)`` bytes.
        space: the env's observation space (``space_signature``); ``""`` where unknown (a model
            built from sizes alone).
    """

    kind: str
    shape: tuple[int, ...]
    space: str = ""


class ObservationEncoder:
    """One kind of observation space: whether it ``accepts`` a space, how envs of it are
    wrapped so they give what the model takes (``wrap``, ``wrap_vector``), and how raw
    observations given to ``predict`` become the model's input (``batch``).

    Args:
        space: the env's observation space (``accepts`` it).
    """

    kind: ClassVar[str] = ""

    def __init__(self, space: gym.Space):
        self.space = space

    @staticmethod
    def accepts(space: gym.Space) -> bool:
        """Whether this kind of encoder takes ``space``."""
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, ...]:
        """One observation as the model takes it."""
        return tuple(int(size) for size in self.space.shape)

    @property
    def spec(self) -> ObservationSpec:
        """What the model records of these observations."""
        return ObservationSpec(self.kind, self.shape, space_signature(self.space))

    def wrap(self, env: gym.Env) -> gym.Env:
        """An env whose observations are the model's (here: as they are)."""
        return env

    def wrap_vector(self, envs: gym.vector.VectorEnv) -> gym.vector.VectorEnv:
        """A vector env whose observations are the model's, ``(num_envs, *shape)`` (here: as
        they are)."""
        return envs

    def batch(self, observations) -> tuple[np.ndarray, bool]:
        """Raw observations (one, or a batch) as the model's input: ``(array, single)``, the
        array ``(batch, *shape)`` (float32; images keep their bytes) and whether one
        observation was given.

        Raises:
            ValueError: one line, for observations of another shape than the space's.
        """
        array = np.asarray(observations)
        shape = self.shape
        single = array.shape == shape
        batch = array[None] if single else array
        if batch.ndim != len(shape) + 1 or batch.shape[1:] != shape:
            raise ValueError(
                f"observation of shape {array.shape}: the env's are {shape} (one) or "
                f"(batch, {', '.join(map(str, shape))})"
            )
        return (batch if self.kind == "image" else batch.astype(np.float32)), single


class FlatBox(ObservationEncoder):
    """A flat (1-D) ``Box``: float32 ``(obs_dim,)`` as the env gives it, for a dense trunk."""

    kind = "flat"

    @staticmethod
    def accepts(space: gym.Space) -> bool:
        return isinstance(space, gym.spaces.Box) and len(space.shape) == 1 and space.shape[0] > 0


class Image(ObservationEncoder):
    """uint8 images ``(channels, height, width)`` (``is_image``), as the env gives them, for the
    convolutional trunk (which scales the bytes itself)."""

    kind = "image"

    @staticmethod
    def accepts(space: gym.Space) -> bool:
        return is_image(space)


# The spaces gymnasium flattens that may stand alone or inside a Dict or Tuple.
FLATTENED_LEAVES = (gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)


def not_flattenable(space: gym.Space, where: str = "") -> str | None:
    """Why ``space`` (at ``where`` inside the observation space) is not one ``Flattened``
    takes, or None if it is."""
    at = f" at {where}" if where else ""
    if isinstance(space, FLATTENED_LEAVES):
        return None
    if isinstance(space, gym.spaces.Box) and where:
        if is_image(space) or len(space.shape) == 3:
            return f"an image{at} (images only as the whole observation)"
        if len(space.shape) != 1:
            return f"a Box of shape {space.shape}{at} (flat, 1-D, Boxes only)"
        return None
    if isinstance(space, gym.spaces.Dict):
        for key, part in space.items():
            reason = not_flattenable(part, f"{where}[{key!r}]")
            if reason:
                return reason
        return None
    if isinstance(space, gym.spaces.Tuple):
        for index, part in enumerate(space):
            reason = not_flattenable(part, f"{where}[{index}]")
            if reason:
                return reason
        return None
    if isinstance(space, gym.spaces.Box):
        return None if len(space.shape) == 1 else f"a Box of shape {space.shape}"
    return f"a {type(space).__name__} space{at}"  # Text, Graph, Sequence, OneOf


class Flattened(ObservationEncoder):
    """``Discrete``, ``MultiDiscrete``, ``MultiBinary``, and ``Dict`` and ``Tuple`` of these and
    of flat ``Box`` (nested too): encoded by gymnasium (``gymnasium.spaces.utils.flatten``:
    one-hot for a Discrete, one one-hot per entry of a MultiDiscrete, a MultiBinary's bits, a
    Box as it is; a Dict's or Tuple's parts concatenated in its order), ``(flatdim,)`` numbers
    the model takes as float32, for a dense trunk."""

    kind = "flattened"

    @staticmethod
    def accepts(space: gym.Space) -> bool:
        return (
            not isinstance(space, gym.spaces.Box)
            and not_flattenable(space) is None
            and gym.spaces.utils.flatdim(space) > 0
        )

    @property
    def shape(self) -> tuple[int, ...]:
        return (int(gym.spaces.utils.flatdim(self.space)),)

    def wrap(self, env: gym.Env) -> gym.Env:
        """gymnasium's ``FlattenObservation`` (its dtype the parts' common one: a rollout and
        the acting pass take them as float32)."""
        return gym.wrappers.FlattenObservation(env)

    def wrap_vector(self, envs: gym.vector.VectorEnv) -> gym.vector.VectorEnv:
        """gymnasium's vector ``FlattenObservation``: each env's observation flattened."""
        return gym.wrappers.vector.FlattenObservation(envs)

    def batch(self, observations) -> tuple[np.ndarray, bool]:
        """As the vector env's wrappers encode a batch: each observation flattened by gymnasium,
        stacked, as float32 ``(batch, flatdim)``.

        Raises:
            ValueError: one line, for what is neither one observation of the space nor a batch
                of them (``utils.env_contract.observation_fault`` says what is wrong).
        """
        space = self.space
        fault = observation_fault(space, observations, None)
        if fault is None:
            return self._encode([observations]), True
        size = leading_size(space, observations)
        if size:  # not one observation: a batch of them?
            fault = observation_fault(space, observations, size)
        if fault:
            raise ValueError(
                f"predict got {fault}: give one observation of {one_line(space)} or a batch of "
                "them (a Dict's as a dict of arrays with a batch axis, a Tuple's as a tuple of "
                "them)"
            )
        batched = gym.vector.utils.batch_space(space, size)
        return self._encode(list(gym.vector.utils.iterate(batched, observations))), False

    def _encode(self, items: list) -> np.ndarray:
        flat = [gym.spaces.utils.flatten(self.space, item) for item in items]
        return np.stack(flat).astype(np.float32)


def leading_size(space: gym.Space, observations) -> int:
    """The batch size of ``observations`` of ``space`` batched: the first axis of its first
    part (0 if it has none)."""
    while isinstance(space, gym.spaces.Dict | gym.spaces.Tuple):
        if isinstance(space, gym.spaces.Dict):
            key = next(iter(space.keys()), None)
            if not isinstance(observations, dict) or key not in observations:
                return 0
            space, observations = space[key], observations[key]
        else:
            if not isinstance(observations, tuple | list) or not observations:
                return 0
            space, observations = space[0], observations[0]
    shape = np.shape(observations)
    return int(shape[0]) if shape else 0


# Every kind of observation space, in the order they are tried (an image before a Box).
ENCODERS: tuple[type[ObservationEncoder], ...] = (Image, FlatBox, Flattened)

SUPPORTED_OBSERVATIONS = (
    "flat (1-D) Box (a dense trunk) and uint8 images (channels, height, width) with height "
    f"and width >= {MIN_IMAGE_SIZE} (a convolutional trunk), as the Atari preprocessing gives; "
    "Discrete, MultiDiscrete and MultiBinary, and Dict and Tuple of these and of flat Box "
    "(flattened by gymnasium: one-hot for the discrete ones)"
)


def observation_encoder(space: gym.Space, env_id: str = "env") -> ObservationEncoder:
    """The encoder of ``space``'s kind: the one place an observation space is matched to what
    the model takes.

    Raises:
        EnvError: one line naming the space, what in it is not supported (an image inside a
            Dict, a Text or Graph space, a Box of more than one dimension), and what is.
    """
    for encoder in ENCODERS:
        if encoder.accepts(space):
            return encoder(space)
    reason = not_flattenable(space)
    if reason is None and gym.spaces.utils.flatdim(space) == 0:
        reason = "no numbers at all"
    because = f" ({reason} is not supported)" if reason else ""
    raise EnvError(
        f"{env_id} has observation space {one_line(space)}{because}; supported: "
        f"{SUPPORTED_OBSERVATIONS}"
    )


class ActionSpec(NamedTuple):
    """What a model knows of an action space (recorded in its files): the space's kind, as
    gymnasium names its class, and its sizes.

    Attributes:
        space: ``"Discrete"``, ``"Box"``, ``"MultiDiscrete"`` or ``"MultiBinary"``.
        sizes: Discrete: ``(n,)`` actions; Box: ``(dimensions,)``; MultiDiscrete: ``nvec``, the
            choices of each entry; MultiBinary: ``(n,)`` bits.
    """

    space: str
    sizes: tuple[int, ...]

    def __str__(self) -> str:
        if self.space == "Box":
            return f"Box(shape=({self.sizes[0]},))"
        if self.space == "MultiDiscrete":
            return f"MultiDiscrete({list(self.sizes)})"
        return f"{self.space}({self.sizes[0]})"


SUPPORTED_ACTIONS = (
    "Discrete (a categorical policy), flat (1-D) Box (a Gaussian policy), one-dimensional "
    "MultiDiscrete (independent categoricals) and MultiBinary (independent Bernoullis); not "
    "Dict or Tuple"
)


def action_spec(space: gym.Space, env_id: str = "env") -> ActionSpec:
    """The ``ActionSpec`` of an env's action space: the one place an action space is read.

    Raises:
        EnvError: one line naming the space and the supported ones, for any other (a Box of
            shape ``(0,)`` or of more than one dimension, a MultiDiscrete or MultiBinary of
            more than one dimension, Dict, Tuple, Text).
    """
    sizes: tuple[int, ...] = ()
    if isinstance(space, gym.spaces.Discrete):
        sizes = (int(space.n),)
    elif isinstance(space, gym.spaces.Box | gym.spaces.MultiBinary) and len(space.shape) == 1:
        sizes = (int(space.shape[0]),)
    elif isinstance(space, gym.spaces.MultiDiscrete) and space.nvec.ndim == 1:
        sizes = tuple(int(size) for size in space.nvec)
    if not sizes or min(sizes) < 1:
        raise EnvError(
            f"{env_id} has action space {one_line(space)}; supported: {SUPPORTED_ACTIONS}"
        )
    return ActionSpec(type(space).__name__, sizes)
