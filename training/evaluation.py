"""Greedy evaluation and play of a trained actor-critic model."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from models.acting import acting_policy
from utils.envs import (
    action_clipper,
    episode_step_limit,
    make_env,
    make_vector_env,
    reward_threshold,
)

# Episodes played at once, one per env of a vector env: more episodes are played in batches of
# this many, so an evaluation's memory does not grow with ``--eval_episodes``.
EVAL_BATCH = 100


@dataclasses.dataclass(frozen=True, eq=False)
class EvalResult:
    """Returns of greedy episodes and how they compare with the env's reward threshold.

    Unpacks as ``(mean, std)``, as Stable-Baselines3's ``evaluate_policy`` returns them:
    ``mean, std = agent.evaluate()``.

    Attributes:
        returns: float64 ``(episodes,)``, undiscounted return of each episode.
        threshold: gymnasium's reward threshold of the env, or None if it has none.
    """

    returns: np.ndarray
    threshold: float | None

    def __iter__(self) -> Iterator[float]:
        """``mean`` then ``std`` (floats), so ``mean, std = result`` reads as in SB3."""
        return iter((self.mean, self.std))

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        return float(np.std(self.returns))

    @property
    def solved(self) -> bool | None:
        """Whether the mean return reaches the threshold (None if the env has none)."""
        return None if self.threshold is None else self.mean >= self.threshold

    def summary(self) -> str:
        """One line: ``mean ± std over N episodes``, min, max and the threshold verdict."""
        # Returns of a few units (FrozenLake's 0 or 1, Blackjack's -1 to 1) need more digits.
        digits = 1 if np.max(np.abs(self.returns)) >= 10 else 3
        low, high = np.min(self.returns), np.max(self.returns)
        line = (
            f"greedy return over {len(self.returns)} episode{'s' * (len(self.returns) != 1)}: "
            f"{self.mean:.{digits}f} ± "
            f"{self.std:.{digits}f} (min {low:.{digits}f}, max {high:.{digits}f})"
        )
        if self.threshold is None:
            return line + "; the env has no reward threshold"
        verdict = "meets" if self.solved else "does not meet"
        return line + f"; {verdict} the reward threshold {self.threshold:g}"


class Evaluation(NamedTuple):
    """A greedy evaluation during training: when it ran and what it found."""

    env_steps: int  # env steps of training before it
    episodes: int  # training episodes finished before it
    result: EvalResult

    def record(self) -> dict:
        """As a checkpoint keeps it (JSON): ``{"env_steps", "episodes", "returns"}``."""
        returns = self.result.returns.tolist()
        return {"env_steps": self.env_steps, "episodes": self.episodes, "returns": returns}

    @classmethod
    def from_record(cls, record: dict, threshold: float | None) -> Evaluation:
        """The evaluation a ``record`` holds, judged against the env's ``threshold``."""
        returns = np.asarray(record["returns"], np.float64)
        return cls(record["env_steps"], record["episodes"], EvalResult(returns, threshold))


class GreedyPolicy:
    """The greedy action of a model's distribution (``argmax_a pi(a|s)`` for a categorical
    policy, the mean for a Gaussian), carrying a recurrent model's state.

    Call ``reset(batch_size)`` at the start of episodes (zero state; the policy takes the
    model's weights as they are then), then ``policy(states)`` each step: float32
    ``(batch, obs_dim)`` states -> actions ``(batch, ...)`` as the policy gives them (the
    caller clips Box actions).

    Args:
        model: an ``ActorCriticModel`` (acting in NumPy, ``models.acting.NumpyPolicy``, where
            it can) or a ``LoadedPolicy`` (``initial_state``, ``step`` and ``distribution``).
    """

    def __init__(self, model):
        self.model = model
        self.forward = acting_policy(model)
        self.recurrent_state = None  # set by reset

    def reset(self, batch_size: int) -> None:
        """Takes the model's weights and zeroes the state of ``batch_size`` envs."""
        self.forward.sync()
        self.recurrent_state = self.forward.initial_state(batch_size)

    def __call__(self, states: np.ndarray) -> np.ndarray:
        if self.recurrent_state is None:
            self.reset(len(states))
        # Images as floats too (the model scales them alike): with uint8 input this graph
        # (not compiled by XLA) makes TensorFlow log "oneDNN supports DT_UINT8 only on
        # platforms with AVX-512" as an error on every run.
        states = np.asarray(states, np.float32)
        params, self.recurrent_state = self.forward(states, self.recurrent_state)
        return self.model.distribution.greedy(params)


