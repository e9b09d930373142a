"""The structure the design card asks for: one run loop whose best-model rule holds for every
algorithm, layers that import downwards only, settings written once and checked the same way
from Python and from the command line."""

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest

import training.trainer
from agents.a2c import A2CAgent
from agents.a3c import MasterAgent
from config.hyperparameters import A2CConfig, A3CConfig
from models import ActorCriticModel
from tests.programs import error_line, run
from training.evaluation import EvalResult
from training.trainer import Trainer
from utils.checkpoint import load_weights
from utils.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.parametrize(
    "algorithm, config",
    [
        (MasterAgent, A3CConfig(max_eps=0, max_steps=4000, workers=2, update_freq=5)),
        (A2CAgent, A2CConfig(max_steps=4000, num_envs=4)),
    ],
)
def test_the_saved_model_is_the_one_that_evaluated_best(tmp_path, monkeypatch, algorithm, config):
    # Scripted evaluations: the second scores best. The saved weights must be the ones it saw,
    # not the final ones and not those of the best training mean(100).
    scores = iter([100.0, 300.0])
    seen = []

    def scripted_evaluate(model, env, episodes, seed, policy):
        seen.append(model.get_weights())
        return EvalResult(np.full(episodes, next(scores, 200.0)), 475.0)

    monkeypatch.setattr(training.trainer, "evaluate", scripted_evaluate)
    config = dataclasses.replace(config, eval_interval=1000, eval_episodes=2)
    agent = algorithm(config)
    trainer = Trainer(agent, tmp_path)
    trainer.train()
    assert len(seen) >= 4  # three during training, one of the final model
    saved = ActorCriticModel(2).build_for(4)
    load_weights(saved, trainer.save_path, "CartPole-v1")
    for mine, best in zip(saved.get_weights(), seen[1], strict=True):
        np.testing.assert_array_equal(mine, best)
    final = agent.model.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(saved.get_weights(), final, strict=True))
    assert float(trainer.best_evaluation.numpy()) == 300.0


PACKAGES = ("utils", "config", "models", "agents", "training", "a3c_keras", "cli")
ENTRY_POINTS = ("a3c_cartpole", "a2c_cartpole")


def module_files() -> dict[str, Path]:
    """Every module of ours by dotted name: the packages' files and the two entry points."""
    modules = {name: ROOT / f"{name}.py" for name in ENTRY_POINTS}
    for package in PACKAGES:
        for path in (ROOT / package).glob("*.py"):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            modules[name] = path
    return modules


def imports(path: Path) -> set[str]:
    """What ``path`` imports anywhere in it (functions included): ``import a.b`` is ``a.b``,
    ``from a.b import c`` both ``a.b`` and ``a.b.c``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def imported_modules(path: Path, modules: dict) -> set[str]:
    """The modules of ours that ``path`` imports anywhere in it (functions included):
    ``from a.b import c`` is ``a.b.c`` where that is a module, else ``a.b``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                inner = f"{node.module}.{alias.name}"
                found.add(inner if inner in modules else node.module)
    return found & set(modules)


def test_no_two_modules_import_each_other_even_through_others():
    modules = module_files()
    graph = {name: imported_modules(path, modules) for name, path in modules.items()}
    # An editor can follow: an entry point -> its API class -> its algorithm.
    assert "a3c_keras" in graph["a3c_cartpole"] and "a3c_keras" in graph["a2c_cartpole"]
    assert graph["a3c_keras.agent"] >= {"agents.a3c", "agents.a3c_ray", "agents.a2c"}

    def cycle_from(start: str) -> list[str] | None:
        stack, path = [(start, iter(sorted(graph[start])))], [start]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
            elif child == start:
                return [*path, start]
            elif child not in path:
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
        return None

    cycles = [cycle for name in sorted(graph) if (cycle := cycle_from(name))]
    assert not cycles, " -> ".join(cycles[0])


