"""Atomic files, env checks and flag spellings."""

import logging
import signal

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

from cli.flags import normalize_flag_names
from training.episode_log import EpisodeLog
from training.state import TrainingState
from utils.envs import action_clipper, check_spaces, env_dims, make_env
from utils.errors import EnvError
from utils.files import atomic_write
from utils.interrupts import signals_deferred
from utils.logs import OWN_NAMES, ROOT, OwnInformation


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


PIXELS = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)


@pytest.mark.parametrize(
    "observation_space, what",
    [
        (gym.spaces.Dict({"frame": PIXELS, "speed": gym.spaces.Discrete(3)}), "an image at"),
        (gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.Box(0, 1, (2, 2)))), "a Box of"),
        (gym.spaces.Text(8), "a Text space"),
        (gym.spaces.Dict({"a": gym.spaces.Sequence(gym.spaces.Discrete(2))}), "a Sequence"),
        (gym.spaces.Box(0, 1, (5, 5)), "a Box of shape (5, 5)"),
        (gym.spaces.Dict({}), "no numbers"),
    ],
)
def test_an_unsupported_observation_space_is_named(observation_space, what):
    with pytest.raises(EnvError) as error:
        check_spaces(observation_space, gym.spaces.Discrete(2), "Custom-v0")
    message = str(error.value)
    assert "\n" not in message and message.startswith("Custom-v0 has observation space")
    assert what in message and "is not supported" in message
    assert "supported: flat (1-D) Box (a dense trunk) and uint8 images" in message
    assert "Discrete, MultiDiscrete and MultiBinary, and Dict and Tuple of these" in message


@pytest.mark.parametrize(
    "action_space",
    [
        gym.spaces.MultiDiscrete([[2, 3], [2, 2]]),
        gym.spaces.MultiBinary((2, 2)),
        gym.spaces.Dict({"a": gym.spaces.Discrete(2)}),
        gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.Discrete(3))),
        gym.spaces.Box(-1, 1, (2, 2)),
        gym.spaces.Box(-1, 1, (0,)),
    ],
)
def test_unsupported_action_spaces_get_one_line_naming_the_supported_ones(action_space):
    observations = gym.spaces.Box(-1, 1, (3,))
    with pytest.raises(EnvError) as error:
        check_spaces(observations, action_space, "Custom-v0")
    message = str(error.value)
    assert "\n" not in message and message.startswith("Custom-v0 has action space")
    assert (
        "supported: Discrete (a categorical policy), flat (1-D) Box (a Gaussian policy), "
        "one-dimensional MultiDiscrete (independent categoricals) and MultiBinary" in message
    )


def test_box_actions_are_clipped_to_finite_bounds_only_and_infinite_ones_are_said(caplog):
    low, high = np.array([-2.0, 0.0], np.float32), np.array([2.0, 1.0], np.float32)
    bounded = action_clipper(gym.spaces.Box(low, high))
    np.testing.assert_array_equal(bounded(np.array([[-3.0, 0.5], [1.0, 7.0]])), [[-2, 0.5], [1, 1]])
    with caplog.at_level(logging.WARNING):
        unbounded = action_clipper(gym.spaces.Box(-np.inf, np.inf, (2,)), "Free-v0")
        action_clipper(gym.spaces.Box(-np.inf, np.inf, (2,)), "Free-v0")  # said once
    np.testing.assert_array_equal(unbounded(np.array([1e9, -1e9])), [1e9, -1e9])
    assert "Free-v0's action space" in caplog.text and "unclipped" in caplog.text
    assert caplog.text.count("Free-v0's action space") == 1
    discrete = action_clipper(gym.spaces.Discrete(3))
    np.testing.assert_array_equal(discrete(np.array([0, 2])), [0, 2])


def test_env_dims_say_the_kind_of_actions():
    pendulum = make_env("Pendulum-v1")
    dims = env_dims(pendulum.observation_space, pendulum.action_space)
    assert dims[:4] == (3, 1, True, ()) and dims.action == ("Box", (1,))
    cartpole = make_env("CartPole-v1")
    dims = env_dims(cartpole.observation_space, cartpole.action_space)
    assert dims[:4] == (4, 2, False, ()) and dims.action == ("Discrete", (2,))


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


def test_a_first_ctrl_c_waits_for_the_end_of_a_deferred_block():
    with pytest.raises(KeyboardInterrupt):
        with signals_deferred():
            signal.raise_signal(signal.SIGINT)
            finished = True  # not cut in half
    assert finished
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):  # a second one goes through at once
        with signals_deferred():
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
            pytest.fail("the second Ctrl-C was held")


def test_a_checkpoint_being_written_is_not_cut_by_ctrl_c(tmp_path, monkeypatch):
    """A Ctrl-C while a checkpoint is written waits for it: the checkpoint is whole, no
    temporary directory is left, and the KeyboardInterrupt comes after."""
    state = TrainingState(tmp_path, "CartPole-v1", EpisodeLog(), counter=tf.Variable(1.0))
    save = state.manager.save

    def save_with_a_ctrl_c_in_the_middle():
        signal.raise_signal(signal.SIGINT)
        return save()

    monkeypatch.setattr(state.manager, "save", save_with_a_ctrl_c_in_the_middle)
    with pytest.raises(KeyboardInterrupt):
        state.save()
    assert (tmp_path / "checkpoints_CartPole-v1" / "ckpt-1.index").is_file()
    assert not list((tmp_path / "checkpoints_CartPole-v1").glob("*_temp*"))


@pytest.mark.parametrize(
    "pathname, shown",
    [
        (ROOT / "training" / "trainer.py", True),
        (ROOT / "a2c_cartpole.py", True),
        # TensorFlow's "Sharding callback duration" (absl, INFO, at every checkpoint save) from
        # a virtual environment inside the clone, from libraries beside the packages installed
        # in site-packages, and from a folder whose name starts with the clone's.
        (ROOT / ".venv/lib/python3.11/site-packages/tensorflow/python/checkpoint/x.py", False),
        (ROOT / "tensorflow" / "python" / "checkpoint" / "functional_saver.py", False),
        (f"{ROOT}-venv/lib/python3.11/site-packages/absl/logging/__init__.py", False),
    ],
)
def test_only_our_information_is_shown_wherever_the_libraries_are_installed(pathname, shown):
    record = logging.LogRecord("absl", logging.INFO, str(pathname), 1, "a line", None, None)
    assert OwnInformation().filter(record) is shown
    record.levelno = logging.WARNING
    assert OwnInformation().filter(record)


def test_every_package_and_entry_point_of_ours_is_shown():
    ours = {path.parent.name for path in ROOT.glob("*/__init__.py")} | {
        path.name for path in ROOT.glob("*.py")
    }
    assert ours <= OWN_NAMES, ours - OWN_NAMES
