"""Acting in NumPy: the same policy as the Keras model, at every step of training, after every
update, on every backend; what it cannot take goes to TensorFlow."""

import numpy as np
import pytest

from agents.a2c import A2CAgent
from agents.a3c import MasterAgent, Worker
from config.hyperparameters import A2CConfig, A3CConfig
from models import ActorCriticModel
from models.acting import CompiledPolicy, NumpyPolicy, acting_policy
from training.episode_log import EpisodeLog
from utils.envs import NO_VELOCITY_ENV

# Each kind of model the NumPy pass covers, on an env it trains on.
KINDS = {
    "relu, shared trunk": ("CartPole-v1", {}),
    "tanh, value trunk, normalised": (
        "CartPole-v1",
        dict(activation="tanh", separate_value_trunk=True, normalize_observations=True),
    ),
    "gaussian, normalised": ("Pendulum-v1", dict(normalize_observations=True, log_std_init=-0.5)),
    "lstm": (NO_VELOCITY_ENV, dict(recurrent=True, lstm_units=8)),
    "lstm, gaussian, normalised": (
        "Pendulum-v1",
        dict(recurrent=True, lstm_units=8, normalize_observations=True),
    ),
    "multi-discrete": ("tests.custom_envs:spaces/DialLock-v0", {}),
    "multi-binary, lstm": (
        "tests.custom_envs:spaces/LightSwitches-v0",
        dict(recurrent=True, lstm_units=4),
    ),
    "dict observations, normalised": (
        "tests.custom_envs:spaces/GoalCorridor-v0",
        dict(normalize_observations=True),
    ),
    "tuple observations": ("Blackjack-v1", {}),
}


def relative_difference(actual, expected):
    """The largest difference of two float32 arrays, relative to the larger magnitude when that
    is above 1: two float32 passes summing in another order differ by a few units in the last
    place of the values, so logits of 20 may differ by 1e-5 and still be the same policy."""
    return np.abs(actual - expected).max() / max(1.0, float(np.abs(expected).max()))


def check_every_step(collector, model, record):
    """Wraps ``collector``'s acting pass: each call's params are compared with ``model``'s own
    ``step`` on the same input, at that moment (``record`` gets the largest relative
    difference); each
    sync records whether it took the update's values or read the variables."""
    policy = collector.policy
    forward, sync = policy.__call__, policy.sync

    class Checked(type(policy)):
        def __call__(self, states, recurrent_state=()):
            params, next_state = forward(states, recurrent_state)
            expected, _, expected_state = model.step(
                np.asarray(states, np.float32), recurrent_state
            )
            difference = relative_difference(params, expected.numpy())
            for part, expected_part in zip(next_state, expected_state, strict=True):
                difference = max(difference, relative_difference(part, expected_part.numpy()))
            record["differences"].append(difference)
            return params, next_state

        def sync(self, values=None):
            record["synced from the update"].append(values is not None)
            sync(values)

    policy.__class__ = Checked


@pytest.mark.parametrize("kind", KINDS)
def test_a2c_acts_in_numpy_exactly_as_its_keras_model_after_every_update(kind):
    env, options = KINDS[kind]
    config = A2CConfig(env=env, num_envs=4, update_freq=5, lr=1e-2, seed=3, **options)
    agent = A2CAgent(config)
    assert isinstance(agent.collector.policy, NumpyPolicy)
    record = {"differences": [], "synced from the update": []}
    check_every_step(agent.collector, agent.model, record)
    before = [weight.numpy().copy() for weight in agent.model.weights]
    agent.start(EpisodeLog(max_steps=10**6))
    updates = 12
    for _ in range(updates):
        agent.advance()
    agent.close()
    assert len(record["differences"]) == updates * config.update_freq
    assert max(record["differences"]) < 1e-5, max(record["differences"])
    # The first rollout read the weights, every later one took the update's returned values.
    assert record["synced from the update"] == [False] + [True] * (updates - 1)
    after = agent.model.weights
    changed = [not np.array_equal(b, w.numpy()) for b, w in zip(before, after, strict=True)]
    assert sum(changed) >= len(agent.collector.policy.variables) - 1  # all but a fixed sigma


@pytest.mark.slow
def test_a3c_worker_threads_act_as_their_local_models_after_every_update(monkeypatch):
    config = A3CConfig(workers=2, update_freq=5, lr=1e-2, seed=4, normalize_observations=True)
    master = MasterAgent(config)
    records = []
    start_thread = Worker.start

    def checked_start(worker):  # each worker is checked from its first step
        record = {"differences": [], "synced from the update": []}
        check_every_step(worker.collector, worker.local_model, record)
        records.append(record)
        start_thread(worker)

    monkeypatch.setattr(Worker, "start", checked_start)
    log = EpisodeLog(max_steps=1000)
    master.start(log)
    while not log.done.is_set():
        master.advance()
    master.close()
    assert len(records) == 2
    for record in records:
        synced = record["synced from the update"]
        assert len(synced) >= 10 and synced[0] is False and all(synced[1:])
        assert max(record["differences"]) < 1e-5, max(record["differences"])


def test_a_ray_worker_acts_with_the_weights_it_is_sent():
    pytest.importorskip("ray")
    from agents.a3c_ray import RemoteWorker

    config = A3CConfig(backend="ray", workers=1, update_freq=5, normalize_observations=True)
    worker = RemoteWorker(config, worker_id=0, seed=1)
    record = {"differences": [], "synced from the update": []}
    check_every_step(worker.collector, worker.model, record)
    rng = np.random.default_rng(0)
    for _ in range(3):
        sent = [
            variable.numpy() + rng.normal(0, 0.1, variable.shape).astype(np.float32)
            for variable in worker.model.synced_variables
        ]
        sent[-3:] = [np.abs(part) for part in sent[-3:]]  # the statistics stay positive
        worker.rollout_gradients(sent)
    worker.close()
    assert record["synced from the update"] == [True] * 3
    assert len(record["differences"]) == 15 and max(record["differences"]) < 1e-5


def test_image_models_act_through_tensorflow():
    model = ActorCriticModel(3, (16,), image_shape=(4, 84, 84)).build_for(0)
    policy = acting_policy(model)
    assert isinstance(policy, CompiledPolicy)
    frames = np.random.default_rng(0).integers(0, 255, (2, 4, 84, 84), np.uint8)
    params, state = policy(frames.astype(np.float32))
    np.testing.assert_allclose(params, model(frames)[0].numpy(), atol=1e-5)
    assert params.shape == (2, 3) and state == ()
