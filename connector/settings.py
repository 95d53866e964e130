"""Runtime settings from the environment, an optional `.env` and an optional TOML file.

The environment names are a public contract (README, Dockerfile, deployments): the field
names below are exactly those names in lower case, and the TOML file uses the same keys.
"""

from __future__ import annotations

import io
import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv.parser import parse_stream
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from connector.errors import ConfigError
from connector.mapping.hints import did_you_mean

CONFIG_ENV = "CONNECTOR_CONFIG"
DEFAULT_STATE_URL = "sqlite:///state/connector.db"
DEFAULT_MAPPING = "mappings/default.yaml"  # relative to the working directory
SECRET_FIELDS = ("hubspot_access_token", "saber_api_key", "integrations_api_key", "connector_webhook_secret")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    """Everything the connector reads from its environment; secrets are `SecretStr`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
    )

    # Each description is the one-line comment `saber-connector init` writes into .env.example.
    hubspot_access_token: SecretStr | None = Field(
        None, description="HubSpot private app token (secret: never printed or logged)"
    )
    saber_api_key: SecretStr | None = Field(None, description="Saber API key (secret)")
    integrations_api_key: SecretStr | None = Field(
        None, description="Saber integrations (account-group) API key, for LinkedIn jobs and scans (secret)"
    )
    hubspot_base_url: str = Field("https://api.hubapi.com", description="HubSpot API base URL")
    saber_base_url: str = Field("https://api.saber.app", description="Saber API base URL")
    integrations_base_url: str = Field(
        "https://api.sonarly.io", description="integrations API base URL (paths are under /v1)"
    )
    integrations_account_group: str | None = Field(
        None, description="account group id (or name) to use; unset: the only one the key reaches"
    )
    # NoDecode: the validator reads the JSON, so a malformed value is one line naming the setting.
    integrations_job_fields: Annotated[dict[str, str], NoDecode] = Field(
        {},
        description="JSON renames of the unpublished job request fields (assumption I1), "
        'e.g. {"profileUrls": "urls"}',
    )
    connector_state_url: str = Field(
        DEFAULT_STATE_URL, description="state database; postgresql+psycopg://user@host/db for replicas"
    )
    connector_mapping: Path = Field(Path(DEFAULT_MAPPING), description="the mapping file")
    connector_log_format: Literal["json", "console"] | None = Field(
        None, description="json or console (unset: console on a terminal, else json)"
    )
    connector_log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL")

    # Tuning knobs: not part of the public contract, but configurable the same way.
    http_connect_timeout: float = Field(5.0, gt=0, description="seconds to connect to an API")
    http_read_timeout: float = Field(30.0, gt=0, description="seconds to wait for an API's answer")
    http_max_attempts: int = Field(
        6, ge=1, le=20, description="attempts per API call (1-20), retries included"
    )
    http_max_backoff: float = Field(60.0, gt=0, description="longest wait between two attempts, in seconds")
    http_max_call_seconds: float = Field(
        300.0,
        gt=0,
        description="no retry starts after one call (its retries and waits included) took this long",
    )
    saber_requests_per_second: float | None = Field(
        None,
        gt=0,
        description="Saber calls a second, evenly spaced, on top of the write and read limits (unset: none)",
    )
    saber_writes_per_minute: int = Field(
        2000, ge=1, description="Saber writes (POSTs) a minute, client-side; Saber publishes 2,000"
    )
    saber_write_burst: int = Field(
        400, ge=1, description="Saber writes at once before the per-minute pace applies; published: 400"
    )
    saber_reads_per_minute: int = Field(
        100_000, ge=1, description="Saber reads (GETs) a minute, client-side; Saber publishes 100,000"
    )
    saber_read_burst: int = Field(
        10_000, ge=1, description="Saber reads at once before the per-minute pace applies; published: 10,000"
    )
    hubspot_requests_per_10s: int = Field(
        90, ge=1, description="under HubSpot's 100 per 10 s for Free/Starter apps"
    )
    hubspot_searches_per_second: int = Field(4, ge=1, description="under HubSpot's 5 searches per second")
    connector_concurrency: int = Field(
        8, ge=1, le=64, description="research launched or looked up at once (1-64)"
    )
    connector_poll_min_seconds: float = Field(
        2.0,
        gt=0,
        description="shortest wait before a look-up of research or a signal, in seconds; the first looks "
        "follow how long this portal's research and signals take (learned), a sample looks early",
    )
    connector_poll_max_seconds: float = Field(
        3600.0, gt=0, description="longest wait between two look-ups of one research, in seconds"
    )
    connector_cursor_overlap_seconds: int = Field(
        600, ge=0, description="re-read contacts modified this far behind the saved cursor, in seconds"
    )
    saber_research_cost: int = Field(1, ge=0, description="credits one research costs (for the budget)")
    saber_external_ids: Literal["auto", "off"] = Field(
        "auto",
        description="auto: send externalId/externalSource with each research until Saber refuses them; "
        "off: never send them (the stored research id finds each research)",
    )
    connector_outage_threshold: int = Field(
        3,
        ge=1,
        description="Saber calls of one kind failing in a row after retries before Saber counts as down",
    )

    saber_signal_batch_size: int = Field(
        100, ge=1, le=1000, description="company signals (questions x domains) asked in one batch call"
    )
    saber_signal_batch_wait_seconds: int = Field(
        10,
        ge=1,
        le=900,
        description="X-Sbr-Timeout-Sec asked of a batch call; it is read this long plus HTTP_READ_TIMEOUT",
    )
    connector_lost_answer_grace_seconds: float = Field(
        120.0,
        gt=0,
        description="a signal ask whose answer was lost is looked for in Saber's lists this long before "
        "it counts as never made (and may be paid again)",
    )
    connector_write_delay_seconds: float = Field(
        10.0,
        ge=0,
        description="seconds a finished result may wait for a full batch of 100 before it is sent",
    )

    # The long-running service (`saber-connector run`).
    connector_schedule: str = Field(
        "15m",
        description="full sync: a five-field cron expression (*/15 * * * *) or an interval (30s, 15m, 1h)",
    )
    connector_collect_interval: str = Field(
        "1m", description="collect cycle (pending research only, no pull): an interval (30s, 1m, 1h)"
    )
    connector_prospect_schedule: str | None = Field(
        None,
        description="prospecting stage (`prospect`), on its own schedule: a five-field cron expression or an "
        "interval (30s, 15m, 1h); unset: off (it runs only with a prospecting section in the mapping)",
    )
    connector_linkedin_schedule: str | None = Field(
        None,
        description="linkedin cycle (start the jobs and scans that are due, collect what finished): "
        "a five-field cron expression or an interval; unset: the collect interval, when the mapping "
        "has a linkedin section and INTEGRATIONS_API_KEY is set",
    )
    connector_reconcile_schedule: str = Field(
        "24h",
        description="reconciliation (`reconcile`: forget contacts HubSpot archived or deleted, apply "
        "retention): a five-field cron expression (0 3 * * *) or an interval (24h)",
    )
    connector_result_retention_days: int = Field(
        365,
        ge=1,
        description="research results and signal answers older than this, for contacts not researched "
        "since, lose their personal fields at reconciliation (the paid-for marker stays)",
    )
    connector_history_retention_days: int = Field(
        90, ge=1, description="run history and errors older than this are dropped at reconciliation"
    )
    connector_setup_on_start: bool = Field(
        True, description="create the mapped properties at start, as `setup` does (false: only check them)"
    )
    connector_shutdown_timeout: float = Field(
        25.0,
        gt=0,
        description="seconds a SIGTERM may take: the cycle in flight lands, then the process exits",
    )
    connector_http_host: str = Field(
        "0.0.0.0", description="address of /healthz, /readyz, /metrics, webhooks"
    )
    connector_http_port: int = Field(8080, ge=0, le=65535, description="port of that server (0: any free)")
    connector_status_page: bool = Field(
        True, description="serve the status page at /status on that server (false: 404)"
    )
    connector_public_url: str | None = Field(
        None, description="URL Saber can reach this service at; when set, research reports back by webhook"
    )
    connector_webhook_poll_seconds: float = Field(
        600.0,
        gt=0,
        description="with webhooks on, the one safety poll of a research, seconds after its launch",
    )
    connector_webhook_secret: SecretStr | None = Field(
        None,
        repr=False,
        description="webhook path secret (secret; unset: generated once and kept in the state database)",
    )
    connector_backoff_initial_seconds: float = Field(
        30.0, gt=0, description="first pause after a refused key or HubSpot's DAILY limit; doubles each time"
    )
    connector_backoff_max_seconds: float = Field(
        900.0, gt=0, description="longest pause after a refused key or HubSpot's DAILY limit"
    )

    @field_validator("connector_schedule", "connector_reconcile_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        from connector.service.schedule import parse_schedule

        parse_schedule(value)  # raises ValueError naming what is allowed
        return value.strip()

    @field_validator("connector_prospect_schedule", mode="before")
    @classmethod
    def _prospect_schedule(cls, value: Any) -> Any:
        """Empty or unset: prospecting off; anything else must be a schedule, as `CONNECTOR_SCHEDULE`."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        from connector.service.schedule import ALLOWED, parse_schedule

        if not isinstance(value, str):
            raise ValueError(f"must be {ALLOWED}")
        parse_schedule(value)  # raises ValueError naming what is allowed
        return value.strip()

    @field_validator("connector_linkedin_schedule", mode="before")
    @classmethod
    def _linkedin_schedule(cls, value: Any) -> Any:
        """Empty or unset: the collect interval; anything else must be a schedule, as `CONNECTOR_SCHEDULE`."""
        return cls._prospect_schedule(value)

    @field_validator("integrations_account_group", mode="before")
    @classmethod
    def _group(cls, value: Any) -> Any:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("integrations_job_fields", mode="before")
    @classmethod
    def _job_fields(cls, value: Any) -> Any:
        """Empty: no renames; each rename maps a canonical field name to a non-empty name."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError('must be a JSON object such as {"profileUrls": "urls"}') from None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and k and isinstance(v, str) and v.strip() for k, v in value.items()
        ):
            raise ValueError('must be a JSON object of field names such as {"profileUrls": "urls"}')
        return {k: v.strip() for k, v in value.items()}

    @field_validator("connector_collect_interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        from connector.service.schedule import parse_interval

        parse_interval(value)
        return value.strip()

    @field_validator(
        "connector_webhook_secret", "saber_requests_per_second", "integrations_api_key", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """An empty value (as `.env.example` leaves it) means unset (for the webhook secret: generate one)."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("connector_public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return cls._http_url(value)

    @field_validator("hubspot_base_url", "saber_base_url", "integrations_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")) or value[-3:] == "://":
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("connector_log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("connector_log_format", mode="before")
    @classmethod
    def _log_format(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) and value.strip() else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file (if any) comes from model_config["toml_file"], set by load_settings.
        toml = TomlConfigSettingsSource(settings_cls)
        return (init_settings, env_settings, dotenv_settings, toml)

    def require_hubspot_token(self) -> str:
        """The HubSpot token, or a `ConfigError` naming the variable."""
        if self.hubspot_access_token is None or not self.hubspot_access_token.get_secret_value():
            raise ConfigError("HUBSPOT_ACCESS_TOKEN is not set")
        return self.hubspot_access_token.get_secret_value()

    def require_integrations_key(self) -> str:
        """The integrations API key, or a `ConfigError` naming the variable."""
        if self.integrations_api_key is None or not self.integrations_api_key.get_secret_value():
            raise ConfigError("INTEGRATIONS_API_KEY is not set")
        return self.integrations_api_key.get_secret_value()

    def require_saber_key(self) -> str:
        """The Saber key, or a `ConfigError` naming the variable."""
        if self.saber_api_key is None or not self.saber_api_key.get_secret_value():
            raise ConfigError("SABER_API_KEY is not set")
        return self.saber_api_key.get_secret_value()


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Read settings, turning any problem into one `ConfigError` line that names its source."""
    path = config_file or os.environ.get(CONFIG_ENV) or None
    _check_dotenv(Path(str(Settings.model_config.get("env_file") or ".env")))
    toml_keys: set[str] = set()
    if path is not None:
        path = Path(path)
        toml_keys = _check_toml(path)
    cls: type[Settings] = Settings
    if path is not None:
        config = SettingsConfigDict(**{**Settings.model_config, "toml_file": path})
        cls = type("FileSettings", (Settings,), {"model_config": config})
    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, toml_keys)) from None


def _check_dotenv(path: Path) -> None:
    """Read `.env` up front: python-dotenv drops a line it cannot parse with a warning that names no
    file (the setting on it silently lost), and a file that is not UTF-8 would end in a traceback.

    The line itself is never shown: it may hold a key.
    """
    if not path.is_file():
        return
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            statement = binding.original.string  # from the blank lines before it
            blank = statement[: len(statement) - len(statement.lstrip())]
            line = binding.original.line + blank.count("\n")
            raise ConfigError(
                f"{path}:{line}: not a NAME=value line "
                "(quote a value with spaces or #; a comment starts with #)"
            )


def _check_toml(path: Path) -> set[str]:
    """Parse the config file up front so that a bad file is named, with its unknown keys."""
    if not path.is_file():
        raise ConfigError(f"config file {path}: not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: invalid TOML: {exc}") from None
    known = set(Settings.model_fields)
    unknown = sorted(k for k in data if k.lower() not in known)
    if unknown:
        hint = did_you_mean(unknown[0].lower(), known)
        if hint:
            raise ConfigError(f"config file {path}: unknown key {unknown[0]!r}; did you mean {hint!r}?")
        raise ConfigError(
            f"config file {path}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(known))})"
        )
    return {k.lower() for k in data}


def _describe(exc: ValidationError, path: Path | None, toml_keys: set[str]) -> str:
    """One line for the first error, naming the environment variable or the file key."""
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err["loc"] else "?"
    message = err["msg"].removeprefix("Value error, ")
    if "input" in err and field not in SECRET_FIELDS:
        message += f" (got {err['input']!r})"
    if field.upper() in os.environ or path is None or field not in toml_keys:
        return f"setting {field.upper()}: {message}"
    return f"config file {path}: key {field}: {message}"
