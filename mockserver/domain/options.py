"""What each setting is besides its type: help, flag, environment and TOML forms, when it applies.

Each field of :class:`~mockserver.domain.settings.Settings` carries one :class:`Option` in its
``Annotated`` type (msgspec ignores it; msgspec's own ``Meta`` there holds the ranges).
:func:`describe` joins it with the field's type and default into a :class:`Setting`; the
``serve`` flags, the environment and TOML readers, the control plane's and the pytest plugin's
refusals and the docs table are all made from those, so none of them is written twice.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import msgspec
import msgspec.inspect

ENV_PREFIX = "WAN_MOCK_"
Kind = Literal["int", "float", "str", "bool", "choice", "list", "table", "tables"]


@dataclass(frozen=True)
class Option:
    """The hand-written part of a setting's description; the rest follows from its type."""

    help: str
    """One line: what the setting does (flag help, docs table)."""
    metavar: str | None = None
    """The name help shows for the flag's value, e.g. ``N`` or ``SECONDS``."""
    flag: str | None = None
    """The flag, when not ``--<name>`` (``--no-<name>`` for a boolean that defaults to on)."""
    presets: Mapping[str, Any] | None = None
    """Names that may stand for a whole table (``limits = "realistic"``)."""
    unset: str | None = None
    """What the default means, when the value alone does not say (``None``, an empty list)."""
    restart: bool = False
    """Takes effect only when the server starts: the control plane refuses to change it."""
    per_test: bool = True
    """A shared pytest server (``wan_server``) can change it for one test and back."""
    secret: bool = False
    """A credential: masked wherever settings are shown (answers, ``wan-mock settings``)."""


@dataclass(frozen=True)
class Setting:
    """One field of the settings: its :class:`Option` plus what its type and default say."""

    name: str
    option: Option
    kind: Kind
    default: Any
    choices: tuple[str, ...] = ()
    bounds: str = ""  # the range msgspec checks, in words: ">= 0, <= 65535"
    tables_too: bool = False  # a list whose items may also be tables (``webhooks``)

    @property
    def flag(self) -> str | None:
        """The ``serve`` flag, or None for a setting only a config file (or JSON) can hold."""
        if self.option.flag:
            return self.option.flag
        if self.kind == "tables" or (self.kind == "table" and not self.option.presets):
            return None
        if self.kind == "bool" and self.default is True:
            return "--no-" + self.name.replace("_", "-")
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def env_form(self) -> str:
        """How the environment variable's text is read."""
        if self.kind == "list":
            return "comma-separated or JSON" if self.tables_too else "comma-separated"
        if self.kind in ("table", "tables"):
            return "name or JSON" if self.option.presets else "JSON"
        return "text"

    @property
    def value_form(self) -> str:
        """The value a config file (or the control plane) gives, in words."""
        if self.choices:
            names = [f'`"{choice}"`' for choice in self.choices]
            names += ["a table"] if self.kind == "table" else []
            return " or ".join([", ".join(names[:-1]), names[-1]])
        words = {
            "int": "integer",
            "float": "number",
            "str": "string",
            "bool": "`true` or `false`",
            "list": (
                f"array of strings or tables `[[{self.name}]]`"
                if self.tables_too
                else "array of strings"
            ),
            "table": "table",
            "tables": f"array of tables `[[{self.name}]]`",
        }[self.kind]
        return f"{words} {self.bounds}".strip()

    @property
    def shown_default(self) -> str:
        if self.option.unset is not None:
            return self.option.unset
        for name, preset in (self.option.presets or {}).items():
            if preset == self.default:
                return f'`"{name}"`'
        if isinstance(self.default, bool):
            return "on" if self.default else "off"
        if isinstance(self.default, float) and self.default.is_integer():
            return f"`{self.default:.0f}`"
        if isinstance(self.default, str):
            return f'`"{self.default}"`'
        return f"`{self.default}`"

    @property
    def when(self) -> str:
        """When a change takes effect: at start, or live (and whether per test)."""
        if self.option.restart:
            return "at start"
        return "live" if self.option.per_test else "live, not per test"


def describe(struct: type[msgspec.Struct]) -> tuple[Setting, ...]:
    """A :class:`Setting` for every field of ``struct``; each must carry an :class:`Option`."""
    hints = typing.get_type_hints(struct, include_extras=True)
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    settings = []
    for field in info.fields:
        options = [
            m for m in getattr(hints[field.name], "__metadata__", ()) if isinstance(m, Option)
        ]
        if len(options) != 1:
            raise TypeError(f"setting {field.name!r} needs exactly one Option in its type")
        option = options[0]
        kind, leaf = _kind(field.type)
        choices: tuple[str, ...] = tuple(option.presets or ())
        if isinstance(leaf, msgspec.inspect.LiteralType):
            choices = tuple(map(str, leaf.values))
        setting = Setting(field.name, option, kind, field.default, choices, _bounds(leaf))
        settings.append(replace(setting, tables_too=kind == "list" and _holds_tables(field.type)))
    return tuple(settings)


def leaf_type(kind: msgspec.inspect.Type) -> tuple[msgspec.inspect.Type, str | None]:
    """``kind`` without ``None``, arrays and metadata, and the description its metadata gives."""
    description = None
    while True:
        if isinstance(kind, msgspec.inspect.Metadata):
            description = (kind.extra_json_schema or {}).get("description", description)
            kind = kind.type
        elif isinstance(kind, msgspec.inspect.UnionType):
            kind = next(t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType))
        elif isinstance(kind, msgspec.inspect.VarTupleType):
            kind = kind.item_type
        else:
            return kind, description


