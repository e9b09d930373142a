"""The rollout buffer and its collector, shared by A2C, the A3C worker threads and the A3C Ray
workers: ``RolloutCollector`` steps a vector env with the policy's sampled actions for t_max
steps, ``Memory`` keeps them, and the result is a time-major ``Rollout`` for ``compute_loss``.

gymnasium 1.x vector envs reset an env on the step *after* its episode ended (``NEXT_STEP``): that
step returns the reset observation with reward 0 and ignores the action. It is stored with
``valid`` 0, so it enters no loss and no advantage; the step before it, which ended the episode,
bootstraps from 0 if it terminated and from V(final observation) if it was truncated.

Atari games (whose steps report ``lives``): a step that loses a life is stored as terminated, so
the loss bootstraps from 0 there (the "episodic life" of Mnih et al. 2015, for training only),
while the game goes on and its episode, return and length are whole games.

A recurrent model's state is carried from step to step and zeroed, per env, after the reset
step (so an episode's first observation meets a zero state). The rollout keeps the state it
began with; ``compute_loss`` replays the rollout from it, zeroing the state after each step
with ``valid`` 0, which is what acting did.
"""

from __future__ import annotations

from typing import NamedTuple

import gymnasium as gym
import numpy as np
import tensorflow as tf

from models.acting import acting_policy
from utils.envs import action_clipper, is_image


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
            if getattr(value, "shape", None) == entries:  # one entry per env already
                array[t] = value
                continue
            if np.size(value) != size:
                each = f" of shape {entries[1:]}" if entries[1:] else ""
                raise ValueError(
                    f"{name[:-1] if name.endswith('s') else name} must have "
                    f"{self.num_envs} entries "
                    f"(one per env){each}, got shape {np.shape(value)}"
                )
            array[t] = np.reshape(value, entries)
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
        if getattr(state, "dtype", None) == np.float32 and state.ndim == 2:
            if state.shape[0] == self.num_envs:
                return state  # (num_envs, obs_dim) floats, as a vector env gives them
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


class FinishedEpisode(NamedTuple):
    """An episode that ended during a rollout: which env, its return and its length (steps)."""

    env: int
    episode_return: float
    length: int


