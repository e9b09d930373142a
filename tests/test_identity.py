"""What a file or env is (docs/RELIABILITY.md, "What a file or env is"): a file records the
env's whole identity (the module of a ``module:Id``, what a factory or an object made) and is
refused for another env in one line naming both; a checkpoint records its algorithm; loading a
file imports nothing it names; ``predict`` refuses NaN and infinite observations."""

import json
import subprocess
import sys
import zipfile

import gymnasium as gym
import h5py
import numpy as np
import pytest

from a3c_keras import A2C
from tests.custom_envs import Corridor
from tests.programs import ROOT, environment, error_line, run
from training.state import saved_algorithm
from utils.checkpoint import KERAS_METADATA_ENTRY, METADATA_KEY
from utils.envs import ENV_MODULES, MODULE_SPECS, make_env
from utils.errors import CheckpointError

QUIET = {"verbose": 0}
# A run of a second or two: 512 env steps of a tiny model, evaluated on 2 episodes.
SMALL = [
    "--max-steps=512",
    "--num-envs=2",
    "--update-freq=8",
    "--hidden-units=8",
    "--eval-episodes=2",
]
# A module registering Foo-v0: moda's and modb's have the same spaces (CartPole's) and other
# dynamics (moda's episodes end at 20 steps; modb's at 200, with Sutton and Barto's rewards).
MODULE = """import gymnasium as gym

gym.register(
    "Foo-v0",
    entry_point="gymnasium.envs.classic_control.cartpole:CartPoleEnv",
    max_episode_steps={steps},
    kwargs={kwargs},
)
"""


def a2c(*args):
    return run(*args, program="a2c_cartpole.py")


