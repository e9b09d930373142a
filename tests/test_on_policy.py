"""The on-policy core (agents/on_policy.py) that A2C, the A3C threads and the Ray workers share:
the non-finite guard, the rewards the loss sees, the metrics by name, the bookkeeping."""

import numpy as np
import pytest
import tensorflow as tf

from agents.losses import LossInfo
from agents.memory import Rollout
from agents.on_policy import (
    METRICS,
    UpdateLog,
    only_if_finite,
    rewards_for_loss,
    update_metrics,
)
from agents.reward_scaling import RewardScaler
from config.hyperparameters import A2CConfig
from utils.errors import TrainingError


def metrics(loss=1.0, norm=1.0, applied=True):
    return {
        "loss": loss,
        "policy_loss": 0.5,
        "value_loss": 2.0,
        "entropy": 0.7,
        "grad_norm": norm,
        "applied": applied,
    }


def test_the_guard_applies_finite_updates_and_never_a_non_finite_one():
    variable = tf.Variable([1.0, 2.0])
    optimizer = tf.keras.optimizers.SGD(0.5)
    optimizer.build([variable])
    gradient = [tf.constant([1.0, 1.0])]

    def update():
        optimizer.apply_gradients(zip(gradient, [variable], strict=True))

    for loss, norm in ((np.nan, 1.0), (1.0, np.inf), (np.inf, np.nan)):
        assert not bool(only_if_finite(metrics(loss, norm), update))
    np.testing.assert_array_equal(variable.numpy(), [1.0, 2.0])
    assert int(optimizer.iterations) == 0
    assert bool(only_if_finite(metrics(), update))
    np.testing.assert_array_equal(variable.numpy(), [0.5, 1.5])


def test_the_update_log_counts_keeps_the_newest_by_name_and_stops_after_too_many_skips():
    log = UpdateLog(max_nonfinite=1)
    recorded = log.record({**metrics(), "loss": np.float32(0.25), "applied": np.array(True)})
    assert recorded == {**metrics(), "loss": 0.25} and type(recorded["loss"]) is float
    assert set(recorded) == set(METRICS) and log.last == recorded and log.count == 1
    log.record(metrics(loss=np.nan, applied=False))
    assert log.count == 2 and log.nonfinite == 1 and len(log.history) == 2
    with pytest.raises(TrainingError, match="2 updates had a non-finite loss or gradient"):
        log.record(metrics(loss=np.nan, applied=False))
    assert [m["applied"] for m in log.history] == [True, False, False]


def test_the_metrics_are_the_loss_its_parts_and_the_norm_by_name():
    loss = LossInfo(*(tf.constant(v) for v in (1.0, 2.0, 3.0, 4.0)), None, None)
    named = update_metrics(loss, tf.constant(5.0))
    assert {k: float(v) for k, v in named.items()} == {
        "loss": 1.0,
        "policy_loss": 2.0,
        "value_loss": 3.0,
        "entropy": 4.0,
        "grad_norm": 5.0,
    }
    assert list(named) + ["applied"] == list(METRICS)


def test_the_loss_sees_rewards_clipped_then_scaled_and_the_rollout_is_otherwise_untouched():
    rewards = np.array([[5.0, -0.5], [-3.0, 0.25]], np.float32)
    zeros = np.zeros_like(rewards)
    rollout = Rollout(
        np.zeros((3, 2, 1), np.float32),
        zeros.astype(np.int32),
        rewards,
        zeros,
        zeros,
        np.ones_like(rewards),
    )
    plain = rewards_for_loss(rollout, A2CConfig())
    assert plain is rollout
    clipped = rewards_for_loss(rollout, A2CConfig(clip_rewards=True))
    np.testing.assert_array_equal(clipped.rewards, [[1.0, -0.5], [-1.0, 0.25]])
    assert clipped.states is rollout.states and clipped.actions is rollout.actions
    scaler = RewardScaler(num_envs=2, gamma=0.99)
    scaled = rewards_for_loss(rollout, A2CConfig(clip_rewards=True), scaler)
    ratio = np.asarray(scaled.rewards) / np.asarray(clipped.rewards)
    np.testing.assert_allclose(ratio, ratio[0, 0], rtol=1e-6)  # one scale for all, signs kept
    assert float(scaler.count) > 1  # the scaler took in the rollout's returns
