"""Flags made from config dataclasses (absl): one flag per field, with the field's name, type,
default and help. The rules stay with the fields: a parsed value is checked by building the
config, so a bad flag and a bad Python config fail with the same line."""

from __future__ import annotations

import dataclasses
import os
import sys
import typing
from typing import Any, NoReturn, TypeVar

from absl import app, flags

from utils.settings import field_types, format_value, help_text

FLAGS = flags.FLAGS
ConfigT = TypeVar("ConfigT")

# Flags defined here belong to the program that asks for them (its --helpshort lists them).
flags.disclaim_key_flags()


def define_flags(defaults: Any) -> None:
    """Defines a flag for each field of the dataclass instance ``defaults`` (once per name).

    The flag's default is the instance's value: an algorithm's own defaults (A2C's learning
    rate, say) come from its class. ``bool`` fields become ``--[no]name`` flags, ``tuple``
    fields comma-separated lists, ``str`` fields with a ``one_of`` rule enums.
    """
    types = field_types(type(defaults))
    for field in dataclasses.fields(defaults):
        if field.name in FLAGS:
            continue
        default, kind, text = getattr(defaults, field.name), types[field.name], help_text(field)
        if kind is bool:
            flags.DEFINE_boolean(field.name, default, text)
        elif kind is int:
            flags.DEFINE_integer(field.name, default, text)
        elif kind is float:
            flags.DEFINE_float(field.name, default, text)
        elif typing.get_origin(kind) is tuple:
            flags.DEFINE_list(field.name, format_value(default), text)
        else:
            flags.DEFINE_string(field.name, default, text)


def from_flags(config_class: type[ConfigT], **overrides: Any) -> ConfigT:
    """A ``config_class`` whose fields are the parsed flags of the same names; building it
    checks every value (``utils.errors.ConfigError`` for the first bad one)."""
    types = field_types(config_class)
    values = {}
    for field in dataclasses.fields(config_class):
        value = FLAGS[field.name].value
        if typing.get_origin(types[field.name]) is tuple:
            item = typing.get_args(types[field.name])[0]
            try:
                value = tuple(item(element) for element in value)
            except ValueError:
                pass  # the config names the bad value
        values[field.name] = value
    return config_class(**{**values, **overrides})


def given(name: str) -> bool:
    """Whether flag ``name`` was on the command line (not its default)."""
    return FLAGS[name].present > 0


def normalize_flag_names(argv: list[str], names) -> list[str]:
    """Rewrites ``--max-eps=4`` as ``--max_eps=4`` (and ``--nojit-compile`` likewise) for ``names``.

    The 2018 example documented dashed flags; absl names them with underscores. Arguments after
    a bare ``--`` are left alone.
    """
    known = set(names)
    out = list(argv[:1])
    for index, arg in enumerate(argv[1:], start=1):
        if arg == "--":
            return out + argv[index:]
        if arg.startswith("-") and "-" in arg.lstrip("-").split("=", 1)[0]:
            dashes = len(arg) - len(arg.lstrip("-"))
            name, sep, value = arg[dashes:].partition("=")
            underscored = name.replace("-", "_")
            bare = underscored[2:] if underscored.startswith("no") else underscored
            if underscored in known or bare in known:
                arg = "-" * dashes + underscored + sep + value
        out.append(arg)
    return out


def exit_with_error(message: str, status: int = 2) -> NoReturn:
    """Prints ``<program>: error: <message>`` as one line on stderr and exits with ``status``
    (2, the default, for bad input)."""
    program = os.path.basename(sys.argv[0]) if sys.argv else "program"
    sys.stderr.write(f"{program}: error: {message}\n")
    sys.exit(status)


def refuse_stray_arguments(argv: list[str]) -> None:
    """Exits 2 with one line if anything but flags was given."""
    if len(argv) > 1:
        exit_with_error(f"unexpected arguments {argv[1:]}; flags look like --name=value")


# absl's help flags exit with status 1; asking for help is a success here.
HELP_FLAGS = {"--help": True, "-h": True, "-?": True, "--helpshort": True, "--helpfull": False}


def parse_flags(argv: list[str]) -> list[str]:
    """absl ``flags_parser`` for ``app.run``: a bad flag exits 2 with one line on stderr;
    ``--help``, ``-h`` and ``--helpshort`` print the program's flags, ``--helpfull`` every
    library's too, on stdout, and exit 0."""
    for arg in argv[1:]:
        if arg == "--":
            break
        if arg in HELP_FLAGS:
            FLAGS.mark_as_parsed()
            app.usage(shorthelp=HELP_FLAGS[arg], writeto_stdout=True, exitcode=0)
    try:
        return FLAGS(normalize_flag_names(argv, FLAGS))
    except flags.Error as error:
        exit_with_error(f"{error} (see --helpshort)")
