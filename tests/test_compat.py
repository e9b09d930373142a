"""Stable-Baselines3's words in the Python API (a3c_keras/compat.py): policy names, SB3's
hyperparameter names and policy_kwargs, every bad keyword in one line, errors naming the
keywords the caller wrote."""

import pytest

from a3c_keras import A2C, A3C
from a3c_keras.compat import as_keywords
from utils.errors import ConfigError, UsageError


def test_sb3_names_and_policy_kwargs_give_this_projects_settings():
    agent = A2C(
        "MlpPolicy",
        "CartPole-v1",
        learning_rate=1e-3,
        n_steps=5,
        gamma=0.98,
        gae_lambda=0.95,
        ent_coef=0.01,
        vf_coef=0.25,
        max_grad_norm=0.5,
        use_rms_prop=True,
        normalize_advantage=False,
        seed=3,
        verbose=0,
        device="cpu",
        policy_kwargs=dict(net_arch=[64, 64], activation_fn="tanh", ortho_init=True),
    )
    config = agent.config
    assert (config.lr, config.update_freq, config.gamma, config.gae_lambda) == (1e-3, 5, 0.98, 0.95)
    assert (config.entropy_coef, config.value_coef, config.max_grad_norm) == (0.01, 0.25, 0.5)
    assert config.optimizer == "rmsprop_torch" and config.seed == 3
    # SB3's net_arch is a policy network and a value network of those widths.
    assert config.hidden_units == (64, 64) and config.separate_value_trunk
    assert config.activation == "tanh" and config.weight_init == "orthogonal"
    assert agent.save_dir is None and agent.policy == "MlpPolicy"


def test_activation_functions_of_keras_and_pytorch_are_read_by_name():
    import keras

    class Tanh:  # what torch.nn.Tanh is to this code: a class of that name
        pass

    for activation_fn, expected in ((keras.activations.relu, "relu"), (Tanh, "tanh")):
        agent = A2C("CartPole-v1", verbose=0, policy_kwargs={"activation_fn": activation_fn})
        assert agent.config.activation == expected


def test_policy_names_choose_the_architecture_and_must_fit_the_observations():
    assert A2C("MlpLstmPolicy", "CartPole-v1", verbose=0).config.recurrent
    assert not A2C("MultiInputPolicy", "CartPole-v1", verbose=0).config.recurrent
    with pytest.raises(ConfigError, match="observations are not images; use MlpPolicy"):
        A2C("CnnPolicy", "CartPole-v1")
    with pytest.raises(ConfigError, match="one of MlpPolicy, MultiInputPolicy, CnnPolicy"):
        A2C("TransformerPolicy", "CartPole-v1")
    with pytest.raises(ConfigError, match="give the env too"):
        A2C("MlpPolicy")
    with pytest.raises(ConfigError, match="is recurrent; give one of them"):
        A2C("MlpLstmPolicy", "CartPole-v1", recurrent=False)


def test_every_bad_keyword_is_named_at_once_with_the_right_hint():
    with pytest.raises(ConfigError) as caught:
        A2C("CartPole-v1", lerning_rate=1e-3, policy_kwarg={}, workers=2, n_envs=4, foo=1)
    message = str(caught.value)
    assert "\n" not in message
    assert "lerning_rate: not a keyword of A2C (did you mean learning_rate?)" in message
    assert "policy_kwarg: not a keyword of A2C (did you mean policy_kwargs?)" in message
    assert "workers is A3C's setting; A2C has num_envs" in message
    assert "n_envs: not a keyword of A2C (did you mean num_envs?)" in message
    assert "foo: not a keyword of A2C" in message and "foo: not a keyword of A2C (" not in message
    with pytest.raises(ConfigError, match="num_envs is A2C's setting; A3C has workers"):
        A3C(num_envs=4)
    with pytest.raises(ConfigError, match="lr and learning_rate both give lr: give one"):
        A2C(lr=1e-3, learning_rate=1e-3)
    with pytest.raises(ConfigError, match="normalize_advantage=True: advantages are not normal"):
        A2C(normalize_advantage=True)
    with pytest.raises(ConfigError, match=r"policy_kwargs\['net_arch'\].*same widths"):
        A2C(policy_kwargs=dict(net_arch=dict(pi=[64], vf=[32])))
    with pytest.raises(ConfigError, match=r"policy_kwargs\['features_extractor_class'\]: not"):
        A2C(policy_kwargs=dict(features_extractor_class=object))


def test_errors_from_python_name_the_keywords_written_not_the_flags():
    with pytest.raises(ConfigError) as caught:
        A2C(gamma=1.5)
    assert str(caught.value).startswith("gamma=1.5: ") and "--" not in str(caught.value)
    with pytest.raises(ConfigError, match=r"^learning_rate=-1(\.0)?: must be > 0"):
        A2C(learning_rate=-1)
    with pytest.raises(ConfigError, match=r"^policy='MlpLstmPolicy' and separate_value_trunk"):
        A2C("MlpLstmPolicy", "CartPole-v1", separate_value_trunk=True)
    lstm = A2C("MlpLstmPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=[32]), verbose=0)
    assert lstm.config.hidden_units == (32,) and not lstm.config.separate_value_trunk
    agent = A2C("CartPole-v1", verbose=0)
    with pytest.raises(UsageError) as caught:
        agent.learn(total_timesteps=3)
    assert "total_timesteps=3" in str(caught.value) and "--max_steps" not in str(caught.value)
    with pytest.raises(ConfigError, match="resume=True: give the run's save_dir too"):
        A2C(resume=True)


def test_flags_not_of_the_api_stay_in_messages():
    written, known = {"lr": "learning_rate"}, {"lr", "gamma"}
    message = "flag --lr=2: see --helpshort; flags --gamma and --lr clash"
    assert as_keywords(message, written, known) == (
        "learning_rate=2: see --helpshort; gamma and learning_rate clash"
    )
