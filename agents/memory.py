"""The rollout buffer shared by A3C, A2C and the random baseline."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from utils.envs import is_image


class Rollout(NamedTuple):
    """One rollout of ``T`` steps from ``N`` environments, time-major, as ``compute_loss`` takes it.

    Attributes:
        states: float32 ``(T + 1, N, obs_dim)``, or uint8 ``(T + 1, N, C, H, W)`` for image
            observations (kept as bytes: the model scales them); ``states[t]`` is the
            observation acted on at step t and ``states[T]`` the one after the last step, whose
            value is the bootstrap.
        actions: ``(T, N, *action_shape)``: int32 ``(T, N)`` for discrete actions, float32
            ``(T, N, A)`` (the unclipped samples) for Box actions.
        rewards: float32 ``(T, N)``.
        terminated: float32 ``(T, N)``, 1.0 where step t reached a terminal state (bootstrap 0).
        truncated: float32 ``(T, N)``, 1.0 where step t hit a time limit (bootstrap V(s_{t+1})).
        valid: float32 ``(T, N)``, 0.0 for transitions that must not enter the loss (the reset
            step of a gymnasium 1.x vector env), else 1.0.
        recurrent_state: a recurrent model's state when the rollout began, ``(h, c)`` of float32
            ``(N, units)`` each, from which the update replays the rollout; ``()`` for a
            feed-forward model.
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    valid: np.ndarray
    recurrent_state: tuple = ()


class Memory:
    """Collects transitions from ``num_envs`` environments stepped together, one step at a time.

    ``RolloutCollector`` (A2C and every A3C worker) passes arrays with a leading ``num_envs``
    axis; with ``num_envs=1`` one observation, action and reward per step will do. Either way
    ``to_rollout`` returns time-major arrays of shape ``(T, num_envs, ...)``. Steps are written
    into arrays allocated once, so storing a step costs a few array writes.

    Args:
        num_envs: envs stepped together, >= 1.
        capacity: the most steps a rollout holds (t_max), >= 1.
        action_shape: shape of one env's action: ``()`` for discrete actions (the default),
            ``(A,)`` for Box actions (a distribution's ``action_shape``).
        action_dtype: NumPy dtype of actions: int32 (discrete) or float32 (Box).

    Raises:
        ValueError: from ``store`` if an item does not have ``num_envs`` entries, an
            observation has a shape other than the first one stored, or ``capacity`` steps are
            stored already.
    """

    _FIELDS = (
        ("actions", np.int32),
        ("rewards", np.float32),
        ("terminated", np.float32),
        ("truncated", np.float32),
        ("valid", np.float32),
    )

    def __init__(
        self,
        num_envs: int = 1,
        capacity: int = 32,
        action_shape: tuple[int, ...] = (),
        action_dtype=np.int32,
    ):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.num_envs = num_envs
        self._capacity = capacity
        self._shapes = {"actions": tuple(action_shape)}
        self._dtypes = {"actions": np.dtype(action_dtype)}
        self._states: np.ndarray | None = None  # allocated at the first store
        self._steps = 0

    def __len__(self) -> int:
        """Number of steps stored since the last ``clear``."""
        return self._steps

    def clear(self) -> None:
        """Forgets every stored step."""
        self._steps = 0

    def store(self, state, action, reward, terminated, truncated, valid=True) -> None:
        """Appends one step: the observation acted on, the action, and what ``env.step`` returned.

        Args:
            state: observation(s), ``(obs_dim,)`` or ``(num_envs, obs_dim)``; uint8 images
                ``(C, H, W)`` or ``(num_envs, C, H, W)``.
            action: one action per env: ``(num_envs, *action_shape)``, or with one env its
                action alone.
            reward, terminated, truncated, valid: scalars or ``(num_envs,)`` arrays.
        """
        state = self._batched(state)
        if self._states is None:
            self._allocate(state.shape[1:], state.dtype)
        elif state.shape != self._states.shape[1:]:
            raise ValueError(
                f"observation shape {state.shape} differs from the first stored "
                f"{self._states.shape[1:]}"
            )
        if self._steps == self._capacity:
            raise ValueError(f"the memory is full ({self._capacity} steps): clear it first")
        t = self._steps
        self._states[t] = state
        values = (action, reward, terminated, truncated, valid)
        for (name, array, size, entries), value in zip(self._slots, values, strict=True):
            if np.size(value) != size:
                each = f" of shape {entries[1:]}" if entries[1:] else ""
                raise ValueError(
                    f"{name[:-1] if name.endswith('s') else name} must have "
                    f"{self.num_envs} entries "
                    f"(one per env){each}, got shape {np.shape(value)}"
                )
            # Per-step scalars of N envs come as (N,) already: no reshape on the hot path.
            array[t] = value if np.ndim(value) == len(entries) else np.reshape(value, entries)
        self._steps = t + 1

    def to_rollout(self, next_state, pad_to: int | None = None) -> Rollout:
        """Copies the stored steps into a time-major ``Rollout``.

        Args:
            next_state: the observation(s) after the last stored step, ``(obs_dim,)`` or
                ``(num_envs, obs_dim)``; its value is the bootstrap of the n-step return.
            pad_to: if given, the rollout is padded to this many steps with invalid steps
                (``valid`` 0, zero reward and action, ``next_state`` as state), so a compiled
                update sees one shape whatever the rollout's length. ``compute_loss`` ignores them.

        Raises:
            ValueError: if nothing is stored, or more than ``pad_to`` steps are.
        """
        steps = self._steps
        if not steps:
            raise ValueError("the memory is empty: store at least one step before to_rollout")
        length = steps if pad_to is None else pad_to
        if length < steps:
            raise ValueError(f"cannot pad {steps} stored steps to {pad_to}")
        next_state = self._batched(next_state)
        states = np.empty((length + 1, *self._states.shape[1:]), self._states.dtype)
        states[:steps] = self._states[:steps]
        states[steps:] = next_state
        arrays = {}
        for name, _ in self._FIELDS:
            stored = getattr(self, "_" + name)
            array = np.zeros((length, *stored.shape[1:]), stored.dtype)
            array[:steps] = stored[:steps]
            arrays[name] = array
        return Rollout(states=states, **arrays)

    def _batched(self, state) -> np.ndarray:
        """Observations as ``(num_envs, *shape)``: uint8 images stay bytes, the rest becomes
        float32 ``(num_envs, obs_dim)``; one env's observation alone gets the env axis."""
        state = np.asarray(state)
        if state.dtype != np.uint8 or state.ndim < 3:
            return np.asarray(state, np.float32).reshape(self.num_envs, -1)
        return state[None] if state.ndim == 3 else state  # one env's image gets the env axis

    def _allocate(self, obs_shape: tuple[int, ...], dtype) -> None:
        shape = (self._capacity, self.num_envs)
        self._states = np.zeros((*shape, *obs_shape), dtype)
        for name, dtype in self._FIELDS:
            item_shape = self._shapes.get(name, ())
            setattr(
                self, "_" + name, np.zeros((*shape, *item_shape), self._dtypes.get(name, dtype))
            )
        # Per field: its name, array, entries a step and their shape (counted once, not a step).
        self._slots = []
        for name, _ in self._FIELDS:
            array = getattr(self, "_" + name)
            entries = array.shape[1:]
            self._slots.append((name, array, int(np.prod(entries)), entries))


