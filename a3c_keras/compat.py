"""Stable-Baselines3's words, read as this project's: the policy argument (``"MlpPolicy"``, ...),
SB3's hyperparameter names (``learning_rate``, ``n_steps``, ...), ``policy_kwargs``, and errors
that name the keywords a Python caller wrote rather than the command line's flags.

The table of what maps to what is docs/API.md's "Coming from Stable-Baselines3". Everything
here is checked before any work: every unknown or contradicting keyword of one call is named in
one ``ConfigError`` line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import re
from typing import Any

from config.hyperparameters import A2CConfig, A3CConfig
from utils.errors import ConfigError, InputError

# SB3's policy names: (recurrent, the observations they are for). An MLP or multi-input policy
# takes any observation but images (the model encodes each space as utils/spaces.py says); a
# CNN policy, images.
POLICIES = {
    "MlpPolicy": (False, "vectors"),
    "MultiInputPolicy": (False, "vectors"),
    "CnnPolicy": (False, "images"),
    "MlpLstmPolicy": (True, "vectors"),
    "CnnLstmPolicy": (True, "images"),
}

# SB3's names of settings that have another name here.
ALIASES = {
    "learning_rate": "lr",
    "n_steps": "update_freq",
    "ent_coef": "entropy_coef",
    "vf_coef": "value_coef",
}
# Names that are no setting here, with what to use instead (the hint of an unknown keyword).
HINTS = {
    "n_envs": "num_envs",
    "total_timesteps": "learn(total_timesteps)",
    "rollout_buffer_class": "none: the rollout is agents/memory.py's Memory",
    "create_eval_env": "evaluate_policy(model, env)",
}
# policy_kwargs keys and the settings they give.
POLICY_KWARGS = ("net_arch", "activation_fn", "ortho_init", "log_std_init", "lstm_hidden_size")
# The constructor's own keywords besides the settings.
AGENT_KEYWORDS = ("env_name", "save_dir", "preset", "resume", "overwrite", "verbose")


def split_policy(policy: Any, env: Any) -> tuple[str | None, Any]:
    """``(policy name or None, env)`` from the constructor's first two arguments:
    ``A2C("MlpPolicy", "CartPole-v1")`` as in SB3, or ``A2C("CartPole-v1")`` and
    ``A2C(env=...)`` with the policy left out (the env's observations choose the model).

    Raises:
        ConfigError: a policy name with no env, an unknown policy name, or two envs.
    """
    if isinstance(policy, str) and (policy in POLICIES or policy.endswith("Policy")):
        if policy not in POLICIES:
            raise ConfigError(f"policy={policy!r}: not a policy here; one of {', '.join(POLICIES)}")
        if env is None:
            raise ConfigError(f"{policy}: give the env too, as A2C({policy!r}, 'CartPole-v1')")
        return policy, env
    if policy is not None and env is not None:
        raise ConfigError(
            f"policy={policy!r:.60} and env={env!r:.60}: the first argument is a policy name "
            f"({', '.join(POLICIES)}) or the env, not both"
        )
    return None, env if env is not None else policy


def policy_settings(policy: str | None) -> dict:
    """The settings a policy name gives: ``recurrent`` for the LSTM policies."""
    return {} if policy is None else {"recurrent": POLICIES[policy][0]}


def check_policy(policy: str | None, images: bool, env_id: str) -> None:
    """Raises ``ConfigError`` where the policy is not for the env's observations (a CNN policy
    on vectors, an MLP one on images)."""
    if policy is None or (POLICIES[policy][1] == "images") == images:
        return
    kind = "images" if images else "not images"
    other = [
        name
        for name, (recurrent, observations) in POLICIES.items()
        if recurrent == POLICIES[policy][0] and (observations == "images") == images
    ]
    raise ConfigError(f"policy={policy!r}: {env_id}'s observations are {kind}; use {other[0]}")


def sb3_settings(config_class: type, keywords: dict) -> tuple[dict, dict]:
    """The constructor's ``**settings`` in this project's names.

    Args:
        config_class: ``A2CConfig`` or ``A3CConfig``.
        keywords: the keywords given (SB3's names, this project's, ``policy_kwargs``).

    Returns:
        ``(settings, written)``: the settings by their names here, and for each setting the
        keyword the caller wrote for it (for the messages).

    Raises:
        ConfigError: every unknown keyword (with the name to use where there is one), two
            keywords for one setting, and SB3 values that mean something not done here, in
            one line.
    """
    fields = [field.name for field in dataclasses.fields(config_class)]
    settings, written, problems = {}, {}, []

    def give(name: str, value: Any, keyword: str) -> None:
        if name in settings:
            problems.append(f"{written[name]} and {keyword} both give {name}: give one")
            return
        settings[name], written[name] = value, keyword

    for keyword, value in keywords.items():
        if keyword == "policy_kwargs":
            for name, (setting, given) in policy_kwargs_settings(value, problems).items():
                give(name, setting, f"policy_kwargs[{given!r}]")
        elif keyword in ALIASES:
            give(ALIASES[keyword], value, keyword)
        elif keyword == "use_rms_prop":
            if not isinstance(value, bool):
                problems.append(f"use_rms_prop={value!r}: must be True or False")
            else:  # SB3's RMSprop is PyTorch's: alpha 0.99, eps 1e-5 outside the square root
                give("optimizer", "rmsprop_torch" if value else "adam", keyword)
        elif keyword == "normalize_advantage":
            if value is not False:
                problems.append(
                    f"normalize_advantage={value!r}: advantages are not normalised here (as "
                    "in the A3C paper, and SB3's A2C by default): leave it out or False"
                )
        elif keyword == "rms_prop_eps":
            if value != 1e-5:
                problems.append(
                    f"rms_prop_eps={value!r}: RMSprop's epsilon is 1e-5 here (SB3's default)"
                )
        elif keyword == "stats_window_size":
            if value != 100:
                problems.append(
                    f"stats_window_size={value!r}: the mean of the last 100 episodes is reported"
                )
        elif keyword == "device":
            if value not in ("auto", "cpu"):
                problems.append(
                    f"device={value!r}: TensorFlow places the model itself ('auto'); to keep "
                    "it off a GPU, start Python with CUDA_VISIBLE_DEVICES=''"
                )
        elif keyword == "seed" and value is None:
            continue  # SB3's "no seed": the default here
        elif keyword == "sde_sample_freq" and value == -1:
            give("sde_sample_freq", 0, keyword)  # SB3's -1: only at each rollout's start
        elif keyword in fields and keyword != "env":
            give(keyword, value, keyword)
        else:
            problems.append(unknown(keyword, config_class, fields))
    if problems:
        raise ConfigError(f"{config_class.__name__[:-6]}: " + "; ".join(problems))
    return settings, written


def unknown(keyword: str, config_class: type, fields: list[str]) -> str:
    """What to say of a keyword that is no setting: the name to use, if there is one."""
    if keyword == "env":
        return "env is the first argument (or the second, after a policy name), not a setting"
    name = config_class.__name__[:-6]
    others = {
        "A2C": ("A3C", A3CConfig, "num_envs"),
        "A3C": ("A2C", A2CConfig, "workers and envs_per_worker"),
    }
    if name in others:
        other, other_class, instead = others[name]
        if keyword in {field.name for field in dataclasses.fields(other_class)}:
            return f"{keyword} is {other}'s setting; {name} has {instead}"
    hint = HINTS.get(keyword)
    if hint is None:
        names = [*fields, *ALIASES, "policy_kwargs", *AGENT_KEYWORDS]
        close = difflib.get_close_matches(keyword, [n for n in names if n != "env"], 1, 0.75)
        hint = close[0] if close else None
    return f"{keyword}: not a keyword of {name}" + (f" (did you mean {hint}?)" if hint else "")


def policy_kwargs_settings(policy_kwargs: Any, problems: list) -> dict:
    """``{setting: (value, policy_kwargs key)}`` from SB3's ``policy_kwargs``: ``net_arch``
    (a list of widths, or ``dict(pi=..., vf=...)`` of equal ones: SB3's separate policy and
    value networks, so ``separate_value_trunk``), ``activation_fn`` (``"tanh"``, Keras's
    ``keras.activations.tanh``, PyTorch's ``nn.Tanh``: by name), ``ortho_init``,
    ``log_std_init``, ``lstm_hidden_size``. Problems are appended to ``problems``."""
    if policy_kwargs is None:
        return {}
    if not isinstance(policy_kwargs, dict):
        problems.append(f"policy_kwargs={policy_kwargs!r:.60}: must be a dict")
        return {}
    settings = {}
    for key, value in policy_kwargs.items():
        if key == "net_arch":
            widths = value
            if isinstance(value, dict):
                pi, vf = value.get("pi"), value.get("vf")
                if set(value) != {"pi", "vf"} or list(pi or []) != list(vf or []):
                    problems.append(
                        f"policy_kwargs['net_arch']={value!r}: the policy and value networks "
                        "have the same widths here: dict(pi=W, vf=W) or a list W"
                    )
                    continue
                widths = pi
            if not isinstance(widths, list | tuple) or not all(
                isinstance(w, int) and not isinstance(w, bool) for w in widths
            ):
                problems.append(
                    f"policy_kwargs['net_arch']={value!r:.60}: a list of layer widths, such "
                    "as [64, 64]"
                )
                continue
            settings["hidden_units"] = (tuple(widths), key)
            settings["separate_value_trunk"] = (True, key)
        elif key == "activation_fn":
            name = getattr(value, "__name__", type(value).__name__) if value else value
            name = value if isinstance(value, str) else str(name).lower()
            if name not in ("relu", "tanh"):
                problems.append(
                    f"policy_kwargs['activation_fn']={value!r:.60}: relu or tanh (a name, "
                    "Keras's function or PyTorch's nn.ReLU / nn.Tanh)"
                )
                continue
            settings["activation"] = (name, key)
        elif key == "ortho_init":
            if not isinstance(value, bool):
                problems.append(f"policy_kwargs['ortho_init']={value!r}: True or False")
                continue
            settings["weight_init"] = ("orthogonal" if value else "glorot", key)
        elif key == "log_std_init":
            settings["log_std_init"] = (value, key)
        elif key == "lstm_hidden_size":
            settings["lstm_units"] = (value, key)
        else:
            problems.append(
                f"policy_kwargs[{key!r}]: not taken here; policy_kwargs takes "
                + ", ".join(POLICY_KWARGS)
            )
    return settings


# A flag in a message: ``flag --gamma=1.5``, ``flags --recurrent and ...``, ``--save_dir``.
FLAG = re.compile(r"(?:\bflags? )?--([a-z][a-z0-9_]*)")


def as_keywords(message: str, written: dict[str, str], known: set[str]) -> str:
    """``message`` with each flag of ``known`` named as the Python keyword the caller wrote
    for it (``written``, else its own name): ``flag --gamma=1.5: ...`` -> ``gamma=1.5: ...``.
    Flags not in ``known`` (``--helpshort``) stay."""

    def keyword(match: re.Match) -> str:
        name = match.group(1)
        if name not in known and name not in written:
            return match.group(0)
        return written.get(name, name)

    return FLAG.sub(keyword, message)


@contextlib.contextmanager
def keyword_errors(written: dict[str, str], known: set[str]):
    """Within, an ``InputError`` whose message names flags is raised again, of its type, naming
    the Python keywords instead (``as_keywords``)."""
    try:
        yield
    except InputError as error:
        message = str(error)
        rewritten = as_keywords(message, written, known)
        if rewritten == message:
            raise
        raise type(error)(rewritten) from None
