"""Wire shapes generated from the domain records they mirror (issue 23).

A platform document that carries a domain record's fields (a thread, a message, a note, an entry,
a paging block) is declared once, by the record: :meth:`Mirrors.mirror` names the record and the
wire's keys in the wire's order, and the shape class (a frozen, keyword-only ``attrs`` class that
a :class:`~threadcore.wire._base.Shape` converts) takes each key's type from the record's
attribute of that name. So a field added to a record, or a type changed, reaches the wire's
shape (and ``/openapi.json``) without a second declaration to keep in step.

The types are translated the wire's way: the platform's identifiers as
:data:`~threadcore.wire._base.Id`, its phone numbers as :data:`~threadcore.wire._base.Phone`, a
nested record as its own mirror, and any type the module translates (``DeliveryStatus`` as the
platform's ``MessageStatus``). A key the wire may leave out (an optional, a tuple) defaults to
``None`` or ``()``, so a converter that omits defaults leaves it out; ``defaults`` says otherwise
where the wire does. A key the record does not have (an object's ``object`` kind) is the wire's
own: the module gives it on dump, and load passes it over.

:meth:`Mirror.dump` and :meth:`Mirror.load` copy the fields the two sides share; the rules that
differ (what is written only on an open thread, a status spelled another way) are passed as
``given`` values by the module that knows them.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping
from typing import Any, Final

import attrs

from threadcore.wire._base import Id, Phone

__all__ = ["WIRE_NAMES", "Mirror", "Mirrors", "shape_class"]

#: The wire's keys that hold one of the platform's identifiers or phone numbers.
WIRE_NAMES: Final[Mapping[str, Any]] = {
    "id": Id,
    "thread_id": Id,
    "extension_id": Id,
    "sync_token": Id,
    "phone_number": Phone,
}


def shape_class(
    module: str,
    name: str,
    hints: Mapping[str, Any],
    *,
    required: bool = False,
    defaults: Mapping[str, Any] | None = None,
) -> type:
    """A frozen, keyword-only ``attrs`` class ``name`` of ``module`` with ``hints`` as its
    attributes, in order; unless every key is ``required``, an optional defaults to ``None`` and
    a tuple to ``()``, and a key in ``defaults`` to its value there (``attrs.NOTHING``: none,
    the key must be given)."""
    namespace: dict[str, Any] = {
        "__annotations__": dict(hints),
        "__module__": module,
        "__qualname__": name,
    }
    for key, hint in () if required else hints.items():
        if _optional(hint) is not None:
            namespace[key] = None
        elif typing.get_origin(hint) is tuple:
            namespace[key] = ()
    for key, default in (defaults or {}).items():
        if default is attrs.NOTHING:
            namespace.pop(key, None)
        else:
            namespace[key] = default
    cls: type = attrs.frozen(kw_only=True)(type(name, (), namespace))
    return cls


def _optional(hint: Any) -> Any:
    """``X`` for ``X | None``, else ``None``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if type(None) in args:
            (inner,) = (a for a in args if a is not type(None))
            return inner
    return None


class Mirror:
    """The wire shape of one or more domain records with the same fields (a thread's owner and a
    handler are both the platform's ThreadUser): ``shape`` is the generated class, ``keys`` its
    attributes, ``sources`` the record's name of a key where it has another.

    What each key needs (a nested mirror, an enum to re-spell) is worked out once, not on every
    document."""

    __slots__ = ("_dump", "_loads", "keys", "owner", "shape", "sources")

    def __init__(
        self, shape: type, keys: tuple[str, ...], sources: Mapping[str, str], owner: Mirrors
    ) -> None:
        self.shape = shape
        self.keys = keys
        self.sources = sources
        self.owner = owner
        hints = owner.hints(shape)
        #: (key, the record's name, the nested mirror) for each key.
        self._dump = tuple(
            (key, sources.get(key, key), owner.by_shape.get(_optional(hints[key]) or hints[key]))
            for key in keys
        )
        self._loads: dict[type, tuple[_Load, ...]] = {}

    def dump(self, record: object, **given: Any) -> Any:
        """The shape of ``record``: each key copied from the record (a nested record as its
        mirror), except the ``given`` ones."""
        values = given
        for key, name, nested in self._dump:
            if key not in values:
                value = getattr(record, name)
                values[key] = value if nested is None or value is None else nested.dump(value)
        return self.shape(**values)

    def load(self, shape: Any, record: type, **given: Any) -> Any:
        """``record`` from ``shape``: each key copied back (a nested shape as the record the
        field holds; an enum in the record's own enum, by value; a key the wire left out as the
        record's default where the record has no ``None``), and the ``given`` fields."""
        plan = self._loads.get(record)
        if plan is None:
            plan = self._loads[record] = self._plan(record)
        values = given
        for key, name, nested, target, default in plan:
            if name in values:
                continue
            value = getattr(shape, key)
            if value is None:
                if default:
                    continue
            elif nested is not None:
                value = nested.load(value, target)
            elif target is not None:
                value = target(value.value)
            values[name] = value
        return record(**values)

    def _plan(self, record: type) -> tuple[_Load, ...]:
        hints = self.owner.hints(record)
        fields = attrs.fields_dict(record)
        wire = self.owner.hints(self.shape)
        plan = []
        for key in self.keys:
            name = self.sources.get(key, key)
            if name not in fields:  # the wire's own key
                continue
            hint = hints[name]
            target = _optional(hint) or hint
            spelled = _optional(wire[key]) or wire[key]
            nested = self.owner.by_shape.get(spelled)
            is_enum = isinstance(target, type) and issubclass(target, enum.Enum)
            respell = is_enum and target is not spelled
            default = _optional(hint) is None and fields[name].default is not attrs.NOTHING
            plan.append((key, name, nested, target if nested or respell else None, default))
        return tuple(plan)


