"""Builds the API clients and the state store from settings, in one place."""

from __future__ import annotations

from connector.http_policy import CallPolicy
from connector.hubspot import HubSpotAdapter
from connector.integrations import IntegrationsClient
from connector.logs import register_secret
from connector.saber import SaberClient
from connector.settings import Settings
from connector.state import StateStore, parse_url
from connector.state.db import state_secret


def policy_from(settings: Settings) -> CallPolicy:
    """The one call policy both clients follow (attempts, waits, per-call time cap, timeouts)."""
    return CallPolicy(
        max_attempts=settings.http_max_attempts,
        max_backoff=settings.http_max_backoff,
        max_call_seconds=settings.http_max_call_seconds,
        connect_timeout=settings.http_connect_timeout,
        read_timeout=settings.http_read_timeout,
    )


def hubspot_from(settings: Settings, policy: CallPolicy | None = None) -> HubSpotAdapter:
    """The HubSpot adapter; its token is registered as a secret, masked wherever text is scrubbed."""
    token = settings.require_hubspot_token()
    register_secret(token)
    return HubSpotAdapter(
        settings.hubspot_base_url,
        token,
        policy=policy or policy_from(settings),
        requests_per_10s=settings.hubspot_requests_per_10s,
        searches_per_second=settings.hubspot_searches_per_second,
    )


def saber_from(settings: Settings, policy: CallPolicy | None = None) -> SaberClient:
    """The Saber client; its key is registered as a secret, masked wherever text is scrubbed."""
    key = settings.require_saber_key()
    register_secret(key)
    return SaberClient(
        settings.saber_base_url,
        key,
        policy=policy or policy_from(settings),
        requests_per_second=settings.saber_requests_per_second,
        writes_per_minute=settings.saber_writes_per_minute,
        write_burst=settings.saber_write_burst,
        reads_per_minute=settings.saber_reads_per_minute,
        read_burst=settings.saber_read_burst,
        send_external_ids=settings.saber_external_ids == "auto",
    )


def integrations_from(settings: Settings, policy: CallPolicy | None = None) -> IntegrationsClient:
    """The account-group API client; its key is registered as a secret, masked wherever text is scrubbed."""
    key = settings.require_integrations_key()
    register_secret(key)
    return IntegrationsClient(
        settings.integrations_base_url,
        key,
        account_group=settings.integrations_account_group,
        policy=policy or policy_from(settings),
        job_fields=settings.integrations_job_fields,
    )


def store_from(settings: Settings, *, check_writes: bool = False) -> StateStore:
    """The state store, opened and migrated; its password is registered as a secret (see `register_secret`).

    `check_writes` also tries a write and rolls it back (`check`).
    """
    register_secret(state_secret(parse_url(settings.connector_state_url)))
    return StateStore.open(settings.connector_state_url, check_writes=check_writes)
