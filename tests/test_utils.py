"""Atomic files, env checks and flag spellings."""

import pytest

from cli.flags import normalize_flag_names
from utils.envs import EnvError, make_env
from utils.files import atomic_write


def test_atomic_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "model.weights.h5"
    path.write_text("old")
    atomic_write(path, lambda temporary: open(temporary, "w").write("new"))
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["model.weights.h5"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "model.weights.h5"
    path.write_text("old")

    def crash(temporary):
        open(temporary, "w").write("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, crash)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.weights.h5"]


def test_the_temporary_file_keeps_the_keras_suffix(tmp_path):
    seen = []
    atomic_write(
        tmp_path / "m.weights.h5",
        lambda temporary: seen.append(temporary) or open(temporary, "w").close(),
    )
    assert seen[0].endswith(".weights.h5") and seen[0] != str(tmp_path / "m.weights.h5")


def test_unknown_env_ids_get_suggestions():
    with pytest.raises(EnvError, match="unknown env id 'CartPol-v1'; did you mean CartPole-v1"):
        make_env("CartPol-v1")


@pytest.mark.parametrize(
    "env_id, message",
    [("Pendulum-v1", "only Discrete action spaces"), ("FrozenLake-v1", "only flat \\(1-D\\) Box")],
)
def test_unsupported_spaces_are_named(env_id, message):
    with pytest.raises(EnvError, match=message):
        make_env(env_id)


def test_dashed_flag_names_become_underscored():
    names = {"max_eps", "update_freq", "jit_compile", "lr"}
    argv = [
        "prog",
        "--max-eps=4",
        "--update-freq",
        "5",
        "--nojit-compile",
        "--lr=1e-3",
        "--un-known=1",
        "--",
        "--max-eps=9",
    ]
    assert normalize_flag_names(argv, names) == [
        "prog",
        "--max_eps=4",
        "--update_freq",
        "5",
        "--nojit_compile",
        "--lr=1e-3",
        "--un-known=1",
        "--",
        "--max-eps=9",
    ]