@pytest.fixture
def two_modules(tmp_path, monkeypatch):
    """``moda`` and ``modb``, importable, each registering ``Foo-v0`` on import; forgotten
    after the test."""
    (tmp_path / "moda.py").write_text(MODULE.format(steps=20, kwargs={}))
    (tmp_path / "modb.py").write_text(
        MODULE.format(steps=200, kwargs={"sutton_barto_reward": True})
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for module in ("moda", "modb"):
        sys.modules.pop(module, None)
        MODULE_SPECS.pop((module, "Foo-v0"), None)
    ENV_MODULES.pop("Foo-v0", None)
    gym.registry.pop("Foo-v0", None)


def test_two_modules_registering_one_id_are_two_envs(two_modules):
    save_dir = two_modules / "run"
    trained = a2c("--train", "--env=moda:Foo-v0", *SMALL, f"--save_dir={save_dir}")
    assert trained.returncode == 0, trained.stderr[-3000:]
    model = save_dir / "model_Foo-v0.weights.h5"
    with h5py.File(model) as handle:
        record = json.loads(handle.attrs[METADATA_KEY])
    assert record["env_id"] == "Foo-v0"
    assert record["env"] == {"id": "Foo-v0", "module": "moda"}
    # The command line: --evaluate, play, --resume with the other module's Foo-v0.
    for mode in ("--evaluate", "--episodes=1"):
        other = a2c(mode, "--env=modb:Foo-v0", f"--save_dir={save_dir}")
        assert other.returncode == 2
        assert error_line(other).endswith(
            f"{model} was trained on moda:Foo-v0, not modb:Foo-v0: pass --env=moda:Foo-v0 to "
            "use it, or train a model for modb:Foo-v0"
        )
    resumed = a2c("--train", "--resume", "--env=modb:Foo-v0", f"--save_dir={save_dir}")
    assert resumed.returncode == 2
    assert (
        f"--env=modb:Foo-v0: the run in {save_dir} was trained on moda:Foo-v0, not "
        "modb:Foo-v0, and --resume cannot change its env: pass --env=moda:Foo-v0"
    ) in error_line(resumed)
    # The other algorithm's --resume names the algorithm (not --hidden_units).
    a3c = run("--train", "--resume", "--env=moda:Foo-v0", "--workers=1", f"--save_dir={save_dir}")
    assert a3c.returncode == 2
    assert (
        f"--resume: the run in {save_dir} was trained by A2C, not A3C: resume it with "
        "a2c_cartpole.py"
    ) in error_line(a3c)
    # moda's Foo-v0 named again, after modb's replaced it in gymnasium's registry: its own.
    evaluated = a2c("--evaluate", "--env=moda:Foo-v0", f"--save_dir={save_dir}")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    export = save_dir / "foo.keras"
    exported = a2c(f"--export={export}", "--env=moda:Foo-v0", f"--save_dir={save_dir}")
    assert exported.returncode == 0, exported.stderr[-3000:]
    from_export = a2c(f"--model={export}", "--evaluate", "--env=modb:Foo-v0")
    assert from_export.returncode == 2
    assert f"{export} was trained on moda:Foo-v0, not modb:Foo-v0" in error_line(from_export)
    # The Python API: the module is named by the caller, never taken from the file.
    for path in (model, export):
        with pytest.raises(CheckpointError) as error:
            A2C.load(path, **QUIET)
        assert str(error.value) == (
            f"{path} was trained on moda:Foo-v0, an env the module 'moda' registers, and "
            "loading a file imports nothing it names: pass env='moda:Foo-v0' to load it with "
            "that module's env"
        )
        with pytest.raises(CheckpointError, match="not modb:Foo-v0: pass env='moda:Foo-v0'"):
            A2C.load(path, env="modb:Foo-v0", **QUIET)
    agent = A2C.load(model, env="moda:Foo-v0", **QUIET)
    assert agent.evaluate(episodes=3).returns.max() <= 20  # moda's episodes: 20 steps at most


# A module that must never be imported by loading a file that names it: it leaves a file.
EVIL = """from pathlib import Path

Path({marker!r}).write_text("imported")
"""


def rewrite_weights_record(path, change):
    with h5py.File(path, "a") as handle:
        record = json.loads(handle.attrs[METADATA_KEY])
        change(record)
        handle.attrs[METADATA_KEY] = json.dumps(record)


def rewrite_keras_record(path, change):
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    record = json.loads(entries[KERAS_METADATA_ENTRY])
    change(record)
    entries[KERAS_METADATA_ENTRY] = json.dumps(record).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def naming_evilmod(record):  # a record as this program writes it, naming the module
    record["env"] = {"id": "CartPole-v1", "module": "evilmod"}


def naming_evilmod_in_the_id(record):  # as a file from before the identity was recorded
    record["env_id"] = "evilmod:CartPole-v1"
    del record["env"]


def test_loading_a_file_never_imports_the_module_it_names(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "evilmod.py").write_text(EVIL.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    agent = A2C("CartPole-v1", hidden_units=(8,), **QUIET)
    weights, export = agent.save(tmp_path / "m.weights.h5"), agent.save(tmp_path / "m.keras")
    for change in (naming_evilmod, naming_evilmod_in_the_id):
        rewrite_weights_record(weights, change)
        rewrite_keras_record(export, change)
        for path in (weights, export):
            with pytest.raises(CheckpointError, match="'evilmod' registers, and loading a file"):
                A2C.load(path, **QUIET)
            for mode in ("--evaluate", "--episodes=1", f"--export={tmp_path}/again.keras"):
                result = a2c(mode, f"--model={path}", f"--save_dir={tmp_path}")
                assert result.returncode == 2
                assert error_line(result).endswith(
                    f"{path} was trained on evilmod:CartPole-v1, not CartPole-v1: pass "
                    f"--env=evilmod:CartPole-v1 to use it, or "
                    f"{'train' if path == weights else 'export'} a model for CartPole-v1"
                )
        assert not marker.exists() and "evilmod" not in sys.modules
    # A file from before the env's identity was recorded (its id only) still loads.
    for path, rewrite in ((weights, rewrite_weights_record), (export, rewrite_keras_record)):
        rewrite(path, lambda record: record.update(env_id="CartPole-v1"))
        loaded = A2C.load(path, **QUIET)
        assert loaded.config.env == "CartPole-v1"
        assert a2c("--evaluate", "--eval-episodes=2", f"--model={path}").returncode == 0
    assert not marker.exists()


def test_an_env_object_is_what_it_holds_not_the_id_it_was_made_from(tmp_path):
    narrow, wide, same = (gym.make("CartPole-v1") for _ in range(3))
    narrow.unwrapped.x_threshold = same.unwrapped.x_threshold = 1.0
    wide.unwrapped.x_threshold = 3.0
    plain = A2C(gym.make("CartPole-v1"), hidden_units=(8,), **QUIET)
    first = A2C(narrow, hidden_units=(8,), **QUIET)
    second = A2C(wide, hidden_units=(8,), **QUIET)
    assert plain.config.env == "CartPole-v1"  # nothing changed: the id
    assert first.config.env not in ("CartPole-v1", second.config.env)
    # The second object kept its own registration: the first agent's env is as it was.
    assert make_env(first.config.env).unwrapped.x_threshold == 1.0
    assert make_env(second.config.env).unwrapped.x_threshold == 3.0
    path = first.save(tmp_path / "narrow")
    with pytest.raises(CheckpointError) as error:
        A2C.load(path, env=wide, **QUIET)
    assert str(error.value) == (
        f"{path} was trained on {first.config.env} (an env object: x_threshold=1.0), not "
        f"{second.config.env} (an env object: x_threshold=3.0): pass env= the factory or env "
        f"object it was trained on, or train a model for {second.config.env}"
    )
    with pytest.raises(CheckpointError, match=r"\(an env object\), not CartPole-v1: pass env="):
        A2C.load(path, env="CartPole-v1", **QUIET)
    assert A2C.load(path, env=same, **QUIET).config.env == first.config.env
    assert A2C.load(path, **QUIET).config.env == first.config.env  # registered here
    # Another process: the same object is the same env (the record holds no address).
    script = (
        "import gymnasium as gym\n"
        "from a3c_keras import A2C\n"
        "env = gym.make('CartPole-v1')\n"
        "env.unwrapped.x_threshold = 1.0\n"
        f"print(A2C.load({str(path)!r}, env=env, verbose=0).config.env)\n"
    )
    elsewhere = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environment(), capture_output=True, text=True
    )
    assert elsewhere.returncode == 0, elsewhere.stderr[-3000:]
    assert elsewhere.stdout.split()[-1] == "CartPoleEnv"
    # An env of no spec: its class and the arguments it keeps.
    short = A2C(Corridor(length=5), hidden_units=(8,), **QUIET)
    saved = short.save(tmp_path / "short")
    longer = Corridor(length=6)
    with pytest.raises(CheckpointError, match=r"\(an env object: length=5\), not .* length=6\)"):
        A2C.load(saved, env=longer, **QUIET)
    # An env registered in another process is not made from the file's name: it is passed.
    rewrite_weights_record(saved, lambda record: record["env"].update(id="Gone"))
    rewrite_weights_record(saved, lambda record: record.update(env_id="Gone"))
    with pytest.raises(CheckpointError, match="Gone, an env object this process has not"):
        A2C.load(saved, **QUIET)


def test_an_old_checkpoint_tells_its_algorithm_by_its_settings():
    assert saved_algorithm({"algorithm": "a3c", "num_envs": 8}) == "a3c"
    assert saved_algorithm({"num_envs": 8}) == "a2c"
    assert saved_algorithm({"workers": 2}) == "a3c"
    assert saved_algorithm({}) is None


@pytest.mark.parametrize(
    "env_id, observation, words",
    [
        ("CartPole-v1", [np.nan, 0, 0, 0], "observation has 1 NaN or infinite value(s)"),
        ("Pendulum-v1", [[0, 1, 0], [0, np.inf, -np.inf]], "has 2 NaN or infinite value(s)"),
    ],
)
def test_predict_refuses_nan_and_infinite_observations(env_id, observation, words):
    agent = A2C(env_id, hidden_units=(8,), **QUIET)
    with pytest.raises(ValueError) as error:
        agent.predict(np.array(observation, np.float32))
    assert words in str(error.value) and "\n" not in str(error.value)
    finite = np.nan_to_num(np.array(observation, np.float32), posinf=0, neginf=0)
    actions, _ = agent.predict(finite)
    assert np.isfinite(actions).all()
