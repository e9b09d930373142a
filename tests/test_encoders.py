"""Observation encoders (utils/spaces.py): one per kind of observation space, chosen in one place;
the envs that training, evaluation and play step encode as predict does; the env contract
checks the observations as the env gives them; what is not supported is one line."""

import gymnasium as gym
import numpy as np
import pytest

from tests.custom_envs import GoalCorridor
from utils.env_contract import observation_fault
from utils.envs import env_dims, env_dims_of, make_env, make_vector_env, register_env
from utils.errors import EnvError, EnvFault
from utils.spaces import (
    ENCODERS,
    FlatBox,
    Flattened,
    Image,
    observation_encoder,
    space_signature,
)

DISCRETE, BOX = gym.spaces.Discrete, gym.spaces.Box
PIXELS = BOX(0, 255, (4, 84, 84), np.uint8)


@pytest.mark.parametrize(
    "space, kind, shape",
    [
        (BOX(-1, 1, (4,), np.float32), FlatBox, (4,)),
        (PIXELS, Image, (4, 84, 84)),
        (DISCRETE(5), Flattened, (5,)),
        (gym.spaces.MultiDiscrete([2, 3]), Flattened, (5,)),
        (gym.spaces.MultiBinary((2, 3)), Flattened, (6,)),  # more than one dimension, flattened
        (gym.spaces.Tuple((DISCRETE(32), DISCRETE(11), DISCRETE(2))), Flattened, (45,)),
        (gym.spaces.Dict({"a": DISCRETE(3), "b": BOX(0, 1, (2,))}), Flattened, (5,)),
        (gym.spaces.Dict({"inner": gym.spaces.Tuple((DISCRETE(2), DISCRETE(2)))}), Flattened, (4,)),
    ],
)
def test_each_kind_of_observation_space_has_its_encoder(space, kind, shape):
    encoder = observation_encoder(space)
    assert type(encoder) is kind and encoder.shape == shape
    assert [cls for cls in ENCODERS if cls.accepts(space)][:1] == [kind]  # the first that takes it
    dims = env_dims(space, DISCRETE(2))
    assert dims.obs_shape == shape and dims.observation == (
        kind.kind,
        shape,
        space_signature(space),
    )


def test_gymnasium_encodes_discrete_parts_one_hot_in_the_spaces_order():
    space = gym.spaces.Dict(
        {
            "cell": DISCRETE(4, start=1),
            "keys": gym.spaces.MultiDiscrete([2, 3]),
            "flags": gym.spaces.MultiBinary(2),
            "speed": BOX(-5, 5, (1,), np.float32),
        }
    )
    observation = {
        "cell": 3,
        "keys": np.array([1, 0]),
        "flags": np.array([1, 0], np.int8),
        "speed": np.array([-2.5], np.float32),
    }
    encoded, single = observation_encoder(space).batch(observation)
    assert single and encoded.dtype == np.float32
    # The Dict's order is its keys' (gymnasium sorts them): cell (3 of 1..4), flags, keys (1
    # of 2, 0 of 3), speed as it is.
    expected = [0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, -2.5]
    np.testing.assert_array_equal(encoded, [expected])


def test_training_evaluation_and_predict_see_the_same_encoded_observations():
    env_id = register_env(GoalCorridor)
    encoder = observation_encoder(GoalCorridor().observation_space)
    raw = gym.make_vec(env_id, 3, vectorization_mode="sync")  # the env's own observations
    encoded = make_vector_env(env_id, 3)  # what training and evaluation step
    assert encoded.single_observation_space.shape == (8,)
    assert env_dims_of(encoded) == env_dims(raw.single_observation_space, raw.single_action_space)
    single = make_env(env_id)  # what play steps
    try:
        mine, _ = raw.reset(seed=4)
        theirs, _ = encoded.reset(seed=4)
        one, _ = single.reset(seed=4)
        rng = np.random.default_rng(0)
        for _ in range(12):
            batch, was_single = encoder.batch(mine)
            assert not was_single
            np.testing.assert_array_equal(batch, np.asarray(theirs, np.float32))
            np.testing.assert_array_equal(batch[0], np.asarray(one, np.float32))
            actions = rng.integers(0, 2, 3)
            mine = raw.step(actions)[0]
            theirs = encoded.step(actions)[0]
            one, _, terminated, truncated, _ = single.step(actions[0])
            if terminated or truncated:  # all three start again alike
                mine, theirs = raw.reset(seed=9)[0], encoded.reset(seed=9)[0]
                one = single.reset(seed=9)[0]
    finally:
        raw.close(), encoded.close(), single.close()