def greedy_policy(model) -> GreedyPolicy:
    """``GreedyPolicy(model)``: made once, kept by callers that evaluate often."""
    return GreedyPolicy(model)


def evaluate(
    model: tf.keras.Model,
    env_id: str,
    episodes: int = 100,
    seed: int = 0,
    policy: Callable[[np.ndarray], np.ndarray] | None = None,
) -> EvalResult:
    """Plays ``episodes`` greedy episodes, up to ``EVAL_BATCH`` at once, one per env of a
    gymnasium vector env.

    Episode ``i`` is its env's first episode, reset with seed ``seed + i``; the env's later
    steps are ignored. Episodes keep the env's time limit (``utils.envs.episode_step_limit``:
    an env registered without one is cut after ``DEFAULT_EPISODE_STEPS`` steps).

    Args:
        model: an actor-critic model built for the env.
        env_id: gymnasium id, as in training.
        episodes: number of episodes, >= 1.
        seed: seed of the first env.
        policy: ``greedy_policy(model)``, if the caller keeps one (a loaded model's is compiled,
            which takes time); reset here.

    Returns:
        ``EvalResult`` with the ``episodes`` returns, float64 ``(episodes,)``.

    Raises:
        ValueError: if ``episodes`` < 1.
        utils.errors.EnvFault: if the env breaks gymnasium's contract.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    act = policy or greedy_policy(model)
    max_steps = episode_step_limit(env_id)
    returns = np.zeros(episodes)
    for start in range(0, episodes, EVAL_BATCH):
        batch = min(EVAL_BATCH, episodes - start)
        envs = make_vector_env(env_id, batch)
        to_env = action_clipper(envs.single_action_space, env_id)
        running = np.ones(batch, bool)
        try:
            states, _ = envs.reset(seed=seed + start)
            act.reset(batch)  # one episode per env: a recurrent state never needs zeroing again
            for _ in range(max_steps):
                states, rewards, terminated, truncated, _ = envs.step(to_env(act(states)))
                returns[start : start + batch] += rewards * running
                running &= ~(terminated | truncated)
                if not running.any():
                    break
        finally:
            envs.close()
    return EvalResult(returns, reward_threshold(env_id))


def play(
    model: tf.keras.Model,
    env_id: str,
    episodes: int = 1,
    seed: int = 0,
    render_mode: str | None = None,
    out=print,
    on_frame: Callable[[np.ndarray], None] | None = None,
) -> EvalResult:
    """Plays greedy episodes in one env, printing step, action and running return each step.

    Args:
        model: an actor-critic model built for the env.
        env_id: gymnasium id; the env keeps its time limit.
        episodes: number of episodes, >= 1; episode ``k`` is reset with seed ``seed + k``.
        seed: seed of the first episode.
        render_mode: None or ``"human"`` (a window).
        out: where the lines go.
        on_frame: if given, the env renders ``rgb_array`` frames and each (uint8
            ``(height, width, 3)``, one after each reset and each step) goes to it as it is
            made, none kept here (a recording streams them to its file).

    Returns:
        The ``EvalResult`` of the played episodes.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    env = make_env(env_id, render_mode="rgb_array" if on_frame else render_mode)
    act = greedy_policy(model)
    to_env = action_clipper(env.action_space, env_id)
    returns = []
    try:
        for episode in range(episodes):
            state, _ = env.reset(seed=seed + episode)
            act.reset(1)
            if on_frame:
                on_frame(env.render())
            episode_return, step, over = 0.0, 0, False
            while not over:
                action = to_env(act(state[None])[0])
                state, reward, terminated, truncated, _ = env.step(action)
                if on_frame:
                    on_frame(env.render())
                episode_return += float(reward)
                step += 1
                over = terminated or truncated
                out(
                    f"episode {episode + 1} | step {step} | action {format_action(action)} | "
                    f"return {episode_return:g}"
                )
            out(f"episode {episode + 1} finished: return {episode_return:g} in {step} steps")
            returns.append(episode_return)
    finally:
        env.close()
    return EvalResult(np.asarray(returns), reward_threshold(env_id))


def format_action(action: np.ndarray) -> str:
    """An action as the play log shows it: ``1`` (discrete), ``[0.52, -1]`` (Box, 3 digits)."""
    if np.ndim(action) == 0:
        return str(int(action))
    return "[" + ", ".join(f"{value:.3g}" for value in np.ravel(action)) + "]"
