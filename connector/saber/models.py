"""Typed views of Saber's answers, tolerant of extra fields, missing fields and both spellings.

Every model keeps the raw JSON it came from (`raw`), so nothing Saber sends is lost even
where the contract is only an assumption.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

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


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class Answer(_Model):
    """A tagged answer: `type` plus the decoded `value` (None when Saber could not verify)."""

    type: str
    value: Any = None

    @classmethod
    def decode(cls, data: Any) -> Answer | None:
        """Read `{"type": T, T|camel(T): {"value": V}}`; unknown shapes become JSON text."""
        if data is None:
            return None
        if not isinstance(data, dict):
            return cls(type="unknown", value=compact_json(data))
        given = str(data.get("type") or data.get("answerType") or data.get("answer_type") or "")
        kind = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", given).lower()
        for key in (given, kind, _camel(kind)):
            if key and key in data:
                inner = data[key]
                value = inner.get("value") if isinstance(inner, dict) and "value" in inner else inner
                break
        else:
            value = data.get("value")
            if value is None:
                rest = {k: v for k, v in data.items() if k != "type"}
                value = compact_json(rest) if rest else None
        if kind not in KNOWN_ANSWER_TYPES and value is not None and not isinstance(value, str):
            value = compact_json(value)
        return cls(type=kind or "unknown", value=value)


class Source(_Model):
    url: str | None = None
    title: str | None = None
    snippet: str | None = None


class Signal(_Model):
    """A contact or company signal: one question and its (possibly null) answer."""

    id: str | None = None
    status: str | None = None
    question: str | None = None
    answer_type: str | None = Field(None, validation_alias=AliasChoices("answerType", "answer_type"))
    signal_type: str | None = Field(None, validation_alias=AliasChoices("signalType", "signal_type"))
    domain: str | None = None
    contact_profile_url: str | None = Field(
        None, validation_alias=AliasChoices("contactProfileUrl", "contact_profile_url")
    )
    created_at: datetime | None = Field(None, validation_alias=AliasChoices("createdAt", "created_at"))
    completed_at: datetime | None = Field(None, validation_alias=AliasChoices("completedAt", "completed_at"))
    answer: Answer | None = None
    reasoning: str | None = None
    confidence: float | None = None
    sources: list[Source] = Field(default_factory=list)
    error: Any = None
    error_code: str | None = Field(None, validation_alias=AliasChoices("errorCode", "error_code"))
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _decode(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        out["raw"] = data
        out["answer"] = Answer.decode(data.get("answer"))
        if out.get("sources") is None:
            out["sources"] = []
        if not isinstance(out.get("sources"), list):
            out["sources"] = []
        if not isinstance(out.get("confidence"), int | float) or isinstance(out.get("confidence"), bool):
            out["confidence"] = None
        return out


class Research(_Model):
    """A contact research request: `processing`, then `completed` (with `result`) or `failed`."""

    id: str
    status: str = "processing"
    external_id: str | None = Field(None, validation_alias=AliasChoices("externalId", "external_id"))
    external_source: str | None = Field(
        None, validation_alias=AliasChoices("externalSource", "external_source")
    )
    created_at: datetime | None = Field(None, validation_alias=AliasChoices("createdAt", "created_at"))
    completed_at: datetime | None = Field(None, validation_alias=AliasChoices("completedAt", "completed_at"))
    result: dict[str, Any] | None = None
    signals: list[Signal] = Field(default_factory=list)
    error: Any = None
    error_code: str | None = Field(None, validation_alias=AliasChoices("errorCode", "error_code"))
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True)

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
            raw_signals = data.get("signals") if isinstance(data.get("signals"), list) else []
        out["signals"] = [s for s in raw_signals if isinstance(s, dict)]
        if out.get("id") is not None:
            out["id"] = str(out["id"])
        return out

    @property
    def is_done(self) -> bool:
        return self.status in ("completed", "failed")

    def signal_for(self, question: str) -> Signal | None:
        """The result's signal that answers exactly this question (whitespace/case folded)."""
        wanted = " ".join(question.split()).casefold()
        for signal in self.signals:
            if signal.question and " ".join(signal.question.split()).casefold() == wanted:
                return signal
        return None


class ResearchStarted(_Model):
    """The answer to `POST /v1/contacts/research`."""

    id: str
    status: str = "processing"
    created_at: datetime | None = Field(None, validation_alias=AliasChoices("createdAt", "created_at"))


class SignalPage(_Model):
    """One page of a signal list: `{results, total, limit, offset, count}`."""

    results: list[Signal] = Field(default_factory=list)
    total: int | None = None
    limit: int | None = None
    offset: int | None = None
    count: int | None = None
