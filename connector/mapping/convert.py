"""Saber values to the strings HubSpot accepts, per property type.

Choices (documented in the README, "Writing mappings"):
- numbers: plain decimal strings, no exponent, no thousands separator; ints and Decimals exact,
  floats rounded to 15 significant digits (so 0.1 + 0.2 -> "0.3"); bools are not numbers;
  "12%", "1,200" and "$5" are rejected as ambiguous.
- bools: "true"/"false" from booleans and true/false/yes/no text.
- dates: "YYYY-MM-DD" of the UTC day; datetimes "YYYY-MM-DDTHH:MM:SS.mmmZ" in UTC; naive
  values are taken as UTC; numbers are rejected (seconds or milliseconds is a guess).
- text: stripped, cut to 65,536 characters; lists joined with "; " (sources as
  "title (url)" lines), mappings as compact JSON.
- enumeration: the value (or its `options` entry; a value missing from `options` is an error);
  multiple: each item so, deduplicated, sorted, joined with ";".
- None, empty text and empty lists are "nothing to write" (None), never a blank.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping as AbcMapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel

from connector.mapping.hints import shown

TEXT_LIMIT = 65_536
FLOAT_DIGITS = 15
MAX_EXPONENT = 100
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_TRUE = frozenset({"true", "yes"})
_FALSE = frozenset({"false", "no"})
SOURCE_KEYS = frozenset({"url", "title", "snippet"})


class ConversionError(ValueError):
    """A value that cannot become what the HubSpot property accepts."""


# ---------------------------------------------------------------------------- numbers
def _decimal_text(number: Decimal, original: Any) -> str:
    if not number.is_finite():
        raise ConversionError(f"{shown(original)} is not a finite number")
    if number and not -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        raise ConversionError(f"{shown(original)} is out of range for a HubSpot number")
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def plain_number(value: Any) -> str:
    """A number as a plain decimal string: no exponent, no separators, at most one point."""
    if isinstance(value, bool):
        raise ConversionError(f"{shown(value)} is a yes/no value, not a number")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConversionError(f"{shown(value)} is not a finite number")
        return _decimal_text(Decimal(format(value, f".{FLOAT_DIGITS}g")), value)
    if isinstance(value, Decimal):
        return _decimal_text(value, value)
    if isinstance(value, str):
        text = value.strip()
        if _DECIMAL.fullmatch(text):
            try:
                return _decimal_text(Decimal(text), value)
            except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
                pass
        if text.endswith("%"):
            raise ConversionError(f"{shown(value)} is a percentage; 12 or 0.12 would be a guess")
        if re.fullmatch(r"[+-]?\d{1,3}(?:[,. ']\d{3})+(?:[.,]\d+)?", text):
            raise ConversionError(f"{shown(value)} has a thousands separator or decimal comma")
        raise ConversionError(f"{shown(value)} is not a plain number")
    raise ConversionError(f"{shown(value)} is not a number")


# ---------------------------------------------------------------------------- booleans
def plain_bool(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        word = value.strip().casefold()
        if word in _TRUE:
            return "true"
        if word in _FALSE:
            return "false"
    raise ConversionError(f"{shown(value)} is not true/false or yes/no")


# ---------------------------------------------------------------------------- dates
def to_utc(value: Any) -> datetime:
    """A date, datetime or ISO 8601 text as an aware UTC datetime (naive means UTC)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ConversionError(f"{shown(value)} is not an ISO 8601 date or time") from None
    elif isinstance(value, bool | int | float):
        raise ConversionError(f"{shown(value)} is a number, not a date (seconds or milliseconds?)")
    else:
        raise ConversionError(f"{shown(value)} is not a date or time")
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def plain_date(value: Any) -> str:
    """The UTC calendar day, as HubSpot's date properties want it (midnight UTC, YYYY-MM-DD)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return to_utc(value).date().isoformat()


def plain_datetime(value: Any) -> str:
    moment = to_utc(value)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z"
    )


def _epoch_ms(text: str) -> datetime | None:
    if re.fullmatch(r"-?\d{10,}", text):
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    return None


# ---------------------------------------------------------------------------- text
def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True, exclude={"raw"})
    if isinstance(value, datetime):
        return plain_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return plain_number(value)
    if isinstance(value, AbcMapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return value


def compact_json(value: Any) -> str:
    return json.dumps(_jsonable(value), separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _is_source(item: Any) -> bool:
    return (
        isinstance(item, AbcMapping)
        and bool(item)
        and set(item) <= SOURCE_KEYS
        and bool(item.get("url") or item.get("title"))
    )


def _source_line(item: AbcMapping[str, Any]) -> str:
    title = " ".join(str(item.get("title") or "").split())
    url = str(item.get("url") or "").strip()
    if title and url:
        return f"{title} ({url})"
    return title or url


def _scalar_text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return plain_number(value)
    if isinstance(value, datetime):
        return plain_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return compact_json(value)


def plain_text(value: Any) -> str | None:
    """Readable text, stripped and cut to HubSpot's limit; None when nothing is left."""
    if isinstance(value, BaseModel):
        value = _jsonable(value)
    if isinstance(value, list | tuple):
        items = [_jsonable(v) for v in value if v is not None]
        if items and all(_is_source(i) for i in items):
            text = "\n".join(_source_line(i) for i in items)
        else:
            text = "; ".join(t for t in (_scalar_text(i) for i in items) if t)
    else:
        text = _scalar_text(value)
    text = text.strip()[:TEXT_LIMIT].rstrip()
    return text or None


