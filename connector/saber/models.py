"""Typed views of Saber's answers, tolerant of extra fields, missing fields and both spellings.

Every model keeps the raw JSON it came from (`raw`), so nothing Saber sends is lost even
where the contract is only an assumption.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    AliasGenerator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

# The answer types the contract names; any other type is kept as compact JSON text (A3).
KNOWN_ANSWER_TYPES = frozenset(
    {
        "open_text",
        "number",
        "boolean",
        "list",
        "percentage",
        "currency",
        "url",
        "json_schema",
        "contacts",
        "contacts_generation",
        "contact_posts",
        "contact_engagements",
    }
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _both_spellings(name: str) -> AliasChoices:
    """Read a field under its camelCase name (the API's) or its snake_case one."""
    return AliasChoices(_camel(name), name)


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        frozen=True,
        alias_generator=AliasGenerator(validation_alias=_both_spellings),
    )


class Answer(_Model):
    """A tagged answer: `type` plus the decoded `value` (None when Saber could not verify)."""

    type: str
    value: Any = None

    @classmethod
    def decode(cls, data: Any, answer_type: str | None = None) -> Answer | None:
        """Read `{"type": T, T|camel(T): {"value": V}}`; unknown shapes become JSON text.

        `answer_type` (the signal's `answerType`) names the type when the answer itself
        does not; failing both, a single key named after a known type does.
        """
        if data is None:
            return None
        if not isinstance(data, dict):
            kind = _snake(answer_type) or "unknown"
            plain = isinstance(data, str) or kind in KNOWN_ANSWER_TYPES
            return cls(type=kind, value=data if plain else compact_json(data))
        given = (
            _str(data.get("type") or data.get("answerType") or data.get("answer_type") or answer_type) or ""
        )
        if not given:
            tagged = [k for k in data if _snake(k) in KNOWN_ANSWER_TYPES]
            given = tagged[0] if len(tagged) == 1 else ""
        kind = _snake(given)
        for key in (given, kind, _camel(kind)):
            if key and key in data:
                inner = data[key]
                value = inner.get("value") if isinstance(inner, dict) and "value" in inner else inner
                break
        else:
            value = data.get("value")
            if value is None:
                rest = {k: v for k, v in data.items() if k not in ("type", "answerType", "answer_type")}
                value = compact_json(rest) if rest else None
        if kind not in KNOWN_ANSWER_TYPES and value is not None and not isinstance(value, str):
            value = compact_json(value)
        return cls(type=kind or "unknown", value=value)


def _snake(name: str | None) -> str:
    """`openText` / `open_text` / `Open-Text` → `open_text`."""
    if not name:
        return ""
    return re.sub(r"[\s\-]+", "_", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name))).lower()


def _check_identity(data: dict[str, Any]) -> None:
    """A research's id and status are read strictly: a garbled one (an object, a list, a status
    that is no text) must not be taken as a research to follow, and fails as an invalid answer."""
    if isinstance(data.get("id"), bool) or not isinstance(data.get("id"), str | int | None):
        raise ValueError("id must be a string")
    if data.get("status") is not None and not isinstance(data.get("status"), str):
        raise ValueError("status must be a string")


