"""A running account-group API sandbox and a client with short back-offs, for the client's tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from connector.http_policy import CallPolicy
from connector.integrations import IntegrationsClient
from connector.sandbox.integrations import IntegrationsSandbox

POLICY_FIELDS = frozenset(f.name for f in dataclasses.fields(CallPolicy))


def fast_client(box: IntegrationsSandbox, **options: Any) -> IntegrationsClient:
    """A client of `box` with tiny back-offs; options named like a `CallPolicy` field go to the policy."""
    policy: dict[str, Any] = {
        "backoff_base": 0.01,
        "max_backoff": 0.05,
        "max_attempts": 4,
        "connect_timeout": 2.0,
        "read_timeout": 10.0,
    }
    policy.update({name: options.pop(name) for name in POLICY_FIELDS & options.keys()})
    key = options.pop("api_key", box.api_key)
    return IntegrationsClient(box.url, key, policy=CallPolicy(**policy), **options)


@pytest.fixture
def box() -> Iterator[IntegrationsSandbox]:
    with IntegrationsSandbox(job_seconds=0.3, scan_seconds=0.2, evaluate_seconds=0.2) as sandbox:
        yield sandbox


@pytest.fixture
def client(box: IntegrationsSandbox) -> Iterator[IntegrationsClient]:
    with fast_client(box) as made:
        yield made