@pytest.mark.parametrize(
    "package, allowed",
    [
        ("utils", {"utils"}),
        ("config", {"config", "utils"}),
        ("models", {"models", "utils"}),
        ("agents", {"agents", "models", "config", "utils"}),
        ("training", {"training", "agents", "models", "config", "utils"}),
        ("a3c_keras", {"a3c_keras", "training", "agents", "models", "config", "utils"}),
        ("cli", set(PACKAGES)),
    ],
)
def test_layers_import_downwards_only(package, allowed):
    modules = module_files()
    for name, path in modules.items():
        if name.split(".")[0] == package:
            imported = {module.split(".")[0] for module in imported_modules(path, modules)}
            assert imported <= allowed, (name, imported - allowed)


def test_every_exception_class_lives_in_one_module():
    defined = {}
    for name, path in module_files().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                getattr(base, "id", "").endswith(("Error", "Exception"))
                or getattr(base, "id", "") in {"Exception", "InputError"}
                for base in node.bases
            ):
                defined.setdefault(name, []).append(node.name)
    assert set(defined) == {"utils.errors"}, defined


def test_only_the_command_line_reads_flags():
    # Modules that import absl's flags: the command line's only.
    readers = [
        f"{package}.{path.stem}"
        for package in PACKAGES
        for path in (ROOT / package).glob("*.py")
        if "absl.flags" in imports(path)
    ]
    assert readers and all(name.startswith("cli.") for name in readers), readers


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("lr", -1.0, "flag --lr=-1.0: must be > 0"),
        ("gamma", 0.0, "flag --gamma=0.0: must be in (0, 1]"),
        ("gae_lambda", 2.0, "flag --gae_lambda=2.0: must be in [0, 1]"),
        ("hidden_units", (64, 0), "flag --hidden_units=64,0: must be >= 1"),
        ("num_envs", 0, "flag --num_envs=0: must be >= 1"),
        ("vector_mode", "fast", "flag --vector_mode=fast: must be one of auto, native, sync"),
    ],
)
def test_a_bad_setting_fails_alike_in_python_and_on_the_command_line(
    tmp_path, field, value, message
):
    with pytest.raises(ConfigError) as raised:
        A2CConfig(**{field: value})
    assert message in str(raised.value)
    flag = ",".join(map(str, value)) if isinstance(value, tuple) else value
    result = run(
        "--train", f"--{field}={flag}", f"--save_dir={tmp_path}/x", program="a2c_cartpole.py"
    )
    assert result.returncode == 2
    assert error_line(result).endswith(str(raised.value))
    assert not (tmp_path / "x").exists()


def test_settings_are_typed():
    assert A3CConfig(lr=1).lr == 1.0 and isinstance(A3CConfig(lr=1).lr, float)
    with pytest.raises(ConfigError, match="flag --update_freq=2.5: must be an integer"):
        A3CConfig(update_freq=2.5)
    with pytest.raises(ConfigError, match="flag --lr=nan: must be a finite number"):
        A3CConfig(lr=float("nan"))


def test_every_setting_is_a_flag_with_its_help_and_the_defaults_of_its_program():
    helps = {}
    for program in ("a3c_cartpole.py", "a2c_cartpole.py"):
        result = run("--helpshort", program=program, process=True)  # help reads __main__'s flags
        helps[program] = result.stdout + result.stderr
    for program, config in (("a3c_cartpole.py", A3CConfig()), ("a2c_cartpole.py", A2CConfig())):
        for field in dataclasses.fields(config):
            assert f"--{field.name}" in helps[program] or f"--[no]{field.name}" in helps[program]
    assert "default: '0.003'" in helps["a2c_cartpole.py"]  # A2C's own learning rate
    assert "default: '0.001'" in helps["a3c_cartpole.py"]


@pytest.mark.slow
@pytest.mark.parametrize("program", ["a3c_cartpole.py", "a2c_cartpole.py"])
def test_max_eps_and_max_steps_mean_the_same_in_both_scripts(tmp_path, program):
    trained = run(
        "--train",
        "--max-eps=30",
        "--max-steps=0",
        "--eval-interval=0",
        "--eval-episodes=2",
        f"--save_dir={tmp_path}",
        program=program,
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "trained 30 episodes" in trained.stdout
    baseline = run("--algorithm=random", "--max-eps=0", "--max-steps=300", program=program)
    episodes = int(baseline.stdout.split(" over ")[1].split()[0])
    assert 5 < episodes < 30  # about 22 steps an episode: the step budget ended it