# ---------------------------------------------------------------------------- options
def option_key(value: Any) -> str:
    """How a Saber value is looked up in `options` (and how YAML option keys are stored)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return plain_number(value)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, date):
        return value.isoformat()
    raise ConversionError(f"{shown(value)} cannot be an option value")


def _option(value: Any, options: AbcMapping[str, str] | None) -> str:
    key = option_key(value)
    if options is None:
        if ";" in key:
            raise ConversionError(f"{shown(value)} contains ';', which separates multi-select values")
        return key
    if key in options:
        return options[key]
    known = ", ".join(options)
    raise ConversionError(f"{shown(value)} is not one of the mapped options ({known})")


def plain_enumeration(value: Any, options: AbcMapping[str, str] | None) -> str | None:
    if isinstance(value, list | tuple):
        if len(value) != 1:
            raise ConversionError(f"{shown(value)} holds several values; use type: multiple")
        value = value[0]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _option(value, options)


def plain_multiple(value: Any, options: AbcMapping[str, str] | None) -> str | None:
    items = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
    items = [i for i in items if i is not None and not (isinstance(i, str) and not i.strip())]
    chosen: set[str] = set()
    unknown: list[str] = []
    for item in items:
        try:
            chosen.add(_option(item, options))
        except ConversionError:
            if options is None or isinstance(item, dict | list):
                raise
            unknown.append(shown(item))
    if unknown:
        raise ConversionError(
            f"{', '.join(unknown)} not among the mapped options ({', '.join(options or {})})"
        )
    return ";".join(sorted(chosen)) or None


# ---------------------------------------------------------------------------- entry points
def to_hubspot(kind: str, value: Any, options: AbcMapping[str, str] | None = None) -> str | None:
    """`value` as HubSpot accepts it for a property of type `kind`; None means nothing to write.

    Raises ConversionError when the value cannot be converted.
    """
    if value is None:
        return None
    if isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, list | tuple | dict) and not value:
        return None
    if kind == "string":
        return plain_text(value)
    if kind == "enumeration":
        return plain_enumeration(value, options)
    if kind == "multiple":
        return plain_multiple(value, options)
    if isinstance(value, dict | list | tuple):
        raise ConversionError(f"{shown(value)} is not a single value")
    if kind == "number":
        return plain_number(value)
    if kind == "bool":
        return plain_bool(value)
    if kind == "date":
        return plain_date(value)
    if kind == "datetime":
        return plain_datetime(value)
    raise ConversionError(f"unknown property type {kind!r}")


def canonical(kind: str, current: str | None) -> str | None:
    """A value read from HubSpot in the form `to_hubspot` writes, so equal values compare equal.

    Values that do not parse come back stripped but otherwise unchanged (a person typed them).
    """
    if current is None:
        return None
    text = str(current).strip()
    if not text:
        return None
    try:
        if kind == "number":
            return plain_number(text)
        if kind == "bool":
            return plain_bool(text)
        if kind in ("date", "datetime"):
            moment = _epoch_ms(text) or text
            return plain_date(moment) if kind == "date" else plain_datetime(moment)
        if kind == "multiple":
            return ";".join(sorted({part.strip() for part in text.split(";") if part.strip()})) or None
    except (ConversionError, ValueError, OverflowError, OSError):
        return text
    return text
