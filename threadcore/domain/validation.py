"""Input checks shared by the domain and the facade: each raises :class:`InvalidInput` naming the
parameter, never a bare ``TypeError`` or ``ValueError``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

import phonenumbers

from threadcore.domain.errors import InvalidInput

__all__ = [
    "check_body",
    "check_extension_id",
    "check_instant",
    "check_pair",
    "check_text",
    "check_utc",
    "e164",
]

#: Longest extension id accepted (ids are opaque strings, but not unbounded).
MAX_ID_LENGTH = 64
#: The instants threadcore accepts (rule R18b): far enough inside ``datetime``'s range that no
#: sum with a duration threadcore accepts (at most ``MAX_DURATION``, twice over) can overflow.
MIN_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(9000, 1, 1, tzinfo=UTC)
#: The longest duration a ``Policy`` accepts (a TTL, a token's age): a hundred years.
MAX_DURATION = timedelta(days=36_525)


@lru_cache(maxsize=65536)
def _parse_e164(value: str) -> str | None:
    if not value.startswith("+") or len(value) > 16 or not value[1:].isdigit():
        return None
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    canonical = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return canonical if canonical == value else None


def e164(value: object, parameter: str) -> str:
    """Return ``value`` if it is a phone number written in E.164 (``+`` and digits, a possible
    number for its country), else raise :class:`InvalidInput` naming ``parameter``."""
    if not isinstance(value, str):
        raise InvalidInput(
            f"Parameter [{parameter}] must be a string, not {type(value).__name__}",
            parameter=parameter,
        )
    number = _parse_e164(value)
    if number is None:
        raise InvalidInput(
            f"Parameter [{parameter}] is not a phone number in E.164 format: {value[:40]!r}",
            parameter=parameter,
        )
    return number


def check_pair(owner_number: object, guest_number: object) -> tuple[str, str]:
    """The pair of numbers a message goes between, each in E.164; a number cannot message
    itself (the guest number is then refused)."""
    if (  # the common case in one step (numbers seen before are cached): two valid numbers
        isinstance(owner_number, str)
        and isinstance(guest_number, str)
        and owner_number != guest_number
        and (owner := _parse_e164(owner_number)) is not None
        and (guest := _parse_e164(guest_number)) is not None
    ):
        return owner, guest
    owner = e164(owner_number, "owner_number")
    guest = e164(guest_number, "guest_number")
    if owner == guest:
        raise InvalidInput("A number cannot message itself", parameter="guest_number")
    return owner, guest


def check_body(value: object, max_length: int, parameter: str = "body") -> str:
    """Return a message body that is a non-blank string of at most ``max_length`` characters."""
    if not isinstance(value, str):
        raise InvalidInput(
            f"Parameter [{parameter}] must be a string, not {type(value).__name__}",
            parameter=parameter,
        )
    if not value.strip():
        raise InvalidInput(f"Parameter [{parameter}] must not be empty", parameter=parameter)
    if len(value) > max_length:
        raise InvalidInput(
            f"Parameter [{parameter}] is longer than {max_length} characters",
            parameter=parameter,
        )
    if not value.isascii() or "\x00" in value:  # (ASCII without NUL: nothing to check)
        check_text(value, parameter)
    return value


def check_text(value: str, parameter: str) -> None:
    """Refuse a string storage cannot keep: NUL, or a lone surrogate (not valid UTF-8)."""
    if "\x00" in value:
        raise InvalidInput(f"Parameter [{parameter}] must not contain NUL", parameter=parameter)
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(
                f"Parameter [{parameter}] must be valid Unicode text (no lone surrogates)",
                parameter=parameter,
            ) from None


def check_extension_id(value: object, parameter: str) -> str:
    """Return an extension id: a non-empty string of printable characters."""
    if not isinstance(value, str):
        raise InvalidInput(
            f"Parameter [{parameter}] must be a string, not {type(value).__name__}",
            parameter=parameter,
        )
    if not value or len(value) > MAX_ID_LENGTH or not value.isprintable() or value != value.strip():
        noun = "extension id" if "xtension" in parameter or parameter == "actor" else "id"
        raise InvalidInput(
            f"Parameter [{parameter}] is not a valid {noun}: {value[:40]!r}", parameter=parameter
        )
    return value


def check_utc(value: object, parameter: str) -> datetime:
    """Return ``value`` as a timezone-aware UTC datetime; naive datetimes are refused."""
    if not isinstance(value, datetime):
        raise InvalidInput(
            f"Parameter [{parameter}] must be a datetime, not {type(value).__name__}",
            parameter=parameter,
        )
    offset = value.utcoffset()
    if offset is None:
        raise InvalidInput(
            f"Parameter [{parameter}] must be timezone-aware (UTC), got a naive datetime",
            parameter=parameter,
        )
    if value.tzinfo is not UTC:
        try:
            value = (value - offset).replace(tzinfo=UTC) if offset else value.replace(tzinfo=UTC)
        except OverflowError:
            value = MIN_INSTANT - timedelta(days=1)  # beyond the range: refused below
    return check_instant(value, parameter)


def check_instant(value: datetime, parameter: str) -> datetime:
    """Return the aware UTC ``value`` if it lies in the range threadcore accepts (1900 to 9000:
    rule R18b), else raise :class:`InvalidInput` naming ``parameter``."""
    if not MIN_INSTANT <= value <= MAX_INSTANT:
        raise InvalidInput(
            f"Parameter [{parameter}] must lie between {MIN_INSTANT:%Y-%m-%d} and "
            f"{MAX_INSTANT:%Y-%m-%d}, not {value.isoformat()}",
            parameter=parameter,
        )
    return value


def check_positive_duration(value: object, parameter: str) -> timedelta:
    """Return ``value`` if it is a ``timedelta`` longer than zero and at most ``MAX_DURATION``
    (a hundred years)."""
    if not isinstance(value, timedelta) or not timedelta(0) < value <= MAX_DURATION:
        raise InvalidInput(
            f"Parameter [{parameter}] must be a positive timedelta of at most "
            f"{MAX_DURATION.days} days, got {value!r}",
            parameter=parameter,
        )
    return value
