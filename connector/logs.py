"""structlog set-up: JSON in containers, readable on a terminal, secrets never printed."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

_SECRET_KEYS = re.compile(r"token|api_key|apikey|authorization|secret|password", re.I)
_SECRET_VALUES = re.compile(r"(sk_live_|sk_test_|pat-(?:na|eu)\d-)[A-Za-z0-9_\-]+|Bearer\s+\S+")


def redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Blank out values under secret-looking keys and anything shaped like a key or token."""
    for key, value in list(event.items()):
        if _SECRET_KEYS.search(key) and not key.endswith(("_count", "_total")):
            event[key] = "***"
        elif isinstance(value, str):
            event[key] = scrub(value)
    return event


def scrub(text: str) -> str:
    """Remove anything shaped like a Saber key or HubSpot token from free text."""
    return _SECRET_VALUES.sub("***", text)


def configure_logging(
    level: str = "INFO", fmt: Literal["json", "console"] | None = None, stream: Any = None
) -> None:
    """Configure structlog (and stdlib logging under it) once per process."""
    stream = stream or sys.stderr
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
