"""Memory: the rollout buffer shared by A3C, A2C and the baseline."""

import numpy as np
import pytest

from agents.memory import Memory


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
