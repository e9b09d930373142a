"""Settings written once: a dataclass field carries its default, its help text and its rule.

A config class declares each setting with ``setting(default, help, rule)`` and calls
``validate(self)`` in ``__post_init__``. The command line reads the same fields to define its
flags (name, type, default, help with the allowed range), so a setting is never written twice,
and a config built in Python fails with the same one-line ``ConfigError`` as a bad flag.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable
from typing import Any

from utils.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Rule:
    """A check of a setting's value and the words that say what it allows ("must be > 0")."""

    test: Callable[[Any], bool]
    allowed: str


def at_least(low: float) -> Rule:
    return Rule(lambda value: value >= low, f"must be >= {low:g}")


def above(low: float) -> Rule:
    return Rule(lambda value: value > low, f"must be > {low:g}")


def between(low: float, high: float, low_open: bool = False) -> Rule:
    """``[low, high]``, or ``(low, high]`` with ``low_open``."""
    if low_open:
        return Rule(lambda value: low < value <= high, f"must be in ({low:.12g}, {high:.12g}]")
    return Rule(lambda value: low <= value <= high, f"must be in [{low:.12g}, {high:.12g}]")


def one_of(*choices: str) -> Rule:
    return Rule(lambda value: value in choices, f"must be one of {', '.join(choices)}")


@dataclasses.dataclass(frozen=True)
class Search:
    """Where a tuning study (``a3c_keras/tuning.py``, Optuna) looks for a setting's value: one
    of ``choices``, or a number in ``[low, high]``, on a log scale with ``log``; with
    ``complement`` the number drawn is ``1 - value`` (a discount factor or GAE lambda near 1:
    RL Zoo draws ``1 - gamma`` on a log scale). An int setting draws ints.
    """

    low: float | None = None
    high: float | None = None
    log: bool = False
    complement: bool = False
    choices: tuple = ()

    def describe(self) -> str:
        """The space in words: ``log [1e-05, 0.002]``, ``1 - log [0.0001, 0.03]``,
        ``one of 8, 16``."""
        if self.choices:
            return "one of " + ", ".join(format_value(choice) for choice in self.choices)
        scale = "log " if self.log else ""
        span = f"{scale}[{self.low:g}, {self.high:g}]"
        return f"1 - {span}" if self.complement else span


def log_range(low: float, high: float) -> Search:
    return Search(low, high, log=True)


def linear_range(low: float, high: float) -> Search:
    return Search(low, high)


def near_one(low: float, high: float) -> Search:
    """``1 - x`` with x drawn on a log scale in ``[low, high]``."""
    return Search(low, high, log=True, complement=True)


def choices(*values: Any) -> Search:
    return Search(choices=tuple(values))


def setting(
    default: Any,
    help: str,  # noqa: A002
    rule: Rule | None = None,
    search: Search | None = None,
) -> Any:
    """A dataclass field with its help text, rule (checked by ``validate``) and the space a
    tuning study searches for it (``search``; None: tuned only where a study is told to).

    ``help`` is one sentence for ``--helpshort``; the rule's words are appended there.
    """
    return dataclasses.field(
        default=default, metadata={"help": help, "rule": rule, "search": search}
    )


def new_default(config_class: type, name: str, default: Any) -> Any:
    """Field ``name`` of ``config_class`` with another default; its help and rule are kept.

    For a subclass whose algorithm wants other defaults: ``lr: float = new_default(Base,
    "lr", 3e-3)``.
    """
    return dataclasses.field(
        default=default, metadata=config_class.__dataclass_fields__[name].metadata
    )


def help_text(field: dataclasses.Field) -> str:
    """The field's help, with what its rule allows: ``Discount factor (in (0, 1]).``"""
    text = field.metadata.get("help", "")
    rule: Rule | None = field.metadata.get("rule")
    if rule is not None:
        text = f"{text.rstrip('.')} ({rule.allowed.removeprefix('must be ')})."
    return text


def field_types(config_class: type) -> dict[str, Any]:
    """The fields' types as classes (``float``, ``tuple[int, ...]``), annotations resolved."""
    return typing.get_type_hints(config_class)


def format_value(value: Any) -> str:
    """A value as the command line writes it: ``0.5``, ``64,64``, ``CartPole-v1``, ``true``."""
    if isinstance(value, tuple | list):
        return ",".join(format_value(item) for item in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def problem(name: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"flag --{name}={format_value(value)}: {allowed}")


def _coerce(name: str, value: Any, kind: Any, default: Any = None) -> Any:
    """``value`` as a ``kind`` (an int is a float too); raises ``ConfigError`` if it is not.

    A float must be finite, unless it is the field's ``default`` (``-inf`` as "never", say)."""
    if kind is bool:
        if not isinstance(value, bool):
            raise problem(name, value, "must be true or false")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise problem(name, value, "must be an integer")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise problem(name, value, "must be a number")
        if not math.isfinite(value) and value != default:
            raise problem(name, value, "must be a finite number")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise problem(name, value, "must be a string")
        return value
    if typing.get_origin(kind) is tuple:  # tuple[int, ...]
        item = typing.get_args(kind)[0]
        if isinstance(value, str | bytes) or not isinstance(value, tuple | list) or not value:
            raise problem(name, value, f"must be one or more {item.__name__}s")
        return tuple(_coerce(name, element, item) for element in value)
    return value


def validate(config: Any) -> None:
    """Checks each field of the dataclass instance ``config``: its type, then its rule.

    Numbers are made the field's type in place (``lr=1`` becomes ``1.0``); a tuple's rule
    applies to each item.

    Raises:
        ConfigError: ``flag --name=value: what is allowed`` for the first field that fails.
    """
    types = field_types(type(config))
    for field in dataclasses.fields(config):
        value = _coerce(field.name, getattr(config, field.name), types[field.name], field.default)
        object.__setattr__(config, field.name, value)  # frozen dataclasses too
        rule: Rule | None = field.metadata.get("rule")
        if rule is None:
            continue
        items = value if isinstance(value, tuple) else (value,)
        if not all(rule.test(item) for item in items):
            raise problem(field.name, value, rule.allowed)
