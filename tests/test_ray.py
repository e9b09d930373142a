"""A3C on Ray: worker processes, exact budgets, replaced workers, a two-node cluster, bad input."""

import csv
import os
import signal
import threading
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import agents.updates
from agents.a3c_ray import RayMasterAgent, RemoteWorker
from agents.losses import compute_loss
from agents.updates import NonFiniteCounter, UpdateInfo, flatten, unflatten
from config.hyperparameters import A3CConfig
from models import ActorCriticModel
from tests.programs import error_line, run, start
from training.episode_log import EpisodeLog
from training.trainer import Trainer

pytestmark = pytest.mark.slow  # a local Ray each

ray = pytest.importorskip("ray")  # requirements-test.txt installs it: CI runs these


def config(**changes):
    settings = dict(backend="ray", workers=2, max_eps=120, update_freq=10, eval_interval=0)
    return A3CConfig(**{**settings, **changes})


def test_the_ray_backend_trains_from_the_command_line_with_the_exact_budget(tmp_path):
    # Without --ray-address the run starts a Ray of its own: neither RAY_ADDRESS nor a cluster
    # that another program (another test) started on this machine is joined.
    result = run(
        "--train",
        "--backend=ray",
        "--workers=2",
        "--envs-per-worker=2",
        "--max-eps=80",
        "--eval-episodes=3",
        f"--save_dir={tmp_path}",
        env={"RAY_ADDRESS": "127.0.0.1:1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trained 80 episodes" in result.stdout
    with open(tmp_path / "CartPole-v1_episodes.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["index"]) for row in rows] == list(range(1, 81))
    assert {row["worker"] for row in rows} == {"0", "1"}  # both processes played
    assert "greedy return over 3 episodes" in result.stdout


def watch(master, when, action):
    """Runs ``action`` on a thread once ``when(master)`` holds; returns the thread."""

    def loop():
        deadline = time.time() + 240
        while not when(master) and time.time() < deadline:
            time.sleep(0.05)
        action()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def test_a_killed_worker_process_is_replaced_and_the_budget_still_met(tmp_path):
    master = RayMasterAgent(config(max_eps=300))
    trainer = Trainer(master, tmp_path)
    killed = []

    def kill_worker_0():
        pid, _ = ray.get(master.actors[0].where.remote())
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    watcher = watch(master, lambda m: m.updates >= 20, kill_worker_0)
    episodes = trainer.train()
    watcher.join()
    assert killed and master.replaced >= 1
    assert [e.index for e in episodes] == list(range(1, 301))


def test_a_two_node_cluster_uses_both_nodes_and_survives_losing_one(tmp_path):
    from ray.cluster_utils import Cluster

    fast_failure_detection = {
        "health_check_initial_delay_ms": 0,
        "health_check_period_ms": 500,
        "health_check_failure_threshold": 2,
    }
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 2, "_system_config": fast_failure_detection},
    )
    second = cluster.add_node(num_cpus=1)
    try:
        master = RayMasterAgent(config(max_eps=300, ray_address=cluster.address))
        trainer = Trainer(master, tmp_path)
        nodes = set()

        def note_nodes_then_remove_one():
            for actor in master.actors.values():
                nodes.add(ray.get(actor.where.remote())[1])
            cluster.remove_node(second)

        watcher = watch(master, lambda m: m.updates >= 20, note_nodes_then_remove_one)
        episodes = trainer.train()
        watcher.join()
        assert len(nodes) == 2  # the workers were spread over both nodes
        assert [e.index for e in episodes] == list(range(1, 301))
    finally:
        cluster.shutdown()


def test_weights_travel_as_one_vector_and_come_back_unchanged():
    model = ActorCriticModel(3, (5, 4))
    model.build_for(2)
    variables = model.trainable_variables
    vector = flatten(variables)
    assert vector.shape == (sum(int(np.prod(v.shape)) for v in variables),)
    assert vector.dtype == tf.float32
    for part, variable in zip(unflatten(vector, variables), variables, strict=True):
        np.testing.assert_array_equal(part.numpy(), variable.numpy())


def test_a_worker_acts_with_the_weights_it_is_sent():
    worker = RemoteWorker(config(), worker_id=0, seed=1)
    sent = np.arange(len(flatten(worker.model.synced_variables)), dtype=np.float32) * 1e-4
    worker.rollout_gradients(sent)
    worker.close()
    np.testing.assert_array_equal(flatten(worker.model.synced_variables).numpy(), sent)


def test_the_driver_applies_a_gradient_vector_as_the_optimizer_applies_the_list():
    master = RayMasterAgent.__new__(RayMasterAgent)  # the global side only: no Ray started
    master.config = config()
    master.global_model = ActorCriticModel(2, (8,))
    master.global_model.build_for(4)
    master.optimizer = keras.optimizers.Adam(0.1)
    master.optimizer.build(master.global_model.trainable_variables)
    twin = keras.models.clone_model(master.global_model)
    twin.build_for(4)
    twin.set_weights(master.global_model.get_weights())
    twin_optimizer = keras.optimizers.Adam(0.1)
    gradients = [tf.random.normal(v.shape, seed=i) for i, v in enumerate(twin.trainable_variables)]
    moments = tf.zeros([0])  # no observation statistics
    weights = master._apply(flatten(gradients), moments)
    twin_optimizer.apply_gradients(zip(gradients, twin.trainable_variables, strict=True))
    np.testing.assert_allclose(weights.numpy(), flatten(twin.trainable_variables).numpy(), 1e-6)
    # The driver applies only finite updates (a NaN loss or norm is not applied).
    assert UpdateInfo.of(np.ones(5)).applied
    assert not UpdateInfo.of(np.array([np.nan, 1, 1, 1, 1])).applied
    assert not UpdateInfo.of(np.array([1, 1, 1, 1, np.inf])).applied


def test_the_driver_applies_no_update_whose_loss_or_gradient_is_not_finite():
    master = RayMasterAgent.__new__(RayMasterAgent)  # the global side only: no Ray started
    master.config = config()
    master.global_model = ActorCriticModel(2, (8,)).build_for(4)
    master.optimizer = keras.optimizers.Adam(0.1)
    master.optimizer.build(master.global_model.trainable_variables)
    master.nonfinite = NonFiniteCounter(limit=5)
    master.updates, master.last_result, master.weights = 0, 0.0, "the weights before"
    master.episode_log = EpisodeLog(max_steps=10**6)
    size = len(flatten(master.global_model.trainable_variables))
    results = {
        "nan loss": (np.ones(size, np.float32), np.zeros(0), np.array([np.nan, 0, 0, 0, 1])),
        "nan gradient": (
            np.full(size, np.nan, np.float32),
            np.zeros(0),
            np.array([1, 0, 0, 0, np.nan]),
        ),
    }

    class StubRay:  # each task's result is ready at once
        def wait(self, refs, num_returns, timeout):
            return refs[:1], refs[1:]

        def get(self, ref):
            return (*results[ref], [], 10)

    master.ray, master.tasks = StubRay(), {"nan loss": 0, "nan gradient": 1}
    master._submit = lambda worker_id: None
    master.apply = lambda *args: pytest.fail("a non-finite update reached the global model")
    before = master.global_model.get_weights()
    master.advance()
    master.advance()
    assert master.updates == 2 and master.nonfinite.count == 2
    assert not master.last_update.applied and master.weights == "the weights before"
    assert int(master.optimizer.iterations) == 0
    for a, b in zip(before, master.global_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_ray_workers_train_through_the_one_compute_loss(monkeypatch):
    calls = []

    def spy(*args, **kwargs):
        calls.append(kwargs["gamma"])
        return compute_loss(*args, **kwargs)

    monkeypatch.setattr(agents.updates, "compute_loss", spy)
    worker = RemoteWorker(config(gamma=0.75), worker_id=0, seed=3)  # traces its gradient
    weights = flatten(worker.model.synced_variables).numpy()
    gradient, moments, stats, finished, steps = worker.rollout_gradients(weights)
    worker.close()
    assert calls == [0.75]
    assert steps == 10 and gradient.shape == weights.shape and gradient.dtype == np.float32
    assert moments.shape == (0,)  # no observation statistics to send
    loss = UpdateInfo.of(stats, applied=True)
    assert loss.total == pytest.approx(
        loss.policy_loss + 0.5 * loss.value_loss - 0.01 * loss.entropy
    )


def test_without_ray_installed_the_error_says_how_to_install_it(tmp_path):
    fake = tmp_path / "site" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    env = {"PYTHONPATH": str(tmp_path / "site")}
    result = run("--train", "--backend=ray", f"--save_dir={tmp_path}/out", env=env)
    assert result.returncode == 2
    assert "pip install -r requirements-ray.txt" in error_line(result)


def test_ctrl_c_stops_every_worker_and_saves_and_resume_goes_on(tmp_path):
    # Ctrl-C in a terminal signals the whole process group: the driver and Ray's processes.
    args = ["--train", "--backend=ray", "--workers=2", "--max-eps=100000", "--checkpoint-every=20"]
    process = start("a3c_cartpole.py", *args, f"--save_dir={tmp_path}", new_session=True)
    checkpoint = tmp_path / "checkpoints_CartPole-v1" / "checkpoint"
    deadline = time.time() + 180
    while not checkpoint.exists():
        assert process.poll() is None and time.time() < deadline, process.communicate()[1][-2000:]
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGINT, stderr[-2000:]
    assert "interrupted by SIGINT; the run was saved" in stderr
    with open(tmp_path / "CartPole-v1_episodes.csv") as handle:
        first = len(list(csv.DictReader(handle)))
    resumed = run(
        "--train",
        "--backend=ray",
        "--workers=2",
        "--resume",
        f"--max-eps={first + 20}",
        "--eval-episodes=3",
        f"--save_dir={tmp_path}",
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"trained {first + 20} episodes" in resumed.stdout


def test_a_ray_worker_trains_an_lstm_and_carries_its_state_between_rollouts():
    recurrent = config(env="CartPoleNoVel-v1", recurrent=True, lstm_units=8, update_freq=5)
    worker = RemoteWorker(recurrent, worker_id=0, seed=2)
    weights = flatten(worker.model.synced_variables).numpy()
    gradient = worker.rollout_gradients(weights)[0]
    carried = [np.asarray(part) for part in worker.collector.recurrent_state]
    worker.close()
    assert carried[0].shape == (1, 8) and np.any(carried[0])  # not reset: episodes are longer
    variables = worker.model.trainable_variables
    lstm = {id(v) for v in worker.model.core.trainable_weights}
    parts = unflatten(gradient, variables)
    lstm_parts = [p for p, v in zip(parts, variables, strict=True) if id(v) in lstm]
    assert len(lstm_parts) == 3 and all(np.abs(p).sum() > 0 for p in lstm_parts)
