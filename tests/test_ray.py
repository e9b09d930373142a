"""A3C on Ray: worker processes, exact budgets, replaced workers, a two-node cluster, bad input,
and Ray itself failing: a wrong address, a lost node, Ctrl-C while it starts, a killed driver."""

import contextlib
import csv
import http.server
import os
import signal
import socket
import subprocess
import threading
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import agents.a3c
from agents.a3c import update_specs
from agents.a3c_ray import RayMasterAgent, RemoteWorker
from agents.compiled import compiled
from agents.losses import compute_loss
from agents.on_policy import UpdateLog
from config.hyperparameters import A3CConfig
from models import ActorCriticModel
from tests.programs import error_line, run, start
from training.episode_log import EpisodeLog
from training.trainer import Trainer
from utils.process_watchdog import command_line, process_table, watched

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
        "--max-eps=400",  # enough that a worker process started late on a busy machine plays
        "--eval-episodes=3",
        f"--save_dir={tmp_path}",
        env={"RAY_ADDRESS": "127.0.0.1:1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trained 400 episodes" in result.stdout
    with open(tmp_path / "CartPole-v1_episodes.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["index"]) for row in rows] == list(range(1, 401))
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

    watcher = watch(master, lambda m: m.update_log.count >= 20, kill_worker_0)
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

        watcher = watch(master, lambda m: m.update_log.count >= 20, note_nodes_then_remove_one)
        episodes = trainer.train()
        watcher.join()
        assert len(nodes) == 2  # the workers were spread over both nodes
        assert [e.index for e in episodes] == list(range(1, 301))
    finally:
        cluster.shutdown()


def synced_values(model) -> list[np.ndarray]:
    return [variable.numpy() for variable in model.synced_variables]


def test_a_worker_acts_with_the_weights_it_is_sent():
    worker = RemoteWorker(config(), worker_id=0, seed=1)
    sent = [
        np.full(v.shape, 1e-4 * i, np.float32) for i, v in enumerate(worker.model.synced_variables)
    ]
    worker.rollout_gradients(sent)
    worker.close()
    for mine, theirs in zip(synced_values(worker.model), sent, strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_the_driver_applies_a_workers_gradients_as_the_optimizer_applies_them():
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
    metrics = {"loss": tf.constant(1.0), "grad_norm": tf.constant(1.0)}
    applied, weights = master._apply(gradients, (), metrics)
    twin_optimizer.apply_gradients(zip(gradients, twin.trainable_variables, strict=True))
    assert bool(applied)
    for mine, theirs in zip(weights, twin.trainable_variables, strict=True):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), 1e-6)


def test_the_driver_applies_no_update_whose_loss_or_gradient_is_not_finite():
    master = RayMasterAgent.__new__(RayMasterAgent)  # the global side only: no Ray started
    master.config = config()
    master.global_model = ActorCriticModel(2, (8,)).build_for(4)
    master.optimizer = keras.optimizers.Adam(0.1)
    master.optimizer.build(master.global_model.trainable_variables)
    master.apply = compiled(master._apply, *update_specs(master.global_model))
    master.update_log = UpdateLog(max_nonfinite=5)
    master.last_result = 0.0
    master.next_health_check = float("inf")  # no Ray to check
    master.deaths = {}  # no worker has died
    master.episode_log = EpisodeLog(max_steps=10**6)
    shapes = [v.shape for v in master.global_model.trainable_variables]

    def metrics(loss, norm):
        return {
            "loss": loss,
            "policy_loss": 0.0,
            "value_loss": 0.0,
            "entropy": 0.0,
            "grad_norm": norm,
        }

    results = {
        "nan loss": ([np.ones(s, np.float32) for s in shapes], (), metrics(np.nan, 1.0)),
        "nan gradient": (
            [np.full(s, np.nan, np.float32) for s in shapes],
            (),
            metrics(1.0, np.nan),
        ),
    }

    class StubRay:  # each task's result is ready at once
        def wait(self, refs, num_returns, timeout):
            return refs[:1], refs[1:]

        def get(self, ref):
            return (*results[ref], [], 10)

    master.ray, master.tasks = StubRay(), {"nan loss": 0, "nan gradient": 1}
    master._submit = lambda worker_id: None
    before = master.global_model.get_weights()
    master.advance()
    master.advance()
    assert master.update_log.count == 2 and master.update_log.nonfinite == 2
    assert not master.update_log.last["applied"]
    assert int(master.optimizer.iterations) == 0
    for a, b in zip(before, master.global_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(before, master.weights, strict=True):
        np.testing.assert_array_equal(a, b)  # the workers are sent the unchanged weights


def test_ray_workers_train_through_the_one_compute_loss(monkeypatch):
    calls = []

    def spy(*args, **kwargs):
        calls.append(kwargs["gamma"])
        return compute_loss(*args, **kwargs)

    monkeypatch.setattr(agents.a3c, "compute_loss", spy)
    worker = RemoteWorker(config(gamma=0.75), worker_id=0, seed=3)  # traces its gradient
    weights = synced_values(worker.model)
    gradients, moments, metrics, finished, steps = worker.rollout_gradients(weights)
    worker.close()
    assert calls == [0.75]
    assert steps == 10
    assert [g.shape for g in gradients] == [w.shape for w in weights]
    assert all(g.dtype == np.float32 for g in gradients)
    assert moments == ()  # no observation statistics to send
    assert float(metrics["loss"]) == pytest.approx(
        float(metrics["policy_loss"] + 0.5 * metrics["value_loss"] - 0.01 * metrics["entropy"]),
        rel=1e-5,
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
    gradients = worker.rollout_gradients(synced_values(worker.model))[0]
    carried = [np.asarray(part) for part in worker.collector.recurrent_state]
    worker.close()
    assert carried[0].shape == (1, 8) and np.any(carried[0])  # not reset: episodes are longer
    variables = worker.model.trainable_variables
    lstm = {id(v) for v in worker.model.core.trainable_weights}
    lstm_parts = [g for g, v in zip(gradients, variables, strict=True) if id(v) in lstm]
    assert len(lstm_parts) == 3 and all(np.abs(p).sum() > 0 for p in lstm_parts)


def silent_server():
    """A TCP server that accepts and never says a word (as a port of another program may):
    ``(address, stop)``."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def serve():
        with contextlib.suppress(OSError):
            while True:
                accepted.append(server.accept()[0])

    threading.Thread(target=serve, daemon=True).start()

    def stop():
        server.close()
        for connection in accepted:
            connection.close()

    return f"127.0.0.1:{server.getsockname()[1]}", stop


def http_server():
    """A plain HTTP server (``python -m http.server``'s): ``(address, stop)``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop():
        server.shutdown()
        server.server_close()

    return f"127.0.0.1:{server.server_address[1]}", stop


@pytest.mark.parametrize("server", [silent_server, http_server])
def test_a_ray_address_that_answers_tcp_but_is_no_ray_fails_in_seconds(tmp_path, server):
    address, stop = server()
    try:
        began = time.monotonic()
        args = ["--train", "--backend=ray", f"--ray-address={address}"]
        result = run(*args, f"--save_dir={tmp_path}/out")
        seconds = time.monotonic() - began
    finally:
        stop()
    assert result.returncode == 2
    assert f"--ray_address={address}: no Ray cluster answers there (" in error_line(result)
    assert "ray start --head" in error_line(result)
    assert seconds < 15  # ray.init waited minutes there, deaf to SIGTERM
    assert not (tmp_path / "out").exists()
    assert not ray.is_initialized()


def ray_processes_of(pid: int) -> set:
    """The local Ray that process ``pid`` started, as ``(pid, start time)`` pairs."""
    return watched(process_table(), pid, os.fsencode(os.path.dirname(ray.__file__)), set())


def running(processes: set) -> set:
    """Those of ``processes`` (``(pid, start time)`` pairs) that still run (not zombies)."""
    table = process_table()
    alive = set()
    for pid, began in processes:
        if table.get(pid, (0, None))[1] == began:
            try:
                with open(f"/proc/{pid}/stat", "rb") as handle:
                    state = handle.read().rsplit(b")", 1)[1].split()[0]
            except OSError:  # it ended since the table was read
                continue
            if state != b"Z":
                alive.add((pid, began))
    return alive


def wait_for(condition, timeout: float, process=None):
    """Polls ``condition()`` until it is true; fails after ``timeout`` s or if ``process``
    ended first (with its stderr)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            pytest.fail(process.communicate()[1][-3000:])
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads Linux's /proc")
@pytest.mark.parametrize("victim", ["raylet", "DashboardAgent"])
def test_losing_the_local_ray_stops_the_run_in_seconds_with_one_line_and_a_checkpoint(
    tmp_path, victim
):
    args = ["--train", "--backend=ray", "--workers=1", "--max-eps=100000", "--eval-interval=0"]
    process = start("a3c_cartpole.py", *args, "--checkpoint-every=5", f"--save_dir={tmp_path}")
    checkpoints = tmp_path / "checkpoints_CartPole-v1"
    try:
        wait_for(lambda: (checkpoints / "checkpoint").exists(), 120, process)
        ours = ray_processes_of(process.pid)
        pid = next(p for p, _ in ours if victim.encode() in command_line(p))
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        _, stderr = process.communicate(timeout=60)
        seconds = time.monotonic() - killed
    finally:
        if process.poll() is None:
            process.kill()
    result = subprocess.CompletedProcess(process.args, process.returncode, "", stderr)
    assert process.returncode == 1, stderr[-3000:]
    line = error_line(result)
    assert "error: training failed: " in line
    assert "died" in line and "no worker can run; the run was checkpointed (" in line
    assert seconds < 15  # it waited WORKER_START_TIMEOUT (300 s) for replacements
    assert "state-dump" not in stderr and "(raylet)" not in stderr  # Ray's own report
    prefix = tf.train.latest_checkpoint(checkpoints)
    assert prefix and prefix in line
    reader = tf.train.load_checkpoint(prefix)  # loadable, with the model's weights
    assert any("model" in name for name in reader.get_variable_to_shape_map())
    wait_for(lambda: not running(ours), 10)  # and nothing of that Ray is left


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads Linux's /proc")
def test_a_driver_killed_by_sigkill_leaves_no_ray_process_behind(tmp_path):
    args = ["--train", "--backend=ray", "--workers=1", "--max-eps=100000", "--eval-interval=0"]
    process = start("a3c_cartpole.py", *args, f"--save_dir={tmp_path}")
    try:
        agents = (b"ray::RemoteWorker", b"ray::DashboardAgent", b"ray::RuntimeEnvAgent")

        def all_up():
            commands = [command_line(p) for p, _ in ray_processes_of(process.pid)]
            return all(any(a in c for c in commands) for a in agents)

        wait_for(all_up, 120, process)
        ours = ray_processes_of(process.pid)
        process.kill()
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    wait_for(lambda: not running(ours), 15)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads Linux's /proc")
@pytest.mark.parametrize("when", [b"gcs_server", b"raylet/raylet", b"ray::RemoteWorker"])
def test_ctrl_c_while_ray_starts_exits_130_with_one_line(tmp_path, when):
    # While ray.init runs (its GCS server, then its raylet, start), and while the workers start.
    args = ["--train", "--backend=ray", f"--save_dir={tmp_path}"]
    process = start("a3c_cartpole.py", *args, new_session=True)
    try:
        wait_for(
            lambda: any(when in command_line(p) for p, _ in ray_processes_of(process.pid)),
            120,
            process,
        )
        ours = ray_processes_of(process.pid)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    result = subprocess.CompletedProcess(process.args, process.returncode, "", stderr)
    assert process.returncode == 128 + signal.SIGINT, stderr[-3000:]  # not 139: a segfault
    assert "error: interrupted" in error_line(result)
    wait_for(lambda: not running(ours), 15)


def test_an_env_fault_in_a_worker_process_is_named_and_the_run_checkpointed(tmp_path):
    result = run(
        "--train",
        "--backend=ray",
        "--workers=2",
        "--env=tests.faulty_envs:StepRaises-v0",
        "--max-eps=100000",
        f"--save_dir={tmp_path}",
    )
    assert result.returncode == 1
    line = error_line(result)
    assert "StepRaises-v0's step() raised RuntimeError: the simulator crashed" in line
    assert "the run was checkpointed" in line
    assert (tmp_path / "checkpoints_StepRaises-v0" / "ckpt-1.index").is_file()