def pack(rollout: Rollout) -> tuple:
    """The rollout as the few tensors a compiled update takes (``agents.updates``): states,
    actions, the four per-step terms stacked, float32 ``(4, T, N)`` (rewards, terminated,
    truncated, valid), and with a recurrent state its ``(h, c)`` stacked, float32
    ``(2, N, units)``. ``unpack`` turns them back into a ``Rollout`` inside the function."""
    per_step = np.stack([rollout.rewards, rollout.terminated, rollout.truncated, rollout.valid])
    packed = [tf.constant(rollout.states), tf.constant(rollout.actions), tf.constant(per_step)]
    if rollout.recurrent_state:
        packed.append(tf.constant(np.stack(rollout.recurrent_state)))
    return tuple(packed)


def unpack(states, actions, per_step, recurrent_state=None) -> Rollout:
    """The ``Rollout`` of ``pack``'s tensors (graph code)."""
    rewards, terminated, truncated, valid = tf.unstack(per_step)
    state = () if recurrent_state is None else tuple(tf.unstack(recurrent_state))
    return Rollout(states, actions, rewards, terminated, truncated, valid, state)


def packed_spec(spec: Rollout) -> tuple:
    """The ``tf.TensorSpec``s of ``pack``'s tensors for rollouts of ``spec``."""
    packed = [spec.states, spec.actions, tf.TensorSpec([4, *spec.rewards.shape], tf.float32)]
    if spec.recurrent_state:
        packed.append(tf.TensorSpec([2, *spec.recurrent_state[0].shape], tf.float32))
    return tuple(packed)


def rollout_spec(steps: int, num_envs: int, observation_space, model) -> Rollout:
    """``tf.TensorSpec``s of a ``Rollout`` of ``steps`` steps from ``num_envs`` envs with
    observations of ``observation_space`` (a flat Box: float32; uint8 images: as they are), for
    ``model`` (an ``ActorCriticModel``): the actions of its distribution (``action_dtype``,
    ``action_shape``) and, with an LSTM core, its initial state."""
    distribution, recurrent_units = model.distribution, model.recurrent_units
    if is_image(observation_space):
        states = tf.TensorSpec([steps + 1, num_envs, *observation_space.shape], tf.uint8)
    else:
        obs_dim = int(np.prod(observation_space.shape))
        states = tf.TensorSpec([steps + 1, num_envs, obs_dim], tf.float32)
    per_step = tf.TensorSpec([steps, num_envs], tf.float32)
    state = tf.TensorSpec([num_envs, recurrent_units], tf.float32)
    return Rollout(
        states=states,
        actions=tf.TensorSpec(
            [steps, num_envs, *distribution.action_shape], distribution.action_dtype
        ),
        rewards=per_step,
        terminated=per_step,
        truncated=per_step,
        valid=per_step,
        recurrent_state=(state, state) if recurrent_units else (),
    )
