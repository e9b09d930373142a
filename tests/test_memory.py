"""agents/memory.py: the rollout buffer (Memory) and its collector (RolloutCollector), shared by
A2C, the A3C threads and the Ray workers."""

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

from agents.losses import compute_loss
from agents.memory import Memory, RolloutCollector
from models import build_model
from utils.envs import env_dims


def test_one_env_rollout_is_time_major_with_the_next_state_last():
    memory = Memory()
    for t in range(3):
        memory.store([t, t + 0.5], t % 2, float(t), t == 2, False)
    rollout = memory.to_rollout([9.0, 9.5])
    assert len(memory) == 3
    assert rollout.states.shape == (4, 1, 2) and rollout.states.dtype == np.float32
    np.testing.assert_array_equal(rollout.states[:, 0, 0], [0, 1, 2, 9])
    assert rollout.actions.shape == (3, 1) and rollout.actions.dtype == np.int32
    np.testing.assert_array_equal(rollout.actions[:, 0], [0, 1, 0])
    np.testing.assert_array_equal(rollout.rewards[:, 0], [0, 1, 2])
    np.testing.assert_array_equal(rollout.terminated[:, 0], [0, 0, 1])
    np.testing.assert_array_equal(rollout.truncated[:, 0], [0, 0, 0])
    np.testing.assert_array_equal(rollout.valid[:, 0], [1, 1, 1])
    for array in rollout[2:6]:  # the per-step floats
        assert array.dtype == np.float32


def test_batched_envs_keep_their_own_column():
    memory = Memory(num_envs=3)
    states = np.arange(6, dtype=np.float32).reshape(3, 2)
    memory.store(
        states,
        [0, 1, 1],
        [1.0, 2.0, 3.0],
        [False, True, False],
        [False, False, True],
        valid=[True, True, False],
    )
    rollout = memory.to_rollout(states + 10)
    assert rollout.states.shape == (2, 3, 2)
    np.testing.assert_array_equal(rollout.states[1], states + 10)
    np.testing.assert_array_equal(rollout.terminated[0], [0, 1, 0])
    np.testing.assert_array_equal(rollout.truncated[0], [0, 0, 1])
    np.testing.assert_array_equal(rollout.valid[0], [1, 1, 0])


def test_padding_adds_invalid_steps_after_the_bootstrap_state():
    memory = Memory()
    memory.store([1.0], 1, 1.0, False, False)
    rollout = memory.to_rollout([2.0], pad_to=4)
    assert rollout.actions.shape == (4, 1) and rollout.states.shape == (5, 1, 1)
    np.testing.assert_array_equal(rollout.states[:, 0, 0], [1, 2, 2, 2, 2])
    np.testing.assert_array_equal(rollout.valid[:, 0], [1, 0, 0, 0])
    np.testing.assert_array_equal(rollout.rewards[:, 0], [1, 0, 0, 0])


def test_clear_forgets_everything():
    memory = Memory()
    memory.store([1.0], 0, 1.0, False, False)
    memory.clear()
    assert len(memory) == 0
    with pytest.raises(ValueError, match="empty"):
        memory.to_rollout([1.0])


@pytest.mark.parametrize(
    "store, message",
    [
        (
            lambda m: m.store([[1.0], [2.0]], [0, 1, 0], [1, 1], [0, 0], [0, 0]),
            "action must have 2",
        ),
        (lambda m: m.store([[1.0], [2.0]], [0, 1], [1], [0, 0], [0, 0]), "reward must have 2"),
    ],
)
def test_items_must_have_one_entry_per_env(store, message):
    with pytest.raises(ValueError, match=message):
        store(Memory(num_envs=2))


def test_observation_shape_must_not_change_and_padding_must_fit():
    memory = Memory()
    memory.store([1.0, 2.0], 0, 1.0, False, False)
    with pytest.raises(ValueError, match="observation shape"):
        memory.store([1.0, 2.0, 3.0], 0, 1.0, False, False)
    memory.store([1.0, 2.0], 0, 1.0, False, False)
    with pytest.raises(ValueError, match="cannot pad 2"):
        memory.to_rollout([0.0, 0.0], pad_to=1)
    with pytest.raises(ValueError, match="num_envs"):
        Memory(num_envs=0)