@pytest.mark.parametrize(
    "observation, message",
    [
        ({"goal": 5, "position": 2, "time": np.zeros(1, np.float32)}, "['goal'] of value 5;"),
        ({"goal": 1}, "with the keys ['goal']; its observation space has the keys"),
        ({"goal": np.array([1, 0]), "position": np.array([2, 3]), "time": np.zeros((3, 1))}, "3"),
        (np.zeros(8, np.float32), "of type ndarray; its observation space is a Dict"),
    ],
)
def test_predict_refuses_observations_not_of_the_space_in_one_line(observation, message):
    encoder = observation_encoder(GoalCorridor().observation_space)
    with pytest.raises(ValueError) as error:
        encoder.batch(observation)
    text = str(error.value)
    assert "\n" not in text and text.startswith("predict got ") and message in text
    assert "give one observation of Dict(" in text


class BadCorridor(GoalCorridor):
    """A GoalCorridor whose third step says a goal outside its space."""

    def step(self, action):
        observation, reward, terminated, truncated, info = super().step(action)
        if self.steps == 3:
            observation["goal"] = 2
        return observation, reward, terminated, truncated, info


def test_the_env_contract_checks_observations_as_the_env_gives_them():
    env_id = register_env(lambda: BadCorridor(max_steps=50), "BadCorridor-v0")
    for make in (lambda: make_env(env_id), lambda: make_vector_env(env_id, 2)):
        env = make()
        env.reset(seed=0)
        steps = [0, 1, 0] if not hasattr(env, "num_envs") else [[0, 0], [1, 1], [0, 0]]
        with pytest.raises(EnvFault) as error:
            for action in steps:
                env.step(np.asarray(action))
        env.close()
        text = str(error.value)
        assert "\n" not in text
        assert "BadCorridor-v0's step() returned an observation['goal'] of value" in text
        assert "its observation space['goal'] is Discrete(2)" in text


def test_observation_faults_name_the_part_and_what_was_wrong():
    space = gym.spaces.Tuple((DISCRETE(3), gym.spaces.MultiBinary(2), BOX(0, 1, (2,))))
    assert observation_fault(space, (2, np.array([0, 1]), np.zeros(2)), None) is None
    batch = (np.array([0, 2]), np.array([[0, 1], [1, 1]]), np.zeros((2, 2)))
    assert observation_fault(space, batch, 2) is None
    assert "[1] of value [0, 2]" in observation_fault(
        space, (2, np.array([0, 2]), np.zeros(2)), None
    )
    nan = (1, np.array([0, 1]), np.array([np.nan, 0.0]))
    assert "[2] with 1 NaN or infinite value(s)" in observation_fault(space, nan, None)
    assert "that is a tuple of 2; its observation space is a Tuple of 3" in observation_fault(
        space, (1, np.array([0, 1])), None
    )
    assert "of shape () and dtype float64" in observation_fault(DISCRETE(3), 1.0, None)


@pytest.mark.parametrize(
    "space, what",
    [
        (gym.spaces.Dict({"frame": PIXELS}), "an image at ['frame'] (images only as the whole"),
        (gym.spaces.Tuple((DISCRETE(2), gym.spaces.Text(5))), "a Text space at [1]"),
        (gym.spaces.Graph(BOX(0, 1, (2,)), DISCRETE(2)), "a Graph space"),
        (gym.spaces.MultiDiscrete([[2, 2], [3, 3]]), None),  # flattened: supported
    ],
)
def test_what_is_not_supported_is_one_line_naming_what_is(space, what):
    if what is None:
        assert type(observation_encoder(space)) is Flattened
        return
    with pytest.raises(EnvError) as error:
        observation_encoder(space, "Mine-v0")
    text = str(error.value)
    assert "\n" not in text and text.startswith("Mine-v0 has observation space")
    assert f"({what}" in text and "is not supported); supported: flat (1-D) Box" in text
