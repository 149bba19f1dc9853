"""What every wire shape shares: a cattrs converter per naming style, strict hooks for JSON's
primitive types, RFC 3339 times, and the translation of any structuring failure into a
:class:`~threadcore.domain.errors.WireFormatError` that names the offending field.

The shapes themselves are frozen ``attrs`` classes whose attribute names are the JSON keys in
snake_case (the converter renames them to camelCase where the shape wants it); cattrs generates the
dict code for them. The public ``dump_*`` / ``load_*`` functions map those shapes to and from the
domain records.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any, Final, NewType, TypeVar, get_args, get_origin

import attrs
from cattrs import Converter
from cattrs.errors import (
    BaseValidationError,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from threadcore.domain.errors import ThreadcoreError, WireFormatError
from threadcore.domain.validation import e164

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_ITEMS",
    "MAX_TEXT_LENGTH",
    "STR",
    "Bad",
    "Id",
    "JsonObject",
    "Phone",
    "SeedDirection",
    "Shape",
    "check",
    "ensure",
    "ensure_sequence",
    "format_time",
    "parse_time",
    "refuse",
]

T = TypeVar("T")

#: The longest string any field accepts (well above the longest body or note threadcore stores).
MAX_TEXT_LENGTH: Final = 65_536
#: The longest id (thread, message, note, extension ids and tokens are all far shorter).
MAX_ID_LENGTH: Final = 512
#: The most elements any list accepts.
MAX_ITEMS: Final = 100_000
#: How deep free-form JSON (a classification's details) may nest.
MAX_DEPTH: Final = 32

#: An identifier: a non-empty printable string of at most ``MAX_ID_LENGTH`` characters.
Id = NewType("Id", str)
#: A phone number in E.164.
Phone = NewType("Phone", str)
#: A JSON object of free-form values (kept as given).
JsonObject = NewType("JsonObject", Mapping[str, Any])


class SeedDirection(StrEnum):
    """A message's ``direction`` as seeds 000 and 002 both spell it (the platform's
    ``Inbound``/``Outbound`` in lower case); ``SeedDirection[d.name]`` for a domain direction."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Bad(ValueError):
    """A field's value is wrong; ``reason`` completes the sentence "Field [x] ..."."""

    def __init__(self, reason: str, at: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        #: Where inside the value the fault is (``.key[0]``), for free-form JSON.
        self.at = at


def refuse(path: str, reason: str) -> WireFormatError:
    """The error for a field ``path`` (wire names, e.g. ``records[0].creationTime``)."""
    where = path or "$"
    return WireFormatError(f"Field [{where}] {reason}", parameter=where)


# --- times ---------------------------------------------------------------------------------------
_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})", re.ASCII
)


