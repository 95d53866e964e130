"""What a signal create sends: a question (or a template in its place) and the target it is asked of.

Saber's signal creates (`POST /v1/{contacts,companies}/signals`, their `/sync` forms, and
each item of `POST /v1/companies/signals/batch`) share one body: the target
(`contactProfileUrl` or `domain`), the question or a signal template's id in its place, and
optional `answerType`, `verificationMode` and `webhookUrl`. No idempotency is published for
them: every accepted POST is a new, charged signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Scope = Literal["contact", "company"]
TARGET_FIELD: dict[str, str] = {"contact": "contactProfileUrl", "company": "domain"}
VERIFICATION_MODES = ("strict", "lenient")


@dataclass(frozen=True, slots=True)
class SignalQuestion:
    """What is asked, whoever it is asked of: a question, or a template that fixes question and type."""

    question: str | None = None  # None when `template_id` names the question
    answer_type: str | None = None  # None: Saber's default (open_text); a template fixes its own
    template_id: str | None = None
    verification_mode: str | None = None  # None: Saber's default (strict)
    webhook_url: str | None = None

    def __post_init__(self) -> None:
        if (self.question is None) == (self.template_id is None):
            raise ValueError("a signal names a question or a template, not both or neither")
        if self.verification_mode is not None and self.verification_mode not in VERIFICATION_MODES:
            raise ValueError(f"verification_mode must be strict or lenient, got {self.verification_mode!r}")

    def item(self, *, batch: bool = False) -> dict[str, Any]:
        """The body without its target (a batch item names a template `templateId`)."""
        body: dict[str, Any] = {}
        if self.template_id is not None:
            body["templateId" if batch else "signalTemplateId"] = self.template_id
        else:
            body["question"] = self.question
            if self.answer_type is not None:
                body["answerType"] = self.answer_type
        if self.verification_mode is not None:
            body["verificationMode"] = self.verification_mode
        if self.webhook_url is not None:
            body["webhookUrl"] = self.webhook_url
        return body


@dataclass(frozen=True, slots=True)
class SignalRequest:
    """One question about one contact (its profile URL) or company (its domain)."""

    scope: Scope
    target: str
    ask: SignalQuestion

    def __post_init__(self) -> None:
        if self.scope not in TARGET_FIELD:
            raise ValueError(f"scope must be contact or company, got {self.scope!r}")
        if not self.target:
            raise ValueError("a signal needs a target")

    def to_body(self) -> dict[str, Any]:
        """The JSON body of a single create."""
        return {TARGET_FIELD[self.scope]: self.target, **self.ask.item()}