def _str(value: Any) -> str | None:
    """A text field read leniently: numbers and booleans as text, objects as compact JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return compact_json(value)


def _datetime_or_none(value: Any, handler: ValidatorFunctionWrapHandler) -> datetime | None:
    """A timestamp Saber sends in a shape pydantic cannot read is dropped, not fatal."""
    if value is None or value == "":
        return None
    try:
        parsed: datetime = handler(value)
    except ValidationError:
        return None
    # A timestamp without an offset is read as UTC, so it compares with aware ones.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _int_or_none(value: Any, handler: ValidatorFunctionWrapHandler) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return handler(value)
    except ValidationError:
        return None


LooseStr = Annotated[str | None, BeforeValidator(_str)]
LooseDatetime = Annotated[datetime | None, WrapValidator(_datetime_or_none)]
LooseInt = Annotated[int | None, WrapValidator(_int_or_none)]


class Source(_Model):
    url: LooseStr = None
    title: LooseStr = None
    snippet: LooseStr = None

    @model_validator(mode="before")
    @classmethod
    def _bare_url(cls, data: Any) -> Any:
        return {"url": data} if isinstance(data, str) else data


class _AsyncJob(_Model):
    """What research and signals share: timestamps, failure details and the raw JSON."""

    created_at: LooseDatetime = None
    completed_at: LooseDatetime = None
    error: Any = None
    error_code: LooseStr = None
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True)


class Signal(_AsyncJob):
    """A contact or company signal: one question and its (possibly null) answer."""

    id: LooseStr = None
    status: LooseStr = None
    question: LooseStr = None
    answer_type: LooseStr = None
    signal_type: LooseStr = None
    domain: LooseStr = None
    contact_profile_url: LooseStr = None
    answer: Answer | None = None
    reasoning: LooseStr = None
    confidence: float | None = None
    sources: list[Source] = Field(default_factory=list)
    verification_mode: LooseStr = None
    signal_template_id: LooseStr = None

    @property
    def answered(self) -> bool:
        """Done with an answer to use (completed; a signal that names no status is read as done)."""
        return (self.status or "completed").lower() == "completed"

    @property
    def failed(self) -> bool:
        return (self.status or "").lower() == "failed"

    @property
    def is_done(self) -> bool:
        """Saber says it is done: completed or failed (a signal that names no status is not)."""
        return (self.status or "").lower() in ("completed", "failed")

    @property
    def processing_seconds(self) -> float | None:
        """How long Saber took: `metadata.processingTimeMs`, else completedAt - createdAt (None: unknown)."""
        metadata = self.raw.get("metadata")
        ms = metadata.get("processingTimeMs") if isinstance(metadata, dict) else None
        if isinstance(ms, int | float) and not isinstance(ms, bool) and ms >= 0:
            return float(ms) / 1000.0
        if self.created_at is not None and self.completed_at is not None:
            seconds = (self.completed_at - self.created_at).total_seconds()
            return seconds if seconds >= 0 else None
        return None

    @model_validator(mode="before")
    @classmethod
    def _decode(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        out["raw"] = data
        hint = data.get("answerType", data.get("answer_type"))
        out["answer"] = Answer.decode(data.get("answer"), hint if isinstance(hint, str) else None)
        sources = out.get("sources")
        out["sources"] = (
            [x for x in sources if isinstance(x, dict | str)] if isinstance(sources, list) else []
        )
        if not isinstance(out.get("confidence"), int | float) or isinstance(out.get("confidence"), bool):
            out["confidence"] = None
        return out


# A research's own fields and the inputs it echoes: what is not a finding.
RESEARCH_ENVELOPE = frozenset(
    {
        "id", "status", "externalId", "externalSource", "firstName", "lastName", "companyName",
        "companyDomain", "contactProfileUrl", "linkedInSalesNavigatorUrl", "jobTitle", "webhookUrl",
        "createdAt", "completedAt", "updatedAt", "error", "errorCode", "errorAction", "result", "signals",
    }
)  # fmt: skip


class Research(_AsyncJob):
    """A contact research request: `processing`, then `completed` (with `result`) or `failed`."""

    id: str
    status: str = "processing"
    external_id: LooseStr = None
    external_source: LooseStr = None
    result: dict[str, Any] | None = None
    signals: list[Signal] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _decode(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        out["raw"] = data
        result = data.get("result")
        out["result"] = result if isinstance(result, dict) else None
        raw_signals = (out["result"] or {}).get("signals")
        if not isinstance(raw_signals, list):
            listed = data.get("signals")
            raw_signals = listed if isinstance(listed, list) else []
        out["signals"] = [s for s in raw_signals if isinstance(s, dict)]
        _check_identity(out)
        if out.get("id") is not None:
            out["id"] = str(out["id"])
        # A missing or null status is read as still processing: keep looking, never assume done.
        out["status"] = _str(out.get("status")) or "processing"
        return out

    @property
    def is_done(self) -> bool:
        return self.status in ("completed", "failed")

    @property
    def has_findings(self) -> bool:
        """Whether a completed research says anything beyond its inputs and status: a `result`
        object, or fields of its own at the top level (where Saber may put them)."""
        if self.result is not None:
            return True
        if "result" in self.raw:  # a `result` that is no object is garbage, not findings
            return False
        return any(key not in RESEARCH_ENVELOPE for key in self.raw)

    @classmethod
    def failure(
        cls, research_id: str, code: str | None, message: str | None, completed_at: datetime | None = None
    ) -> Research:
        """A failed research as the connector knows it (stored, timed out): the one synthetic shape."""
        return cls.model_validate(
            {
                "id": research_id,
                "status": "failed",
                "errorCode": code,
                "error": message,
                "completedAt": completed_at,
            }
        )

    def signal_for(self, question: str) -> Signal | None:
        """The result's signal that answers exactly this question (whitespace/case folded).

        Only an answered one: a signal still processing, or failed, answers nothing.
        """
        wanted = " ".join(question.split()).casefold()
        for signal in self.signals:
            if signal.answered and signal.question and " ".join(signal.question.split()).casefold() == wanted:
                return signal
        return None

    @property
    def processing_seconds(self) -> float | None:
        """How long Saber took (completedAt - createdAt), when both are known."""
        if self.created_at is None or self.completed_at is None:
            return None
        seconds = (self.completed_at - self.created_at).total_seconds()
        return seconds if seconds >= 0 else None


class ResearchStarted(_Model):
    """The answer to `POST /v1/contacts/research`."""

    id: str
    status: str = "processing"
    created_at: LooseDatetime = None

    @model_validator(mode="before")
    @classmethod
    def _decode(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        _check_identity(out)
        if out.get("id") is not None:
            out["id"] = str(out["id"])
        out["status"] = _str(out.get("status")) or "processing"
        return out


class SignalPage(_Model):
    """One page of a signal list: `{results, total, limit, offset, count}`."""

    results: list[Signal] = Field(default_factory=list)
    total: LooseInt = None
    limit: LooseInt = None
    offset: LooseInt = None
    count: LooseInt = None

    @model_validator(mode="before")
    @classmethod
    def _decode(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        results = data.get("results")
        return {
            **data,
            "results": [r for r in results if isinstance(r, dict)] if isinstance(results, list) else [],
        }


class SignalTemplate(_Model):
    """A signal template (`GET /v1/companies/signals/templates/{id}`): a named question and answer type."""

    id: LooseStr = None
    name: LooseStr = None
    question: LooseStr = None
    answer_type: LooseStr = None
    version: LooseInt = None
    deleted_at: LooseDatetime = None


class BatchItem(_Model):
    """One signal of a synchronous batch's answer: its id when Saber accepted it, else why not."""

    id: LooseStr = None
    status: LooseStr = None
    domain: LooseStr = None
    question: LooseStr = None
    template_id: LooseStr = None
    error: LooseStr = None
    created_at: LooseDatetime = None


class SignalBatch(_Model):
    """The answer to `POST /v1/companies/signals/batch`: per-signal results, or (async) only the batch."""

    batch_id: LooseStr = None
    status: LooseStr = None
    submitted_at: LooseDatetime = None
    total_signals: LooseInt = None
    accepted: LooseInt = None
    rejected: LooseInt = None
    results: list[BatchItem] = Field(default_factory=list)
    is_async: bool = Field(False, validation_alias=AliasChoices("async", "isAsync", "is_async"))

    @model_validator(mode="before")
    @classmethod
    def _decode(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        results = data.get("results")
        out = {
            **data,
            "results": [r for r in results if isinstance(r, dict)] if isinstance(results, list) else [],
        }
        out["async"] = data.get("async") is True
        return out