def _kind(kind: msgspec.inspect.Type) -> tuple[Kind, msgspec.inspect.Type]:
    leaf, _ = leaf_type(kind)
    many = isinstance(_without_none(kind), msgspec.inspect.VarTupleType)
    if isinstance(leaf, msgspec.inspect.StructType):
        return ("tables" if many else "table"), leaf
    if many:
        return "list", leaf
    kinds: dict[type, Kind] = {
        msgspec.inspect.IntType: "int",
        msgspec.inspect.FloatType: "float",
        msgspec.inspect.StrType: "str",
        msgspec.inspect.BoolType: "bool",
        msgspec.inspect.LiteralType: "choice",
    }
    return kinds[type(leaf)], leaf


def _holds_tables(kind: msgspec.inspect.Type) -> bool:
    """Whether the items of a list type may be tables as well (a union with a struct)."""
    item = _without_none(kind)
    if not isinstance(item, msgspec.inspect.VarTupleType):
        return False
    inner = item.item_type
    while isinstance(inner, msgspec.inspect.Metadata):
        inner = inner.type
    members = inner.types if isinstance(inner, msgspec.inspect.UnionType) else (inner,)
    return any(isinstance(m, msgspec.inspect.StructType) for m in members)


def _without_none(kind: msgspec.inspect.Type) -> msgspec.inspect.Type:
    while isinstance(kind, msgspec.inspect.Metadata | msgspec.inspect.UnionType):
        if isinstance(kind, msgspec.inspect.Metadata):
            kind = kind.type
        else:
            kind = next(t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType))
    return kind


def _bounds(leaf: msgspec.inspect.Type) -> str:
    if not isinstance(leaf, msgspec.inspect.IntType | msgspec.inspect.FloatType):
        return ""
    limits = [
        (symbol, getattr(leaf, attr, None))
        for symbol, attr in ((">", "gt"), (">=", "ge"), ("<", "lt"), ("<=", "le"))
    ]
    return ", ".join(f"{symbol} {_number(value)}" for symbol, value in limits if value is not None)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# Error messages: msgspec's reasons in words.
_TYPE_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "str": "text",
    "bool": "true or false",
    "array": "a list",
    "object": "a table",
    "null": "nothing",
}
_COMPARISONS = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than"}


def in_words(reason: str, struct: type[msgspec.Struct], path: str) -> str:
    """msgspec's ``reason`` for refusing the value at ``path`` of ``struct``, as a sentence
    about that value (a pattern's ``Meta`` description stands in for the pattern)."""
    if reason.startswith("Invalid enum value"):
        choices = ", ".join(map(repr, _choices(struct, path)))
        return f"unknown value {reason.split(' ', 3)[3]}; expected one of {choices}"
    if match := re.fullmatch(r"Expected `(\w+)`, got `(\w+)`", reason):
        wanted, got = (_TYPE_WORDS.get(word, word) for word in match.groups())
        return f"must be {wanted}, not {got}"
    if match := re.fullmatch(r"Expected `\w+` (>=|>|<=|<) (\S+)", reason):
        return f"must be {_COMPARISONS[match.group(1)]} {_number(float(match.group(2)))}"
    if match := re.fullmatch(r"Expected `(\w+)` of length (>=|<=) (\d+)", reason):
        kind, comparison, length = match.groups()
        if (comparison, length) == (">=", "1"):
            return "must not be empty"
        unit = "characters" if kind == "str" else "items"
        return f"must be {_COMPARISONS[comparison]} {length} {unit} long"
    if match := re.fullmatch(r"Object (contains unknown|missing required) field `(\w+)`", reason):
        which = "unknown" if match.group(1) == "contains unknown" else "missing"
        return f"{which} key {match.group(2)!r}"
    if reason.startswith("Expected `str` matching regex"):
        _, description = _field_type(struct, path)
        return description or reason
    return reason


def _field_type(
    struct: type[msgspec.Struct], path: str
) -> tuple[msgspec.inspect.Type | None, str | None]:
    """The type at ``path`` (e.g. ``dialect.statuses``), without ``None`` and arrays, and the
    description its ``msgspec.Meta`` gives."""
    kind: Any = msgspec.inspect.type_info(struct)
    description = None
    for name in re.sub(r"\[\d+\]", "", path).split("."):
        kind, _ = leaf_type(kind)
        if not isinstance(kind, msgspec.inspect.StructType):
            return None, None
        kind = next((f.type for f in kind.fields if f.name == name), None)
        if kind is None:
            return None, None
        kind, description = leaf_type(kind)
    return kind, description


def _choices(struct: type[msgspec.Struct], path: str) -> tuple[Any, ...]:
    """The allowed values of the Literal setting at ``path``."""
    kind, _ = _field_type(struct, path)
    return kind.values if isinstance(kind, msgspec.inspect.LiteralType) else ()


# The docs table: one row per setting, every cell generated.
TABLE_HEADER = (
    "| Key | Flag | Environment | Value | Default | Applies | What it does |\n"
    "|---|---|---|---|---|---|---|\n"
)


def markdown_table(settings: tuple[Setting, ...]) -> str:
    """The settings table of ``docs/reference/settings.md``."""
    rows = []
    for setting in settings:
        flag = setting.flag
        if flag and setting.option.metavar:
            flag += " " + setting.option.metavar
        flag_cell = f"`{flag}`" if flag else "(no flag)"
        if flag and setting.kind == "list":
            flag_cell += " (repeatable)"
        env = f"`{setting.env}`"
        if setting.env_form != "text":
            env += f" ({setting.env_form})"
        cells = [
            f"`{setting.name}`",
            flag_cell,
            env,
            setting.value_form,
            setting.shown_default,
            setting.when,
            setting.option.help,
        ]
        rows.append("| " + " | ".join(cells) + " |\n")
    return TABLE_HEADER + "".join(rows)
