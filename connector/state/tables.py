"""The state schema as SQLAlchemy declarative models, portable across SQLite and PostgreSQL.

The migrations in `migrations/versions` create exactly this schema (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

RESEARCH_STATUSES = ("none", "processing", "completed", "failed")
RUN_OUTCOMES = ("running", "ok", "partial", "failed", "interrupted", "skipped")
UNWRITTEN = "unwritten"  # write_pending of a result recorded but not yet sent to HubSpot
DEFERRALS = ("launch_cap", "no_credits", "launch_failed")  # why a launch waits for a later run
CHUNK = 500  # ids per IN (...) query: well under SQLite's and PostgreSQL's parameter limits
MAX_TEXT = 4000  # error texts are truncated to this many characters


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out on every backend.

    SQLite has no time zone type and hands back naive values: they are stored as naive
    UTC (so that text comparison orders them correctly) and made aware on the way out.
    A naive datetime passed in is a bug in the caller and is refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to the state store; use UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json() -> JSON:
    # None is SQL NULL, not the JSON literal null, so "IS NULL" finds it.
    return JSON(none_as_null=True)


EMPTY_JSON_OBJECT = text("'{}'")


class Base(DeclarativeBase):
    """Declarative base of the state tables."""


class ContactRow(Base):
    """What the connector knows about one HubSpot contact."""

    __tablename__ = "contacts"

    contact_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(255))
    fingerprint: Mapped[str | None] = mapped_column(String(128))
    research_id: Mapped[str | None] = mapped_column(String(255))
    research_status: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    research_error_code: Mapped[str | None] = mapped_column(String(255))
    research_error: Mapped[str | None] = mapped_column(Text)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    check_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failure_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    skip_reason: Mapped[str | None] = mapped_column(Text)
    # A launch put off to a later run (cap, credits, Saber failing): why, as a code (DEFERRALS).
    deferred: Mapped[str | None] = mapped_column(String(64))
    # A result not landed in HubSpot yet: UNWRITTEN, or the code of the write that failed.
    write_pending: Mapped[str | None] = mapped_column(String(255))
    merged_into: Mapped[str | None] = mapped_column(String(64))  # HubSpot merged it into this contact
    company_id: Mapped[str | None] = mapped_column(String(64))  # the HubSpot company it was matched to
    company_unmatched: Mapped[str | None] = mapped_column(Text)  # why no company could be matched
    company_pending: Mapped[str | None] = mapped_column(String(64))  # its company answers wait to land
    last_error: Mapped[str | None] = mapped_column(Text)
    written: Mapped[dict[str, str]] = mapped_column(_json(), default=dict, server_default=EMPTY_JSON_OBJECT)
    written_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    result: Mapped[dict[str, Any] | None] = mapped_column(_json())
    signals: Mapped[dict[str, Any]] = mapped_column(_json(), default=dict, server_default=EMPTY_JSON_OBJECT)

    __table_args__ = (
        Index("ix_contacts_status_next_check", "research_status", "next_check_at"),
        Index("ix_contacts_deferred", "deferred"),
        Index("ix_contacts_write_pending", "write_pending"),
        Index("ix_contacts_fingerprint", "fingerprint"),  # the same person entered twice, found at once
    )


class CursorRow(Base):
    """A named position, e.g. the last-modified time up to which contacts were pulled."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RunRow(Base):
    """One sync cycle, for `status` and for spotting runs that died."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16), default="running", server_default="running")
    counts: Mapped[dict[str, Any] | None] = mapped_column(_json())
    error: Mapped[str | None] = mapped_column(Text)


class ErrorRow(Base):
    """One record-level error, kept so `status` can show the most common ones."""

    __tablename__ = "errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("runs.id", ondelete="SET NULL"))
    contact_id: Mapped[str | None] = mapped_column(String(64))
    property: Mapped[str | None] = mapped_column(String(255))
    code: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_errors_code", "code"),
        Index("ix_errors_at", "at"),
        Index("ix_errors_run_id", "run_id"),
    )


class SignalAnswerRow(Base):
    """One signal answer shared by every contact with the same target (a company domain, a profile URL)."""

    __tablename__ = "signal_answers"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of scope, target, question, type
    scope: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)
    question: Mapped[str] = mapped_column(Text)
    answer_type: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))  # asked (paid) | saber_list (found, free)
    signal: Mapped[dict[str, Any]] = mapped_column(_json())
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CompanyRow(Base):
    """A HubSpot company the connector writes: its domain and hashes of what it last wrote there.

    Company answers themselves live in `signal_answers` (asked once per domain); this row
    is what keeps a person's edit on the company safe and an unchanged company unwritten.
    """

    __tablename__ = "companies"

    company_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the HubSpot company id
    domain: Mapped[str | None] = mapped_column(String(253), index=True)
    written: Mapped[dict[str, str]] = mapped_column(  # property -> value hash
        _json(), default=dict, server_default=EMPTY_JSON_OBJECT
    )
    written_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    write_pending: Mapped[str | None] = mapped_column(String(64))  # why values wait to land, if they do
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


SIGNAL_ASK_STATUSES = ("asking", "processing", "failed")


class SignalAskRow(Base):
    """One signal asked of Saber (or about to be) whose answer is not kept yet.

    `asking`: claimed, and perhaps sent, with no id known (a crash or a lost answer leaves
    it): looked for in Saber's lists before it is paid again. `processing`: Saber answered
    with the signal's id; collected by id. `failed`: Saber ended it failed (`error_code`);
    asked again by a later run. A completed answer moves to `signal_answers` and the row goes.
    """

    __tablename__ = "signal_asks"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # the answer's key (signal_answers)
    scope: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)
    question: Mapped[str] = mapped_column(Text)
    answer_type: Mapped[str] = mapped_column(String(64))
    template_id: Mapped[str | None] = mapped_column(String(255))
    verification_mode: Mapped[str | None] = mapped_column(String(16))
    signal_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    check_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error_code: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_signal_asks_status_next_check", "status", "next_check_at"),)


class SignalWaitRow(Base):
    """A contact whose result waits on a signal ask (its values land once the answer is kept)."""

    __tablename__ = "signal_waits"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = (Index("ix_signal_waits_contact_id", "contact_id"),)


class TimingRow(Base):
    """How long one research or signal took at Saber here (the schedule of first looks learns from it)."""

    __tablename__ = "timings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    seconds: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_timings_kind_id", "kind", "id"),)


class ProspectAccountRow(Base):
    """A target company prospecting searched: when, whether it finished, or why it was skipped."""

    __tablename__ = "prospect_accounts"

    company_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    searched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 0: cut short, do next
    skip_reason: Mapped[str | None] = mapped_column(String(64))  # no_linkedin_url, url_rejected, ...
    detail: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProspectCandidateRow(Base):
    """A person prospecting found and meant to create: claimed before the create is sent."""

    __tablename__ = "prospect_candidates"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the stable identity
    company_id: Mapped[str] = mapped_column(String(64))
    sales_navigator_url: Mapped[str | None] = mapped_column(Text)
    first_name: Mapped[str | None] = mapped_column(Text)
    last_name: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # claimed | created
    contact_id: Mapped[str | None] = mapped_column(String(64))
    search: Mapped[str | None] = mapped_column(Text)  # the search that found it (JSON body)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_prospect_candidates_status", "status"),
        Index("ix_prospect_candidates_company_id", "company_id"),
        Index("ix_prospect_candidates_contact_id", "contact_id"),
    )


LINKEDIN_KEY = 128  # an Idempotency-Key: "sc-li-" and a sha256, with room to spare


class LinkedInJobRow(Base):
    """A LinkedIn prospecting job planned (its key recorded before the start), started, followed, imported."""

    __tablename__ = "linkedin_jobs"

    key: Mapped[str] = mapped_column(String(LINKEDIN_KEY), primary_key=True)  # the Idempotency-Key
    kind: Mapped[str] = mapped_column(String(16))  # job | upload
    name: Mapped[str] = mapped_column(String(255))  # the mapping's job name, or the scan's for an upload
    request: Mapped[str] = mapped_column(Text)  # the JSON body started (text)
    credits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # the estimate held
    audience_id: Mapped[str | None] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_linkedin_jobs_kind_name_planned_at", "kind", "name", "planned_at"),
        Index("ix_linkedin_jobs_status", "status"),
    )


class LinkedInProspectRow(Base):
    """A prospect of the account-group API and the HubSpot contact it is (claimed before its create)."""

    __tablename__ = "linkedin_prospects"

    prospect_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(512), default="", server_default="")  # linkedin key, or ""
    contact_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # claimed | created | matched | uploaded
    first_name: Mapped[str | None] = mapped_column(Text)
    last_name: Mapped[str | None] = mapped_column(Text)
    company: Mapped[str | None] = mapped_column(Text)
    job: Mapped[str | None] = mapped_column(String(255))  # the job name that brought them
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_linkedin_prospects_key", "key"),
        Index("ix_linkedin_prospects_contact_id", "contact_id"),
        Index("ix_linkedin_prospects_status", "status"),
    )


class LinkedInJobProspectRow(Base):
    """Which job imported which prospect (a person found by several jobs has a row for each)."""

    __tablename__ = "linkedin_job_prospects"

    job_key: Mapped[str] = mapped_column(String(LINKEDIN_KEY), primary_key=True)
    prospect_id: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = (Index("ix_linkedin_job_prospects_prospect_id", "prospect_id"),)


class LinkedInUploadRow(Base):
    """A HubSpot contact's LinkedIn URL sent in a `url_upload` job: recorded before the start, paid once."""

    __tablename__ = "linkedin_uploads"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)  # the linkedin key of the URL
    url: Mapped[str] = mapped_column(Text)
    contact_id: Mapped[str] = mapped_column(String(64))
    job_key: Mapped[str] = mapped_column(String(LINKEDIN_KEY))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_linkedin_uploads_job_key", "job_key"),)


