"""`from` paths: where a property's value comes from (`result.…`, `signals.<key>.…`, `research.…`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

ROOTS = ("result", "signals", "research")
SIGNAL_FIELDS = ("answer", "confidence", "reasoning", "sources")
RESEARCH_FIELDS = ("id", "status", "createdAt", "completedAt", "errorCode", "error")
ALLOWED = (
    "result.<path> (list indexes as .0 or [0]), "
    f"signals.<key>.{'|'.join(SIGNAL_FIELDS)}, research.{'|'.join(RESEARCH_FIELDS)}"
)

# The same grammar as a regular expression, for the JSON Schema (editors check it as you type).
_STEPS = r"(?:\.[^.\[\]\s]+|\[-?\d+\])"
FROM_PATTERN = (
    rf"^(?:result{_STEPS}+"
    rf"|signals\.[A-Za-z_][A-Za-z0-9_]*\.(?:answer{_STEPS}*|{'|'.join(SIGNAL_FIELDS[1:])})"
    rf"|research\.(?:{'|'.join(RESEARCH_FIELDS)}))$"
)

_HEAD = re.compile(r"[^.\[\]\s]+")
_STEP = re.compile(r"\.([^.\[\]\s]+)|\[(-?\d+)\]")


class PathError(ValueError):
    """A `from` path that cannot be read; `allowed` and `hint` say what would be right."""

    def __init__(self, detail: str, allowed: str = ALLOWED, hint: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.allowed = allowed
        self.hint = hint


@dataclass(frozen=True)
class FromPath:
    """A parsed `from`: its root and the steps after it (ints are list indexes)."""

    text: str
    root: str
    steps: tuple[str | int, ...]

    @property
    def signal_key(self) -> str | None:
        return str(self.steps[0]) if self.root == "signals" else None

    @property
    def signal_field(self) -> str | None:
        return str(self.steps[1]) if self.root == "signals" else None


def _tokens(text: str) -> list[str | int]:
    head = _HEAD.match(text)
    if head is None:
        raise PathError(f"{text!r} (it does not start with a name)")
    tokens: list[str | int] = [head.group(0)]
    pos = head.end()
    while pos < len(text):
        step = _STEP.match(text, pos)
        if step is None:
            rest = text[pos:]
            if rest.startswith(".") and (len(rest) == 1 or rest[1] in ".["):
                why = "an empty step"
            elif rest.startswith("["):
                why = "a list index that is not [<whole number>]"
            else:
                why = f"an unexpected {rest[0]!r}"
            raise PathError(f"{text!r} ({why} at character {pos + 1})")
        name, index = step.groups()
        if index is not None:
            tokens.append(int(index))
        elif name.isdigit():
            tokens.append(int(name))
        else:
            tokens.append(name)
        pos = step.end()
    return tokens


@lru_cache(maxsize=1024)
def parse_from(text: str) -> FromPath:
    """Parse a `from` path or raise PathError saying what is wrong and what is allowed."""
    from connector.mapping.hints import did_you_mean

    if not isinstance(text, str) or not text.strip():
        raise PathError("an empty path")
    text = text.strip()
    root, *steps = _tokens(text)
    if root not in ROOTS:
        raise PathError(f"root {root!r}", hint=did_you_mean(str(root), ROOTS))
    if root == "result":
        if not steps:
            raise PathError(f"{text!r} (no field of the result)", allowed="result.<field>[.<field>|[n]]...")
    elif root == "research":
        allowed = ", ".join(f"research.{f}" for f in RESEARCH_FIELDS)
        if len(steps) != 1 or steps[0] not in RESEARCH_FIELDS:
            field = ".".join(str(s) for s in steps) or "nothing"
            raise PathError(f"research field {field!r}", allowed, did_you_mean(field, RESEARCH_FIELDS))
    else:
        allowed = f"signals.<key>.{'|'.join(SIGNAL_FIELDS)} (answer may go deeper: answer.<field>)"
        if len(steps) < 2 or not isinstance(steps[0], str):
            raise PathError(f"{text!r} (signals.<key>.<field> expected)", allowed)
        step = steps[1]
        if step not in SIGNAL_FIELDS:
            raise PathError(f"signal field {step!r}", allowed, did_you_mean(str(step), SIGNAL_FIELDS))
        if len(steps) > 2 and step != "answer":
            raise PathError(f"{text!r} (nothing may follow {step})", allowed)
    return FromPath(text=text, root=str(root), steps=tuple(steps))


# ---------------------------------------------------------------------------- company records
# A company property reads a company-scope signal: its answer, confidence, reasoning, sources,
# or a fact of the company Saber returned with it (`company.employeeCount`, `company.industry`…).
COMPANY_SIGNAL_FIELDS = (*SIGNAL_FIELDS, "company")
COMPANY_ALLOWED = (
    f"signals.<key>.{'|'.join(COMPANY_SIGNAL_FIELDS)} of a company-scope signal "
    "(answer may go deeper: answer.<field>; company needs a field: company.<field>)"
)
# A subscription property reads a field of one execution in the subscription's logs.
SUBSCRIPTION_FIELDS = (
    "answer", "confidence", "reasoning", "sources", "completedAt", "createdAt",
    "question", "domain", "id", "company", "changeContext",
)  # fmt: skip
DEEP_FIELDS = ("answer", "company", "changeContext")  # may go deeper; company and changeContext must
SUBSCRIPTION_ALLOWED = (
    f"{'|'.join(SUBSCRIPTION_FIELDS)} of the subscription's log entry "
    "(answer may go deeper: answer.<field>; company and changeContext need a field: company.<field>)"
)
COMPANY_FROM_PATTERN = (
    rf"^signals\.[A-Za-z_][A-Za-z0-9_]*\.(?:answer{_STEPS}*|company{_STEPS}+"
    rf"|{'|'.join(SIGNAL_FIELDS[1:])})$"
)
SUBSCRIPTION_FROM_PATTERN = (
    rf"^(?:answer{_STEPS}*|(?:company|changeContext){_STEPS}+"
    rf"|{'|'.join(f for f in SUBSCRIPTION_FIELDS if f not in DEEP_FIELDS)})$"
)
SUBSCRIPTION_ROOT = "entry"  # FromPath.root of a subscription property: steps = (field, *deeper)


@lru_cache(maxsize=1024)
def parse_company_from(text: str) -> FromPath:
    """Parse a company property's `from` (a company-scope signal's field) or raise PathError."""
    from connector.mapping.hints import did_you_mean

    if not isinstance(text, str) or not text.strip():
        raise PathError("an empty path", COMPANY_ALLOWED)
    text = text.strip()
    try:
        root, *steps = _tokens(text)
    except PathError as err:
        raise PathError(err.detail, COMPANY_ALLOWED) from None
    if root in ROOTS and root != "signals":  # result.… / research.…: the contact's research
        raise PathError(f"{text!r} (company properties are fed by company-scope signals)", COMPANY_ALLOWED)
    if root != "signals":
        raise PathError(f"root {root!r}", COMPANY_ALLOWED, did_you_mean(str(root), ("signals",)))
    if len(steps) < 2 or not isinstance(steps[0], str):
        raise PathError(f"{text!r} (signals.<key>.<field> expected)", COMPANY_ALLOWED)
    field = steps[1]
    if field not in COMPANY_SIGNAL_FIELDS:
        hint = did_you_mean(str(field), COMPANY_SIGNAL_FIELDS)
        raise PathError(f"signal field {field!r}", COMPANY_ALLOWED, hint)
    if len(steps) > 2 and field not in DEEP_FIELDS:
        raise PathError(f"{text!r} (nothing may follow {field})", COMPANY_ALLOWED)
    if field == "company" and len(steps) == 2:
        raise PathError(f"{text!r} (which fact of the company? e.g. company.employeeCount)", COMPANY_ALLOWED)
    return FromPath(text=text, root="signals", steps=tuple(steps))


@lru_cache(maxsize=1024)
def parse_subscription_from(text: str) -> FromPath:
    """Parse a subscription property's `from` (a log entry's field) or raise PathError."""
    from connector.mapping.hints import did_you_mean

    if not isinstance(text, str) or not text.strip():
        raise PathError("an empty path", SUBSCRIPTION_ALLOWED)
    text = text.strip()
    try:
        field, *steps = _tokens(text)
    except PathError as err:
        raise PathError(err.detail, SUBSCRIPTION_ALLOWED) from None
    if field not in SUBSCRIPTION_FIELDS:
        plain = text.split(".", 2)
        hint = None
        if plain[0] == "signals" and len(plain) > 2:  # `signals.x.answer` written out of habit
            hint = plain[2] if plain[2].split(".")[0] in SUBSCRIPTION_FIELDS else None
        hint = hint or did_you_mean(str(field), SUBSCRIPTION_FIELDS)
        raise PathError(f"log entry field {field!r}", SUBSCRIPTION_ALLOWED, hint)
    if steps and field not in DEEP_FIELDS:
        raise PathError(f"{text!r} (nothing may follow {field})", SUBSCRIPTION_ALLOWED)
    if field in ("company", "changeContext") and not steps:
        raise PathError(f"{text!r} (which of its fields? e.g. {field}.<field>)", SUBSCRIPTION_ALLOWED)
    return FromPath(text=text, root=SUBSCRIPTION_ROOT, steps=(str(field), *steps))
