"""Builds the two API clients and the state store from settings, in one place."""

from __future__ import annotations

from datetime import timedelta

from connector.http_policy import CallPolicy
from connector.hubspot import HubSpotAdapter
from connector.logs import register_secret
from connector.saber import SaberClient
from connector.settings import Settings
from connector.state import StateStore, parse_url
from connector.state.db import state_secret
from connector.sync.context import EngineConfig


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


def store_from(settings: Settings, *, check_writes: bool = False) -> StateStore:
    """The state store, opened and migrated; its password is registered as a secret (see `register_secret`).

    `check_writes` also tries a write and rolls it back (`check`).
    """
    register_secret(state_secret(parse_url(settings.connector_state_url)))
    return StateStore.open(settings.connector_state_url, check_writes=check_writes)


def engine_config_from(settings: Settings) -> EngineConfig:
    return EngineConfig(
        concurrency=settings.connector_concurrency,
        research_cost=settings.saber_research_cost,
        cursor_overlap=timedelta(seconds=settings.connector_cursor_overlap_seconds),
        poll_min_seconds=settings.connector_poll_min_seconds,
        poll_max_seconds=settings.connector_poll_max_seconds,
        outage_threshold=settings.connector_outage_threshold,
        write_delay=settings.connector_write_delay_seconds,
        signal_batch_size=settings.saber_signal_batch_size,
        signal_batch_wait=settings.saber_signal_batch_wait_seconds,
        lost_grace_seconds=settings.connector_lost_answer_grace_seconds,
        lost_look_seconds=min(20.0, settings.connector_lost_answer_grace_seconds / 3),
        webhook_poll_seconds=settings.connector_webhook_poll_seconds,
    )
