"""Helpers shared by the HubSpot sandbox and adapter tests (plain functions, no fixtures)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from connector.http_policy import CallPolicy
from connector.hubspot import HubSpotAdapter
from connector.sandbox.hubspot import HubSpotSandbox

CONTACTS = "/crm/v3/objects/contacts"
SEARCH = "/crm/v3/objects/contacts/search"
BATCH_READ = "/crm/v3/objects/contacts/batch/read"
BATCH_UPDATE = "/crm/v3/objects/contacts/batch/update"
PROPERTIES = "/crm/v3/properties/contacts"
GROUPS = "/crm/v3/properties/contacts/groups"


@contextmanager
def running(**options: Any) -> Iterator[HubSpotSandbox]:
    """A started sandbox (generous limits unless given), stopped afterwards."""
    options.setdefault("requests_per_10s", 10_000)
    options.setdefault("searches_per_second", 1_000)
    box = HubSpotSandbox(**options).start()
    try:
        yield box
    finally:
        box.stop()


def http(box: HubSpotSandbox, token: str | None = None) -> httpx.Client:
    """A plain HTTP client for the sandbox, authenticated unless token is ''."""
    token = box.token if token is None else token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=box.url, headers=headers, timeout=10)


POLICY_FIELDS = frozenset(f.name for f in dataclasses.fields(CallPolicy))


def fast_adapter(box: HubSpotSandbox, **options: Any) -> HubSpotAdapter:
    """An adapter with short back-offs and limits that do not get in the way of a test.

    Options named like a `CallPolicy` field go to the policy, the rest to the adapter.
    """
    policy: dict[str, Any] = {
        "backoff_base": 0.01,
        "max_backoff": 0.05,
        "connect_timeout": 2.0,
        "read_timeout": 10.0,
    }
    policy.update({name: options.pop(name) for name in POLICY_FIELDS & options.keys()})
    options.setdefault("requests_per_10s", 10_000)
    options.setdefault("searches_per_second", 1_000)
    token = options.pop("token", box.token)
    return HubSpotAdapter(box.url, token, policy=CallPolicy(**policy), **options)


def embedded_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-property errors HubSpot embeds as JSON text in a validation error's message."""
    prefix = "Property values were not valid: "
    assert body["message"].startswith(prefix), body["message"]
    return json.loads(body["message"][len(prefix) :])


def statuses(box: HubSpotSandbox, endpoint: str | None = None) -> list[int]:
    """Status codes the sandbox answered, in order (0: connection reset)."""
    return [r.status for r in box.requests if endpoint is None or r.endpoint == endpoint]