# The collector: autoreset's reset steps masked, terminated and truncated kept apart.


class CounterEnv(gym.Env):
    """Observation [t], the steps since reset; reward 1 a step; terminal after ``length`` steps."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, length):
        self.length = length

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t], np.float32), 1.0, self.t == self.length, False, {}


def scripted_envs():
    """Env 0 terminates after 3 steps; env 1 never terminates but a time limit truncates it at 2."""
    return gym.vector.SyncVectorEnv(
        [lambda: CounterEnv(3), lambda: gym.wrappers.TimeLimit(CounterEnv(100), 2)],
        autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP,
    )


class ValueIsTenTimesT:
    """Stand-in model: uniform policy, V(s) = 10 * t."""

    def __call__(self, states):
        return np.zeros((len(states), 2), np.float32), 10.0 * states[:, 0]


def scripted_collector():
    """A collector of 6-step rollouts of the scripted envs, reset."""
    envs = scripted_envs()
    model = build_model(env_dims(envs.single_observation_space, envs.single_action_space), (8,))
    collector = RolloutCollector(envs, model, tf.random.Generator.from_seed(0), t_max=6)
    collector.reset(seed=0)
    return collector


def test_reset_steps_are_masked_and_each_episode_end_bootstraps_correctly():
    collector = scripted_collector()
    rollout, finished = collector.collect()

    # env 0: steps t=1,2,3 (terminated), reset step, t=1,2.  env 1: t=1,2 (truncated), reset,
    # t=1,2 (truncated), reset.  The bootstrap states are t=2 and t=0.
    np.testing.assert_array_equal(rollout.states[:, 0, 0], [0, 1, 2, 3, 0, 1, 2])
    np.testing.assert_array_equal(rollout.states[:, 1, 0], [0, 1, 2, 0, 1, 2, 0])
    np.testing.assert_array_equal(rollout.valid[:, 0], [1, 1, 1, 0, 1, 1])
    np.testing.assert_array_equal(rollout.valid[:, 1], [1, 1, 0, 1, 1, 0])
    np.testing.assert_array_equal(rollout.terminated[:, 0], [0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(rollout.truncated[:, 1], [0, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(rollout.rewards[:, 0], [1, 1, 1, 0, 1, 1])

    g = 0.9
    loss = compute_loss(ValueIsTenTimesT(), rollout, gamma=g)
    returns = loss.returns.numpy()
    # env 0, terminated after 3 rewards: no bootstrap. Then a new episode cut by the rollout's
    # end, bootstrapped from V(t=2) = 20.
    np.testing.assert_allclose(returns[[0, 1, 2], 0], [1 + g + g * g, 1 + g, 1], rtol=1e-6)
    np.testing.assert_allclose(returns[[4, 5], 0], [1 + g * (1 + 20 * g), 1 + 20 * g], rtol=1e-6)
    # env 1, truncated at t=2: bootstrap from V(final observation t=2) = 20, never from the
    # reset observation t=0 that the next step returns.
    np.testing.assert_allclose(returns[[0, 1], 1], [1 + g * (1 + 20 * g), 1 + 20 * g], rtol=1e-6)
    np.testing.assert_allclose(returns[[3, 4], 1], [1 + g * (1 + 20 * g), 1 + 20 * g], rtol=1e-6)

    recorded = [(e.env, e.episode_return, e.length) for e in finished]
    assert sorted(recorded) == [(0, 3.0, 3), (1, 2.0, 2), (1, 2.0, 2)]
    collector.envs.close()


def test_reset_steps_change_no_loss():
    # Rewriting what the masked reset steps hold must leave every loss term unchanged.
    collector = scripted_collector()
    rollout, _ = collector.collect()
    invalid = rollout.valid == 0
    altered = rollout._replace(
        rewards=np.where(invalid, 99.0, rollout.rewards).astype(np.float32),
        actions=np.where(invalid, 1 - rollout.actions, rollout.actions).astype(np.int32),
    )
    model = collector.model
    plain, changed = compute_loss(model, rollout, 0.9), compute_loss(model, altered, 0.9)
    for name in ("total", "policy_loss", "value_loss", "entropy"):
        assert float(getattr(plain, name)) == pytest.approx(float(getattr(changed, name)))
    collector.envs.close()