#: How :meth:`Mirror.load` reads one key: the key, the record's name for it, the nested mirror,
#: the type to build (the nested record, or the record's enum when the wire spells it with its
#: own), and whether a left-out key takes the record's default.
_Load = tuple[str, str, "Mirror | None", Any, bool]


class Mirrors:
    """The mirrors of one wire module (``module`` names it, for the shapes' ``__module__``), with
    the types it translates (``types``: a domain type to the wire's)."""

    def __init__(self, module: str, types: Mapping[Any, Any] | None = None) -> None:
        self.module = module
        self.types: dict[Any, Any] = dict(types or {})
        self.by_record: dict[type, Mirror] = {}
        self.by_shape: dict[type, Mirror] = {}
        self._hints: dict[type, dict[str, Any]] = {}

    def hints(self, record: type) -> dict[str, Any]:
        """``record``'s attribute types, resolved (and kept)."""
        found = self._hints.get(record)
        if found is None:
            found = self._hints[record] = typing.get_type_hints(record)
        return found

    def mirror(
        self,
        name: str,
        records: type | tuple[type, ...],
        keys: str,
        *,
        sources: Mapping[str, str] | None = None,
        types: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> Mirror:
        """The shape ``name`` with the attributes ``keys`` (space-separated, the wire's order),
        each typed as the (first) record's attribute (``sources`` names it where its name is
        another) translated the wire's way, unless ``types`` gives the key's wire type (a key
        the record does not have must be typed there); ``defaults`` as :func:`shape_class`."""
        records = records if isinstance(records, tuple) else (records,)
        sources = dict(sources or {})
        hints = self.hints(records[0])
        wire: dict[str, Any] = {}
        for key in keys.split():
            given = (types or {}).get(key)
            wire[key] = (
                given if given is not None else self._wire(key, hints[sources.get(key, key)])
            )
        shape = shape_class(self.module, name, wire, defaults=defaults)
        found = Mirror(shape, tuple(wire), sources, self)
        self.by_shape[found.shape] = found
        for record in records:
            self.by_record[record] = found
        return found

    def _wire(self, key: str, hint: Any) -> Any:
        inner = _optional(hint)
        if inner is not None:
            return self._wire(key, inner) | None
        if key in WIRE_NAMES:
            return WIRE_NAMES[key]
        mirrored = self.by_record.get(hint)
        if mirrored is not None:
            return mirrored.shape
        return self.types.get(hint, hint)

    def records(self, name: str, records: Mirror, **others: Mirror) -> type:
        """The shape ``name`` of a list of ``records`` (the key ``records``) and a block of each
        of ``others`` (a page's ``paging``, a sync's ``sync_info``), all required."""
        hints: dict[str, Any] = {"records": types.GenericAlias(tuple, (records.shape, ...))}
        hints.update((key, mirror.shape) for key, mirror in others.items())
        return shape_class(self.module, name, hints, required=True)

    def out(self, value: Any) -> Any:
        """``value`` as the wire holds it: a record as its mirror's shape, anything else as is."""
        mirrored = self.by_record.get(type(value))
        return value if mirrored is None else mirrored.dump(value)
