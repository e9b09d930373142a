"""The model specification: every setting that shapes an ``ActorCriticModel``, held once.

``ModelSpec`` is what the model is built from (``models.ActorCriticModel(spec=...)``), what its
weights file and ``.keras`` export record (``record``; ``utils.checkpoint``), what a model file
gives back to the Python API and the command line as settings (``settings``), and which settings
a resumed run cannot change (``setting_names``, read by ``config.hyperparameters``). Each field
says, once, how it is said in a message, which run settings (flags) it comes from, and the value
files written before it existed had; so a new architecture setting is one field here (and the
layers it changes in the model).

Two fields come from the env, not from settings: ``action`` (``utils.spaces.ActionSpec``, which
chooses the policy's distribution) and ``observation`` (``utils.spaces.ObservationSpec``, which
chooses the encoder), so a model file is refused, in one line, for an env of other spaces.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from utils.spaces import ActionSpec, ObservationSpec

UNRECORDED = object()  # ``before`` of a field every file has recorded


def _same(name: str) -> tuple[Callable, Callable]:
    """A field read from, and given back as, the run setting of its own name."""
    return (lambda settings: settings[name]), (lambda value: {name: value})


def architecture(
    default,
    words: str,
    before=UNRECORDED,
    settings: tuple[str, ...] | None = None,
    read: Callable[[Any], Any] | None = None,
    write: Callable[[Any], dict] | None = None,
    recorded: bool = True,
):
    """A field of ``ModelSpec``.

    Args:
        default: its value when not given.
        words: how a message says it, ``str.format`` of the value (``"activation {}"``).
        before: the value a file written before this field was recorded had (files lacking it
            load as that); ``UNRECORDED`` for a field every file records.
        settings: the run settings (config fields, flags) it comes from; default its name.
        read: the field's value from the settings (a dict by name); default the setting of
            its name.
        write: the settings (a dict) of the field's value; default the setting of its name.
        recorded: False for a setting that only starts the weights (an initialisation): not
            recorded in files, not compared when one loads, free to change on ``--resume``.
    """
    return dataclasses.field(
        default=default,
        metadata={
            "words": words,
            "before": before,
            "settings": settings,
            "read": read,
            "write": write,
            "recorded": recorded,
        },
    )


def _recurrent_write(units: int) -> dict:
    return {"recurrent": True, "lstm_units": units} if units else {"recurrent": False}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Every setting that shapes an actor-critic model, and the spaces it is for.

    Attributes:
        action: the env's actions (``utils.spaces.ActionSpec``): the policy's distribution.
        observation: the env's observations as the model takes them
            (``utils.spaces.ObservationSpec``); None until known (a model made from sizes
            alone learns it when built).
        hidden_units: width of each trunk layer.
        activation: the trunk's nonlinearity ("relu" or "tanh").
        separate_value_trunk: the value head has a trunk of its own.
        recurrent_units: width of the LSTM core; 0 for none (``--recurrent --lstm_units``).
        normalize_observations: running normalisation of the observations, in the model.
        use_sde: state-dependent exploration (gSDE) for Box actions.
        image_encoder: the convolutions for image observations: "a3c" (the A3C paper's, after
            Mnih et al. 2013) or "nature" (Mnih et al. 2015, Stable-Baselines3's NatureCNN).
        log_std_init: a Gaussian policy's initial log sigma (starts the weights only).
        weight_init: how the kernels start, "glorot" or "orthogonal" (starts them only).
    """

    action: ActionSpec = architecture(dataclasses.MISSING, "actions {}")
    observation: ObservationSpec | None = architecture(None, "observations {}", before=None)
    hidden_units: tuple[int, ...] = architecture((128,), "hidden units {}")
    activation: str = architecture("relu", "activation {}", before="relu")
    separate_value_trunk: bool = architecture(False, "separate value trunk: {}", before=False)
    recurrent_units: int = architecture(
        0,
        "LSTM core of {} units",
        before=0,
        settings=("recurrent", "lstm_units"),
        read=lambda settings: settings["lstm_units"] if settings["recurrent"] else 0,
        write=_recurrent_write,
    )
    normalize_observations: bool = architecture(
        False, "observation normalisation: {}", before=False
    )
    use_sde: bool = architecture(False, "state-dependent exploration: {}", before=False)
    image_encoder: str = architecture("a3c", "image encoder {}", before="a3c")
    log_std_init: float = architecture(0.0, "", recorded=False)
    weight_init: str = architecture("glorot", "", recorded=False)

    # The fields that come from the env's spaces, not from run settings.
    SPACES = ("action", "observation")

    def __post_init__(self):
        object.__setattr__(self, "hidden_units", tuple(int(u) for u in self.hidden_units))
        object.__setattr__(self, "action", ActionSpec(self.action[0], tuple(self.action[1])))
        if self.observation is not None:
            kind, shape, *space = self.observation
            observation = ObservationSpec(kind, tuple(int(s) for s in shape), *space)
            object.__setattr__(self, "observation", observation)

    # From settings and envs ---------------------------------------------------------------

    @classmethod
    def setting_fields(cls) -> list[dataclasses.Field]:
        """The fields that come from run settings (all but the spaces)."""
        return [field for field in dataclasses.fields(cls) if field.name not in cls.SPACES]

    @classmethod
    def setting_names(cls, recorded_only: bool = True) -> tuple[str, ...]:
        """The run settings (config fields) the spec reads: of the recorded fields (what a
        model file fixes, and a resumed run cannot change), or of all."""
        names = []
        for field in cls.setting_fields():
            if field.metadata["recorded"] or not recorded_only:
                names += field.metadata["settings"] or (field.name,)
        return tuple(names)

    @classmethod
    def options(cls, settings) -> dict:
        """The spec's fields from run ``settings`` (a config, or a dict of its fields): the
        keyword arguments of ``for_env`` and ``models.build_model``."""
        if not isinstance(settings, dict):
            settings = {name: getattr(settings, name) for name in cls.setting_names(False)}
        options = {}
        for field in cls.setting_fields():
            read = field.metadata["read"] or _same(field.name)[0]
            options[field.name] = read(settings)
        return options

    @classmethod
    def for_env(cls, dims, **options) -> ModelSpec:
        """The spec of a model for an env of ``dims`` (``utils.envs.Dims``: its ``action`` and
        ``observation``) with ``options`` (``options``' fields)."""
        return cls(action=dims.action, observation=dims.observation, **options)

    def settings(self) -> dict:
        """The run settings (config fields) of the recorded fields: what a model file tells
        the Python API and the command line to build."""
        settings = {}
        for field in self.setting_fields():
            if field.metadata["recorded"]:
                write = field.metadata["write"] or _same(field.name)[1]
                settings.update(write(getattr(self, field.name)))
        return settings

    @classmethod
    def settings_before(cls) -> dict:
        """The run settings each recorded field had before it was recorded (a resumed run from
        then continues with them)."""
        settings = {}
        for field in cls.setting_fields():
            before = field.metadata["before"]
            if field.metadata["recorded"] and before is not UNRECORDED:
                write = field.metadata["write"] or _same(field.name)[1]
                settings.update(write(before))
        return settings

    # Records in model files ---------------------------------------------------------------

    def record(self) -> dict:
        """The recorded fields as JSON-able values (what a model file holds)."""
        record = {}
        for field in dataclasses.fields(self):
            if field.metadata["recorded"]:
                record[field.name] = _jsonable(getattr(self, field.name))
        return record

    @classmethod
    def from_record(cls, record: dict) -> ModelSpec:
        """The spec a model file records (``record``'s), the fields it lacks taking the value
        they had before they were recorded; files from before the spec recorded ``action``
        said ``num_actions`` and ``continuous``.

        Raises:
            KeyError: for a record that lacks a field every file records.
        """
        values = {}
        for field in dataclasses.fields(cls):
            name, before = field.name, field.metadata["before"]
            if not field.metadata["recorded"]:
                continue
            if name in record:
                values[name] = record[name]
            elif name == "action" and "num_actions" in record:
                kind = "Box" if record.get("continuous") else "Discrete"
                values[name] = ActionSpec(kind, (int(record["num_actions"]),))
            elif before is not UNRECORDED:
                values[name] = before
            else:
                raise KeyError(name)
        return cls(**values)

    def differences(
        self, other: ModelSpec, only: tuple[str, ...] = (), exclude: tuple[str, ...] = ()
    ) -> list[str]:
        """The recorded fields (``only`` those, if given; not those of ``exclude``) whose
        values differ from ``other``'s, in words (this spec's values). What either side does
        not know is not compared: observations (a file from before they were recorded), or
        the observation space of a model made from sizes alone (its shape is)."""
        parts = []
        for field in dataclasses.fields(self):
            if only and field.name not in only or field.name in exclude:
                continue
            mine, theirs = getattr(self, field.name), getattr(other, field.name)
            if not field.metadata["recorded"] or mine is None or theirs is None:
                continue
            if field.name == "observation" and not (mine.space and theirs.space):
                mine, theirs = mine.shape, theirs.shape  # sizes only: one side knows no more
            if mine != theirs:
                parts.append(self.words(field.name))
        return parts

    def words(self, name: str) -> str:
        """The field ``name`` in words (``"hidden units (32, 16)"``, ``"no LSTM core"``)."""
        value = getattr(self, name)
        if name == "recurrent_units" and not value:
            return "no LSTM core"
        if name == "observation":
            return f"observations {value.space or value.shape}"
        field = next(field for field in dataclasses.fields(self) if field.name == name)
        return field.metadata["words"].format(value)


def _jsonable(value):
    """``value`` as JSON would give it back: tuples (and named ones) as lists."""
    if isinstance(value, tuple):
        return [_jsonable(part) for part in value]
    return value
