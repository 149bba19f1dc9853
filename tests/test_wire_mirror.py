"""The wire's shapes generated from the domain records they mirror (wire/_mirror.py, issue 23)."""

from __future__ import annotations

import enum
import typing

import attrs

from threadcore.domain.model import Entry, Message, Note, Thread
from threadcore.wire import _platform as platform
from threadcore.wire._base import Id, Phone, Shape
from threadcore.wire._mirror import Mirrors

Colour = enum.StrEnum("Colour", [("RED", "Red"), ("BLUE", "Blue")])
#: The same values, the wire's own enum (as MessageStatus is DeliveryStatus's).
WireColour = enum.StrEnum("WireColour", [("RED", "Red"), ("BLUE", "Blue")])


@attrs.frozen
class Handle:
    extension_id: str
    kind: str = "User"


@attrs.frozen
class Record:
    id: str
    colour: Colour
    phone_number: str
    handle: Handle | None
    tags: tuple[str, ...] = ()
    note: str | None = None
    hidden: int = 7


_MIRRORS = Mirrors(__name__, types={Colour: WireColour})
_HANDLE = _MIRRORS.mirror("_Handle", Handle, "extension_id kind", types={"kind": str | None})
_RECORD = _MIRRORS.mirror("_Record", Record, "colour id handle tags note phone_number")
SHAPE = Shape(camel=True, omit_none=True)


def test_a_shape_takes_its_keys_in_the_wire_order_and_its_types_from_the_record() -> None:
    hints = typing.get_type_hints(_RECORD.shape)
    assert list(hints) == ["colour", "id", "handle", "tags", "note", "phone_number"]
    assert hints["id"] is Id
    assert hints["phone_number"] is Phone
    assert hints["colour"] is WireColour
    assert hints["handle"] == _HANDLE.shape | None
    defaults = {f.name: f.default for f in attrs.fields(_RECORD.shape)}
    assert defaults["handle"] is None
    assert defaults["tags"] == ()
    assert defaults["id"] is attrs.NOTHING


def test_dump_and_load_copy_the_shared_fields_and_keep_the_given_ones() -> None:
    record = Record("r1", Colour.BLUE, "+14155550100", Handle("101", "Bot"), ("a",), None, 3)
    body = SHAPE.dump(_RECORD.dump(record, note="given"))
    assert body == {
        "colour": "Blue",
        "id": "r1",
        "handle": {"extensionId": "101", "kind": "Bot"},
        "tags": ["a"],
        "note": "given",
        "phoneNumber": "+14155550100",
    }
    loaded = _RECORD.load(SHAPE.load(body, _RECORD.shape), Record, hidden=3, note=None)
    assert loaded == record
    assert type(loaded.colour) is Colour  # the record's own enum, by value


def test_a_key_the_wire_left_out_reads_as_the_records_default() -> None:
    body = {
        "colour": "Red",
        "id": "r2",
        "handle": {"extensionId": "102"},
        "phoneNumber": "+14155550100",
    }
    loaded = _RECORD.load(SHAPE.load(body, _RECORD.shape), Record)
    assert loaded.handle == Handle("102")  # kind: the record's default, not None
    assert loaded.tags == ()
    assert loaded.note is None
    assert loaded.hidden == 7


def test_the_platform_shapes_are_the_domain_records_fields() -> None:
    for mirror, record in (
        (platform._THREAD, Thread),
        (platform._MESSAGE, Message),
        (platform._NOTE, Note),
        (platform._ENTRY, Entry),
    ):
        fields = attrs.fields_dict(record)
        for key in mirror.keys:
            assert mirror.sources.get(key, key) in fields, (record, key)
    entry_keys = {f.name for f in attrs.fields(Entry)} - {"status_reason"}
    assert set(platform._ENTRY.keys) == entry_keys


def test_a_key_of_the_wires_own_is_given_on_dump_and_passed_over_on_load() -> None:
    """A key the record does not have (seed 000's ``object`` kind, its ``modified_at``) is typed
    and defaulted by the wire: the module gives it on dump, and load passes it over."""
    mirror = Mirrors(__name__).mirror(
        "_Owned",
        Handle,
        "extension_id modified kind object",
        types={"modified": str | None, "object": str},
        defaults={"modified": attrs.NOTHING, "object": "handle"},
    )
    defaults = {f.name: f.default for f in attrs.fields(mirror.shape)}
    assert defaults["modified"] is attrs.NOTHING  # nullable, yet the wire must name it
    assert defaults["object"] == "handle"
    body = SHAPE.dump(mirror.dump(Handle("101"), modified=None, object="handle"))
    # this converter leaves out what equals its default, and writes a required key's null
    assert body == {"extensionId": "101", "modified": None, "kind": "User"}
    loaded = mirror.load(SHAPE.load({**body, "modified": "x"}, mirror.shape), Handle)
    assert loaded == Handle("101")
