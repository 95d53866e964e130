"""What `check` says of the integrations key: valid?, the groups it reaches, the group used, its permissions.

Reads are probed with the cheapest call that needs them (a list of `limit=1`: nothing is
started, nothing is paid); writes are never probed (the only way to try one is to start
something), so they are reported "not probed" and a missing one shows as a 403 at its first use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.errors import ConfigError, ConnectorError
from connector.integrations.client import (
    AUDIENCES_READ,
    AUDIENCES_WRITE,
    PROSPECTING_READ,
    PROSPECTING_WRITE,
    PROSPECTS_READ,
    SIGNALS_READ,
    SIGNALS_WRITE,
    IntegrationsClient,
)
from connector.integrations.errors import (
    KEY_VARIABLE,
    LABEL,
    IntegrationsPermissionError,
)
from connector.integrations.models import AccountGroup

OK = "ok"
MISSING = "missing"
NOT_PROBED = "not probed"
# Every permission the LinkedIn jobs and scans use, in the order reported.
PERMISSIONS = (
    PROSPECTING_READ,
    PROSPECTING_WRITE,
    PROSPECTS_READ,
    AUDIENCES_READ,
    AUDIENCES_WRITE,
    SIGNALS_READ,
    SIGNALS_WRITE,
)


@dataclass(frozen=True)
class IntegrationsReport:
    """The probe's findings; `problems` each with the exit code it adds up to (2 config, 3 key/API)."""

    base_url: str
    key_ok: bool
    groups: tuple[AccountGroup, ...] = ()
    group: str | None = None
    permissions: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[tuple[str, int], ...] = ()

    @property
    def problem_texts(self) -> list[str]:
        return [text for text, _ in self.problems]

    @property
    def exit_code(self) -> int:
        return max((code for _, code in self.problems), default=0)

    def lines(self) -> list[tuple[bool, str]]:
        """`(ok, text)` lines, as `check` reports them."""
        out: list[tuple[bool, str]] = []
        where = f"{LABEL} at {self.base_url}"
        if self.key_ok:
            reached = ", ".join(f"{g.id} ({g.name})" for g in self.groups) or "none"
            out.append((True, f"{where} accepts {KEY_VARIABLE}; account groups reached: {reached}"))
        if self.group is not None:
            out.append((True, f"account group used: {self.group}"))
        if self.permissions:
            shown = ", ".join(f"{name} {state}" for name, state in self.permissions.items())
            out.append((True, f"integrations permissions: {shown}"))  # a missing one is also a problem
        out.extend((False, f"{where}: {text}") for text in self.problem_texts)
        return out

    def as_dict(self) -> dict[str, Any]:
        """For `check --output json`."""
        return {
            "base_url": self.base_url,
            "key_ok": self.key_ok,
            "groups": [{"id": g.id, "name": g.name} for g in self.groups],
            "group": self.group,
            "permissions": dict(self.permissions),
            "problems": self.problem_texts,
        }


def probe(client: IntegrationsClient) -> IntegrationsReport:
    """Ask the API what the key may do, each answer a finding, never an exception."""
    problems: list[tuple[str, int]] = []
    try:
        groups = tuple(client.groups())
    except ConnectorError as exc:
        # A 403 here: the key is known, it only lacks a permission; anything else: not known to work.
        key_ok = isinstance(exc, IntegrationsPermissionError)
        return IntegrationsReport(client.base_url, key_ok, problems=((str(exc), _code(exc)),))
    try:
        group: str | None = client.group()
    except ConfigError as exc:
        return IntegrationsReport(client.base_url, True, groups, problems=((str(exc), 2),))
    permissions = dict.fromkeys(PERMISSIONS, NOT_PROBED)
    reads: dict[str, Callable[[], Any]] = {
        PROSPECTING_READ: lambda: next(client.jobs(page_size=1), None),
        AUDIENCES_READ: lambda: next(client.audiences(page_size=1), None),
        SIGNALS_READ: lambda: next(client.scans(page_size=1), None),
    }
    for permission, read in reads.items():
        try:
            read()
        except IntegrationsPermissionError:
            permissions[permission] = MISSING
            problems.append((f"the key lacks {permission}", 3))
        except ConnectorError as exc:
            problems.append((f"{permission} not probed: {exc}", _code(exc)))
        else:
            permissions[permission] = OK
    return IntegrationsReport(client.base_url, True, groups, group, permissions, tuple(problems))


def _code(exc: ConnectorError) -> int:
    return 3 if exc.exit_code == 3 else max(exc.exit_code, 2)