class LinkedInScanRow(Base):
    """A signal scan planned (its key recorded before the start), started, followed, its results collected."""

    __tablename__ = "linkedin_scans"

    key: Mapped[str] = mapped_column(String(LINKEDIN_KEY), primary_key=True)  # the Idempotency-Key
    name: Mapped[str] = mapped_column(String(255))  # the mapping's scan name
    specification_id: Mapped[str] = mapped_column(String(64))
    audience_id: Mapped[str] = mapped_column(String(64))
    scan_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_linkedin_scans_name_planned_at", "name", "planned_at"),
        Index("ix_linkedin_scans_status", "status"),
    )


class LinkedInResultRow(Base):
    """A prospect's latest results for one scan (by name): the values to write and the hash last written."""

    __tablename__ = "linkedin_results"

    scan: Mapped[str] = mapped_column(String(255), primary_key=True)  # the mapping's scan name
    prospect_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # pending | evaluated
    values_json: Mapped[str] = mapped_column(Text)  # property -> value (JSON text)
    values_hash: Mapped[str | None] = mapped_column(String(128))
    written_hash: Mapped[str | None] = mapped_column(String(128))
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)
    written_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_linkedin_results_contact_id", "contact_id"),)


def _table(model: type[Base]) -> Table:
    """The model's `Table` (typed as such: `Model.__table__` is only a `FromClause` to mypy)."""
    return Base.metadata.tables[model.__tablename__]


contacts = _table(ContactRow)
companies = _table(CompanyRow)
signal_answers = _table(SignalAnswerRow)
signal_asks = _table(SignalAskRow)
signal_waits = _table(SignalWaitRow)
timings = _table(TimingRow)
cursors = _table(CursorRow)
runs = _table(RunRow)
errors = _table(ErrorRow)
prospect_accounts = _table(ProspectAccountRow)
prospect_candidates = _table(ProspectCandidateRow)
linkedin_jobs = _table(LinkedInJobRow)
linkedin_prospects = _table(LinkedInProspectRow)
linkedin_job_prospects = _table(LinkedInJobProspectRow)
linkedin_uploads = _table(LinkedInUploadRow)
linkedin_scans = _table(LinkedInScanRow)
linkedin_results = _table(LinkedInResultRow)