def format_time(value: datetime) -> str:
    """``value`` as RFC 3339 in UTC with milliseconds and ``Z``: ``2026-02-17T17:12:39.676Z``."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise WireFormatError(
            f"Only timezone-aware datetimes can be written, not {value!r:.60}", parameter="time"
        )
    v = value.astimezone(UTC)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}."
        f"{v.microsecond // 1000:03d}Z"
    )


def parse_time(value: object) -> datetime:
    """An RFC 3339 date-time with a zone (``Z`` or an offset) as an aware UTC datetime; fractions
    beyond microseconds are cut. Raises :class:`Bad` otherwise."""
    if not isinstance(value, str):
        raise Bad(f"must be an RFC 3339 time string, not {_kind(value)}")
    match = _TIME.fullmatch(value) if len(value) <= 40 else None
    if match is None:
        raise Bad(f"is not an RFC 3339 time with a zone: {value[:40]!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    text = f"{year}-{month}-{day}T{hour}:{minute}:{second}"
    if fraction:
        text += "." + fraction[:6].ljust(6, "0")
    text += "+00:00" if zone == "Z" else zone
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):
        raise Bad(f"is not a valid time: {value!r}") from None


# --- strict primitives ----------------------------------------------------------------------------
def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    for cls, name in names.items():
        if isinstance(value, cls):
            return name
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def _str(value: object, _: object) -> str:
    if not isinstance(value, str):
        raise Bad(f"must be a string, not {_kind(value)}")
    if len(value) > MAX_TEXT_LENGTH:
        raise Bad(f"is longer than {MAX_TEXT_LENGTH} characters")
    if "\x00" in value:
        raise Bad("must not contain NUL")
    return value


#: The strict structure hook for strings (shapes with their own hooks reuse it).
STR: Final = _str


def _id(value: object, _: object) -> Id:
    if not isinstance(value, str):
        raise Bad(f"must be a string, not {_kind(value)}")
    if not value or len(value) > MAX_ID_LENGTH or not value.isprintable():
        raise Bad(f"is not a valid id: {value[:40]!r}")
    return Id(value)


def _phone(value: object, _: object) -> Phone:
    if not isinstance(value, str):
        raise Bad(f"must be a string, not {_kind(value)}")
    try:
        return Phone(e164(value, "phoneNumber"))
    except ThreadcoreError:
        raise Bad(f"is not a phone number in E.164: {value[:40]!r}") from None


def _int(value: object, _: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Bad(f"must be an integer, not {_kind(value)}")
    if not 0 <= value < 2**53:
        raise Bad(f"must be between 0 and 2**53, not {value}")
    return value


def _float(value: object, _: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise Bad(f"must be a number, not {_kind(value)}")
    if isinstance(value, int) and abs(value) > 2**53:
        raise Bad("is too large")
    if not math.isfinite(value):
        raise Bad("must be a finite number")
    return float(value)


def _bool(value: object, _: object) -> bool:
    if not isinstance(value, bool):
        raise Bad(f"must be true or false, not {_kind(value)}")
    return value


def _time(value: object, _: object) -> datetime:
    return parse_time(value)


def _json_value(value: object, at: str = "", depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise Bad(f"nests deeper than {MAX_DEPTH} levels", at)
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Bad("must be a finite number", at)
        return
    if isinstance(value, str):
        try:
            _str(value, str)
        except Bad as error:
            raise Bad(error.reason, at) from None
        return
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            raise Bad(f"has more than {MAX_ITEMS} elements", at)
        for index, item in enumerate(value):
            _json_value(item, f"{at}[{index}]", depth + 1)
        return
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            raise Bad(f"has more than {MAX_ITEMS} members", at)
        for key, item in value.items():
            if not isinstance(key, str):
                raise Bad("must have only string keys", at)
            _json_value(item, f"{at}.{key}", depth + 1)
        return
    raise Bad(f"must hold only JSON values, not {_kind(value)}", at)


def _json_object(value: object, _: object) -> JsonObject:
    if not isinstance(value, dict):
        raise Bad(f"must be an object, not {_kind(value)}")
    _json_value(value)
    return JsonObject(value)


def _enum_hook(cls: type[Enum]) -> Callable[[object, object], Enum]:
    allowed = ", ".join(str(m.value) for m in cls)
    by_value = {m.value: m for m in cls}

    def structure(value: object, _: object) -> Enum:
        if isinstance(value, str) and value in by_value:
            return by_value[value]
        shown = repr(value[:40]) if isinstance(value, str) else _kind(value)
        raise Bad(f"must be one of {allowed}, not {shown}")

    return structure


_ENUM_HOOKS: dict[type[Enum], Callable[[object, object], Enum]] = {}


def _str_or_enum(value: object, t: object) -> str:
    if isinstance(t, type) and issubclass(t, Enum):
        hook = _ENUM_HOOKS.get(t)
        if hook is None:
            hook = _ENUM_HOOKS[t] = _enum_hook(t)
        member: str = hook(value, t)  # type: ignore[assignment]
        return member
    return _str(value, t)


def _is_sequence(t: Any) -> bool:
    origin = get_origin(t)
    if origin is list:
        return True
    args = get_args(t)
    return origin is tuple and len(args) == 2 and args[1] is Ellipsis


def _sequence_hook(t: Any, conv: Converter) -> Callable[[object, object], Any]:
    element = get_args(t)[0]
    handler = conv.get_structure_hook(element)
    make: Callable[[list[Any]], Any] = tuple if get_origin(t) is tuple else list

    def structure(value: object, _: object) -> Any:
        if not isinstance(value, list | tuple):
            raise Bad(f"must be a list, not {_kind(value)}")
        if len(value) > MAX_ITEMS:
            raise Bad(f"has more than {MAX_ITEMS} elements")
        out = []
        for index, item in enumerate(value):
            try:
                out.append(handler(item, element))
            except Exception as exc:
                exc.add_note(IterableValidationNote(f"@ index {index}", index, element))
                raise IterableValidationError(f"While structuring {t!r}", [exc], t) from None
        return make(out)

    return structure


# --- converters -----------------------------------------------------------------------------------
def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _same(name: str) -> str:
    return name


class Shape:
    """A converter for one family of shapes, with its naming style.

    ``camel``: keys are camelCase (the primary platform and the third seed) rather than the
    attribute names (snake_case). ``omit_none``: fields whose value is their default (``None``,
    an empty list) are left out rather than written as ``null``.
    """

    def __init__(self, *, camel: bool, omit_none: bool) -> None:
        self.key: Callable[[str], str] = _camel if camel else _same
        conv = Converter(omit_if_default=omit_none, forbid_extra_keys=False)
        self.converter = conv
        # Class hooks also catch subclasses: a StrEnum is a str, so the str hook hands enums
        # to the enum hook (bool has its own entry, more specific than int's).
        conv.register_structure_hook(str, _str_or_enum)
        conv.register_structure_hook(int, _int)
        conv.register_structure_hook(float, _float)
        conv.register_structure_hook(bool, _bool)
        conv.register_structure_hook(datetime, _time)
        conv.register_structure_hook(Id, _id)
        conv.register_structure_hook(Phone, _phone)
        conv.register_structure_hook(JsonObject, _json_object)
        conv.register_unstructure_hook(datetime, format_time)
        conv.register_unstructure_hook(JsonObject, dict)
        conv.register_structure_hook_factory(_is_sequence, _sequence_hook)
        conv.register_structure_hook_factory(attrs.has, self._structure_class)
        conv.register_unstructure_hook_factory(attrs.has, self._unstructure_class)

    def _renames(self, cls: type) -> dict[str, Any]:
        return {
            a.name: override(rename=self.key(a.name))
            for a in attrs.fields(cls)
            if self.key(a.name) != a.name
        }

    def _structure_class(self, cls: type) -> Callable[[object, object], Any]:
        generated: Callable[[Mapping[str, Any], Any], Any] = make_dict_structure_fn(
            cls, self.converter, **self._renames(cls)
        )

        def structure(value: object, t: object) -> Any:
            if not isinstance(value, Mapping):
                raise Bad(f"must be an object, not {_kind(value)}")
            return generated(value, cls)

        return structure

    def _unstructure_class(self, cls: type) -> Callable[[Any], dict[str, Any]]:
        generated: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(
            cls,
            self.converter,
            _cattrs_omit_if_default=self.converter.omit_if_default,
            **self._renames(cls),
        )
        # cattrs writes the fields it may omit after the others; the shapes' key order is the
        # attribute order (the platforms' own order), so put the keys back in it.
        order = tuple(self.key(a.name) for a in attrs.fields(cls))

        def unstructure(value: Any) -> dict[str, Any]:
            out = generated(value)
            return {key: out[key] for key in order if key in out}

        return unstructure

    def dump(self, shape: object) -> dict[str, Any]:
        """The JSON-ready dict of a shape instance."""
        out: dict[str, Any] = self.converter.unstructure(shape)
        return out

    def load(self, data: object, cls: type[T], root: str = "") -> T:
        """``data`` structured as ``cls``; any failure is a :class:`WireFormatError` naming the
        first offending field by its wire name."""
        try:
            return self.converter.structure(data, cls)
        except WireFormatError:
            raise
        except Exception as exc:
            path, reason = self._locate(exc, root)
            raise refuse(path, reason) from None

    def _locate(self, exc: BaseException, path: str) -> tuple[str, str]:
        """The wire path of the first leaf error under ``exc`` and its reason."""
        while isinstance(exc, BaseValidationError):
            if isinstance(exc, ClassValidationError):
                named, others = exc.group_exceptions()
                if named:
                    exc, note = named[0]
                    path = f"{path}.{self.key(note.name)}" if path else self.key(note.name)
                    continue
            elif isinstance(exc, IterableValidationError):
                indexed, others = exc.group_exceptions()
                if indexed:
                    exc, inote = indexed[0]
                    path = f"{path}[{inote.index}]"
                    continue
            else:  # pragma: no cover - cattrs raises only the two above
                others = list(exc.exceptions)
            if not others:  # pragma: no cover
                break
            exc = others[0]
        if isinstance(exc, Bad) and exc.at:
            path = f"{path}{exc.at}" if path or exc.at.startswith("[") else exc.at[1:]
        return path, _reason(exc)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, Bad):
        return exc.reason
    if isinstance(exc, KeyError):
        return "is required"
    if isinstance(exc, ThreadcoreError):
        return exc.message
    return "is malformed"


def check(condition: bool, path: str, reason: str) -> None:
    """Raise :func:`refuse` for ``path`` unless ``condition`` holds (cross-field rules)."""
    if not condition:
        raise refuse(path, reason)


def ensure(value: object, cls: type[T], parameter: str) -> T:
    """``value`` if it is a ``cls``; else a dump function's :class:`WireFormatError` for
    ``parameter`` ("Parameter [thread] must be a Thread")."""
    if not isinstance(value, cls):
        raise WireFormatError(
            f"Parameter [{parameter}] must be a {cls.__name__}", parameter=parameter
        )
    return value


def ensure_sequence(value: object, parameter: str) -> Sequence[Any]:
    """``value`` as a sequence for a dump function (a page, a list, a tuple)."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise WireFormatError(f"Parameter [{parameter}] must be a sequence", parameter=parameter)
    return value
