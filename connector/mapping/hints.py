"""Small helpers for error messages: "did you mean" hints and short renderings of found values."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to `word` (case ignored first), or None when nothing is close."""
    options = [str(c) for c in choices]
    folded = {c.casefold(): c for c in options}
    if word.casefold() in folded and folded[word.casefold()] != word:
        return folded[word.casefold()]
    close = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=0.6)
    if close and folded[close[0]] != word:
        return folded[close[0]]
    return None


def shown(value: Any, limit: int = 60) -> str:
    """A found value as a message shows it: quoted text, plain numbers, a word for containers."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        keys = ", ".join(printable(str(k)) for k in list(value)[:6])
        return f"a mapping ({keys})" if keys else "an empty mapping"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)}" if value else "an empty list"
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return repr(text)


def printable(text: str) -> str:
    """`text` with control and other unprintable characters escaped, so one error stays one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