class RolloutCollector:
    """Steps ``envs`` with actions sampled from ``model``, ``t_max`` steps a rollout.

    Acting runs in NumPy (``models.acting.NumpyPolicy``, which takes the model's weights at the
    start of each rollout) or, for image models, in a compiled TensorFlow function. An update
    that has just changed the model hands the collector the new weights with its results
    (``weights_for_acting`` inside it, ``use_weights`` after it), which spares the next rollout
    a read of each variable. Actions are
    sampled with a NumPy generator seeded from ``rng`` at each ``reset`` (a rollout's noise
    drawn at once, ``distribution.noise``), so the same seed gives the same actions and a
    resumed run, whose ``rng`` comes from its checkpoint, new ones. Box actions go to the envs
    clipped to the action space's bounds; the rollout keeps the unclipped samples, whose
    log-probabilities the loss takes. A distribution that ``holds_noise`` (gSDE) draws its noise
    at the rollout's start and every ``sde_sample_freq`` steps of it, and each env keeps its
    draw between (Stable-Baselines3's ``collect_rollouts``, and Raffin et al. 2021, section 3).

    Args:
        envs: a vector env in ``NEXT_STEP`` autoreset mode; the caller closes it.
        model: an ``ActorCriticModel`` built for the envs' spaces (a worker's local model).
        rng: the ``tf.random.Generator`` that seeds the sampling at each ``reset``.
        t_max: steps a rollout (``update_freq``), >= 1.
        jit_compile: compile the TensorFlow acting pass (image models) with XLA.
        sde_sample_freq: with gSDE, steps between fresh noise within a rollout; 0: only at its
            start.

    Call ``reset(seed)`` once before the first ``collect``.
    """

    def __init__(
        self,
        envs: gym.vector.VectorEnv,
        model,
        rng: tf.random.Generator,
        t_max: int,
        jit_compile: bool = True,
        sde_sample_freq: int = 0,
    ):
        self.envs = envs
        self.model = model
        self.rng = rng
        self.t_max = t_max
        self.num_envs = envs.num_envs
        self.recurrent = bool(model.recurrent_units)
        # The states of one step, as a rollout holds them (uint8 images stay bytes): what a
        # compiled acting pass is traced for.
        states = rollout_spec(1, self.num_envs, envs.single_observation_space, model).states
        states = tf.TensorSpec(states.shape[1:], states.dtype)
        state = tf.TensorSpec([self.num_envs, model.recurrent_units], tf.float32)
        self.policy = acting_policy(
            model, states, (state, state) if self.recurrent else (), jit_compile
        )
        self.distribution = model.distribution
        # Steps each draw of the noise serves: 1 (fresh at each step) unless the distribution
        # holds it (gSDE), then until the next resample.
        self.noise_every = 1
        if self.distribution.holds_noise:
            self.noise_every = min(sde_sample_freq or t_max, t_max)
        self.memory = Memory(
            self.num_envs,
            capacity=t_max,
            action_shape=self.distribution.action_shape,
            action_dtype=self.distribution.action_dtype.as_numpy_dtype,
        )
        env_id = getattr(getattr(envs, "spec", None), "id", None) or "env"
        self.to_env = action_clipper(envs.single_action_space, env_id)
        self._handed_weights = None  # from the update before the next rollout, if any

    def acting_variables(self) -> list:
        """The model's variables the acting pass reads. A compiled update returns them after it
        changed the model (their values come back with its results), and hands those values to
        ``use_weights``: the next rollout then need not read each variable again."""
        return list(self.policy.variables)

    def use_weights(self, values) -> None:
        """The next rollout acts with ``values`` (NumPy arrays of ``acting_variables``, in
        order) as the model's weights, instead of reading them."""
        self._handed_weights = values

    def reset(self, seed: int) -> None:
        """Resets the envs, env ``i`` with seed ``seed + i``, and forgets running episodes."""
        # Per env: the observation to act on, whether its last step ended an episode (so the
        # next step is a reset step), and the running return and length of its episode.
        self.states, info = self.envs.reset(seed=seed)
        self.generator = np.random.default_rng(self.rng.uniform_full_int([2]).numpy())
        # Atari's lives (ale-py reports them): a life lost is terminal for the loss.
        self.lives = info.get("lives")
        self.ended = np.zeros(self.num_envs, bool)
        self.episode_returns = np.zeros(self.num_envs)
        self.episode_lengths = np.zeros(self.num_envs, np.int64)
        # A recurrent model's state, and per env 1.0 unless the last step was a reset step.
        self.recurrent_state = self.policy.initial_state(self.num_envs)
        self.keep = np.ones(self.num_envs, np.float32)

    def collect(self) -> tuple[Rollout, list[FinishedEpisode]]:
        """Steps all envs ``t_max`` times with sampled actions, acting with the model's weights
        as they are now (handed over by ``use_weights`` since the last rollout, or read).

        Returns:
            The rollout (``t_max * num_envs`` env steps) and the episodes that ended in it, in
            the order they ended.
        """
        memory, finished, policy, distribution = self.memory, [], self.policy, self.distribution
        memory.clear()
        policy.sync(self._handed_weights)
        self._handed_weights = None
        every = self.noise_every
        noise = distribution.noise(self.generator, (-(-self.t_max // every), self.num_envs))
        recurrent_state = self.recurrent_state
        for t in range(self.t_max):
            if self.recurrent:  # the state goes on, zeroed after a reset step
                keep = self.keep[:, None]
                recurrent_state = tuple(np.asarray(part) * keep for part in recurrent_state)
                if t == 0:
                    initial = recurrent_state  # the state the rollout begins with
            params, recurrent_state = policy(self.states, recurrent_state)
            actions = distribution.sample(params, noise[t // every])
            next_states, rewards, terminated, truncated, info = self.envs.step(self.to_env(actions))
            valid = ~self.ended  # False on the reset step that follows an episode's end
            ends_life = terminated
            if self.lives is not None:  # fewer lives than the last step (not a new game)
                ends_life = terminated | ((info["lives"] < self.lives) & valid)
                self.lives = info["lives"]
            if self.recurrent:  # the state goes on unless this was a reset step
                self.keep = valid.astype(np.float32)
            memory.store(self.states, actions, rewards, ends_life, truncated, valid)
            self.episode_returns += rewards * valid
            self.episode_lengths += valid
            self.ended = terminated | truncated
            if self.ended.any():
                for env in np.flatnonzero(self.ended):
                    returned, length = self.episode_returns[env], self.episode_lengths[env]
                    finished.append(FinishedEpisode(int(env), float(returned), int(length)))
                self.episode_returns[self.ended] = 0.0
                self.episode_lengths[self.ended] = 0
            self.states = next_states
        rollout = memory.to_rollout(self.states)
        if self.recurrent:
            self.recurrent_state = recurrent_state
            rollout = rollout._replace(recurrent_state=initial)
        return rollout, finished
