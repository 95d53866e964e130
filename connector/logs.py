"""structlog set-up: JSON in containers, readable on a terminal, secrets never printed."""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

_SECRET_KEYS = re.compile(r"token|api_key|apikey|authorization|secret|password", re.I)
_SECRET_VALUES = re.compile(r"(sk_live_|sk_test_|pat-(?:na|eu)\d-)[A-Za-z0-9_\-]+|Bearer\s+\S+")
# The password of a URL, `scheme://user:PASSWORD@host`: only what lies between the colon after
# the user and the `@` is masked (user, host, port and database name stay readable).
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]*:)[^@/?#\s]+@")
MIN_SECRET_LENGTH = 8  # shorter values would mask ordinary words and numbers (`port 1`)

_registered: set[str] = set()
_registered_pattern: re.Pattern[str] | None = None
_registry_lock = threading.Lock()


def redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Blank out values under secret-looking keys and anything shaped like a key or token."""
    for key, value in list(event.items()):
        if _SECRET_KEYS.search(key) and not key.endswith(("_count", "_total")):
            event[key] = "***"
        elif isinstance(value, str):
            event[key] = scrub(value)
    return event


def register_secret(value: str | None) -> None:
    """Mask this value (a configured key, token or password) wherever `scrub` meets it, as a whole.

    Values shorter than `MIN_SECRET_LENGTH` are ignored: masking them would mangle
    ordinary text, and what is that short is no secret worth the name anyway.
    """
    global _registered_pattern
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _registry_lock:
        if value in _registered:
            return
        _registered.add(value)
        # Longest first, and only where the value stands whole (not inside a longer word).
        alternatives = "|".join(re.escape(v) for v in sorted(_registered, key=len, reverse=True))
        _registered_pattern = re.compile(rf"(?<![A-Za-z0-9_\-])(?:{alternatives})(?![A-Za-z0-9_\-])")


def scrub(text: str) -> str:
    """Mask the secrets in free text, and nothing else.

    Masked: anything shaped like a Saber key or HubSpot token (or following `Bearer`), the
    password part of a URL, and each value given to `register_secret`.
    """
    text = _SECRET_VALUES.sub("***", text)
    text = _URL_PASSWORD.sub(r"\1***@", text)
    pattern = _registered_pattern
    if pattern is not None:
        text = pattern.sub("***", text)
    return text


class _CurrentStderr:
    """Whatever `sys.stderr` is at the time of writing, not at configuration.

    The progress bar on a terminal (rich) swaps `sys.stderr` for a proxy that prints each
    line above the bar; log lines written through this object go there too, instead of
    interleaving with the bar or sticking to it.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return getattr(sys.stderr, "isatty", lambda: False)()


def configure_logging(
    level: str = "INFO", fmt: Literal["json", "console"] | None = None, stream: Any = None
) -> None:
    """Configure structlog (and stdlib logging under it) once per process."""
    stream = stream or _CurrentStderr()
    if fmt is None:
        fmt = "console" if getattr(stream, "isatty", lambda: False)() else "json"
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # Libraries that log through stdlib (urllib3, werkzeug) stay quiet below WARNING.
    logging.basicConfig(level=logging.WARNING, stream=stream)


def get_logger(name: str) -> Any:
    """A structlog logger bound to a component name."""
    return structlog.get_logger(component=name)
