"""YAML mapping file -> `Mapping`, with errors that name the file, line, key path, what was found and
what is allowed: `mappings/x.yaml:12: properties.saber_email.write: found 'if_emtpy', allowed: …`.
"""

from __future__ import annotations

import types
import typing
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from connector.errors import ConfigError
from connector.mapping.hints import did_you_mean, printable, shown
from connector.mapping.linkedin import LINKEDIN_CHOICES, LINKEDIN_WANTED
from connector.mapping.model import (
    ANSWER_TYPES,
    COMPANY_MATCHES,
    INPUT_FIELDS,
    MAX_FILTERS,
    NORMALIZERS,
    OPERATORS,
    PATTERN_WORDS,
    PROPERTY_TYPES,
    REQUIRED_INPUTS,
    SCOPES,
    WRITE_POLICIES,
    Mapping,
    PropertySpec,
    SignalSpec,
    company_reference_problems,
    linkedin_reference_problems,
    prospecting_reference_problems,
    reference_problems,
)
from connector.mapping.paths import ALLOWED as FROM_ALLOWED
from connector.mapping.paths import COMPANY_ALLOWED, SUBSCRIPTION_ALLOWED, PathError, parse_from

Loc = tuple[str | int, ...]

# What a key must hold, for "missing" errors and type errors.
WANTED = {
    **LINKEDIN_WANTED,  # the section's own keys (its `from`, `contact`, … are routed by `_wanted`)
    "version": "1",
    "inputs": f"Saber fields mapped to HubSpot properties (at least {', '.join(REQUIRED_INPUTS)})",
    "properties": "HubSpot properties mapped to {from: …}",
    "from": FROM_ALLOWED,
    "question": "the question text",
    "property": "a HubSpot property name",
    "operator": ", ".join(OPERATORS),
    "id": "the subscription's id, as Saber shows it (a UUID)",
    "accounts": "{filters, linkedin_url}: the HubSpot companies to find people at",
    "search": "what Saber's contact search looks for: job_titles, seniority_levels, departments, countries, "
    "keywords",
    "contact": "HubSpot contact property <- a search item field, {account: <company property>} or "
    "{value: <fixed value>}",
    "linkedin_url": "the company property holding its LinkedIn company URL",
    **{name: "a HubSpot property name or {property, normalize, fallback}" for name in INPUT_FIELDS},
}
CHOICES: dict[str, tuple[str, ...]] = {
    "write": WRITE_POLICIES,
    "type": PROPERTY_TYPES,
    "operator": OPERATORS,
    "scope": SCOPES,
    "answer_type": ANSWER_TYPES,
    "normalize": NORMALIZERS,
    "version": ("1",),
    "match": COMPANY_MATCHES,
    "verification_mode": ("strict", "lenient"),
}
# Keys added to a section after its first release, listed after the others (and the hint), so the
# keys a mapping has always had read first: model -> keys.
LATER_KEYS: dict[type[BaseModel], tuple[str, ...]] = {
    Mapping: ("min_confidence", "companies", "prospecting", "linkedin"),
    SignalSpec: ("template", "verification_mode"),
}
TYPE_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "dict_type": "a mapping of keys",
    "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys",
    "list_type": "a list",
}


# ---------------------------------------------------------------------------- YAML
def _key(key: Any) -> str:
    """YAML keys as text: `true` -> "true", `3` -> "3" (keys are always names here)."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, datetime | date):
        return key.isoformat()
    return str(key)


def _plain(node: Any, stack: tuple[int, ...] = ()) -> Any:
    """ruamel's round-trip nodes as plain dicts, lists, str, int, float and bool."""
    if isinstance(node, dict | list):
        if id(node) in stack:
            raise ValueError("an alias refers to itself")
        stack = (*stack, id(node))
        if isinstance(node, dict):
            return {_key(k): _plain(v, stack) for k, v in node.items()}
        return [_plain(v, stack) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int) and type(node).__name__ == "ScalarBoolean":
        return bool(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def _line_index(doc: Any) -> dict[Loc, int]:
    """The 1-based line of every key and list item, by key path."""
    lines: dict[Loc, int] = {(): 1}

    def walk(node: Any, path: Loc, seen: set[int]) -> None:
        if id(node) in seen:
            return
        seen = seen | {id(node)}
        if isinstance(node, CommentedMap):
            for k, v in node.items():
                here = (*path, _key(k))
                try:
                    lines[here] = node.lc.key(k)[0] + 1
                except (KeyError, TypeError, AttributeError):
                    lines[here] = lines.get(path, 1)
                walk(v, here, seen)
        elif isinstance(node, CommentedSeq):
            for i, v in enumerate(node):
                here = (*path, i)
                try:
                    lines[here] = node.lc.item(i)[0] + 1
                except (KeyError, TypeError, AttributeError):
                    lines[here] = lines.get(path, 1)
                walk(v, here, seen)

    walk(doc, (), set())
    return lines


def _line_of(loc: Loc, lines: dict[Loc, int]) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        name = printable(str(part))  # a key with a newline in it must not split the error line
        out += f"[{part}]" if isinstance(part, int) else (f".{name}" if out else name)
    return out or "(top level)"


# ---------------------------------------------------------------------------- pydantic errors
def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0] if args else tp
            if not args:
                return tp
        else:
            return tp


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model whose keys live at `loc` (to list the keys allowed there)."""
    tp: Any = Mapping
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = next(
                (f for name, f in tp.model_fields.items() if part in (name, f.alias)),
                None,
            )
            if field is None:
                return None
            tp = field.annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        elif typing.get_origin(tp) is list:
            tp = typing.get_args(tp)[0]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _wanted(loc: Loc, field: str) -> str:
    """What a missing or mistyped key must hold; `from` depends on the section it is in."""
    if loc[:1] == ("linkedin",) and field in LINKEDIN_WANTED:
        return LINKEDIN_WANTED[field]
    if field == "from" and loc[:1] == ("companies",):
        return SUBSCRIPTION_ALLOWED if "subscriptions" in loc else COMPANY_ALLOWED
    return WANTED.get(field, "a value")


def _signal_fed(data: Any, loc: Loc) -> bool:
    """Whether the contact property at `loc` (properties.<name>) reads a signal."""
    spec = data.get("properties", {}).get(loc[1]) if isinstance(data, dict) and len(loc) > 1 else None
    source = spec.get("from") if isinstance(spec, dict) else None
    try:
        return isinstance(source, str) and parse_from(source).root == "signals"
    except PathError:
        return False


def _allowed_keys(model: type[BaseModel], loc: Loc, data: Any) -> tuple[list[str], list[str]]:
    """(keys listed first, keys listed after the hint) allowed in `model` at `loc`."""
    keys = _keys_of(model)
    if model is PropertySpec and not _signal_fed(data, loc):
        keys = [k for k in keys if k != "min_confidence"]  # only signal-fed properties take it
    later = [k for k in keys if k in LATER_KEYS.get(model, ())]
    return [k for k in keys if k not in later], later


def _explain(err: Any, data: Any = None) -> tuple[Loc, str]:
    """One pydantic error as (key path, "found …, allowed: …")."""
    loc: Loc = tuple(err["loc"])
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    key_error = "[key]" in loc
    loc = tuple(p for p in loc if p != "[key]")
    field = next((p for p in reversed(loc) if isinstance(p, str)), "")

    if kind == "mapping":
        at = tuple(ctx.get("at") or ())
        hint = ctx.get("hint")
        return (*loc, *at), f"found {ctx['found']}, allowed: {ctx['allowed']}" + _hint(hint)
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        first, later = _allowed_keys(model, loc[:-1], data) if model else ([], [])
        also = f" (also: {', '.join(later)})" if later else ""
        return loc, f"found unknown key {str(loc[-1])!r}, allowed: {', '.join(first)}" + _hint(
            did_you_mean(str(loc[-1]), [*first, *later])
        ) + also
    if kind == "missing":
        return loc, f"found nothing, required: {_wanted(loc, field)}"
    if kind == "literal_error":
        choices = (LINKEDIN_CHOICES if loc[:1] == ("linkedin",) else CHOICES).get(
            field, CHOICES.get(field, ())
        )
        found = shown(value)
        hint = did_you_mean(str(value), choices) if isinstance(value, str) else None
        return loc, f"found {found}, allowed: {', '.join(choices) or ctx.get('expected')}" + _hint(hint)
    if kind == "string_pattern_mismatch":
        words = PATTERN_WORDS.get(ctx.get("pattern", ""), f"text matching {ctx.get('pattern')}")
        what = "name" if key_error else "value"
        return loc, f"found {what} {shown(value)}, allowed: {words}"
    if kind == "string_too_short":
        return loc, f"found {shown(value)}, allowed: non-empty text"
    if kind == "string_too_long":
        return loc, f"found {shown(value)}, allowed: at most {ctx.get('max_length')} characters"
    if kind == "too_long":
        if loc == ("select", "filters"):
            return loc, (
                f"found {ctx.get('actual_length')} filters, allowed: at most {MAX_FILTERS} "
                "(the sync adds up to 3 of its own to HubSpot's 6 per search)"
            )
        if loc == ("prospecting", "accounts", "filters"):
            return loc, (
                f"found {ctx.get('actual_length')} filters, allowed: at most {MAX_FILTERS} "
                "(as select.filters: the paging key is added to HubSpot's 6 per search)"
            )
        return loc, f"found {ctx.get('actual_length')} entries, allowed: at most {ctx.get('max_length')}"
    if kind == "too_short" and loc == ("prospecting", "accounts", "filters"):
        return loc, (
            f"found {shown(value)}, allowed: at least 1 filter (to search at every company with a LinkedIn "
            "page, filter on it: {property: <linkedin_url property>, operator: HAS_PROPERTY})"
        )
    if kind == "too_short":
        return loc, f"found {shown(value)}, allowed: at least {ctx.get('min_length')} entry"
    if kind in ("greater_than_equal", "greater_than"):
        sign = ">=" if kind == "greater_than_equal" else ">"
        bound = ctx.get("ge", ctx.get("gt"))
        return loc, f"found {shown(value)}, allowed: a whole number {sign} {bound}"
    if kind in TYPE_WORDS:
        wanted = TYPE_WORDS[kind]
        if field in WANTED and kind in ("string_type", "dict_type", "model_type"):
            wanted = f"{wanted}: {_wanted(loc, field)}"
        if field == "refresh_after_days" and loc[:1] == ("select",):
            wanted += " or null (never)"
        return loc, f"found {shown(value)}, allowed: {wanted}"
    message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return (
        loc,
        f"found {shown(value)}, allowed: {message[0].lower() + message[1:] if message else 'a valid value'}",
    )


def _hint(hint: str | None) -> str:
    return f"; did you mean {hint!r}?" if hint else ""


# ---------------------------------------------------------------------------- cross references
def _input_properties(raw: Any) -> set[str]:
    names: set[str] = set()

    def walk(spec: Any) -> None:
        if isinstance(spec, str):
            names.add(spec)
        elif isinstance(spec, dict):
            if isinstance(spec.get("property"), str):
                names.add(spec["property"])
            walk(spec.get("fallback"))

    if isinstance(raw, dict):
        for spec in raw.values():
            walk(spec)
    return names


def _raw_references(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    props = data.get("properties")
    if not isinstance(props, dict):
        return []
    signals = data.get("signals")
    pairs = {
        name: (
            (spec.get("from"), spec.get("write", "unless_edited")) if isinstance(spec, dict) else (None, None)
        )
        for name, spec in props.items()
    }
    keys = set(signals) if isinstance(signals, dict) else set()
    return reference_problems(pairs, keys, _input_properties(data.get("inputs")))


def _raw_company_references(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    signals = data.get("signals")
    return company_reference_problems(data.get("companies"), signals if isinstance(signals, dict) else {})


# ---------------------------------------------------------------------------- entry points
MISSING_HINT = (
    "set CONNECTOR_MAPPING to your mapping file, or run `saber-connector init` to write a starter one"
)


def packaged_mapping() -> Path:
    """The default mapping shipped inside the package: what `init` writes and `demo` runs with."""
    return Path(str(resources.files("connector.mapping").joinpath("default.yaml")))


def _where(path: Path) -> str:
    """For a relative path, the directory it was looked for in (cron and containers start elsewhere)."""
    return "" if path.is_absolute() else f" in {Path.cwd()}"


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file; every problem raises ConfigError naming file and line."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{name}: mapping file not found{_where(Path(path))}; {MISSING_HINT}") from None
    except IsADirectoryError:
        raise ConfigError(f"{name}: is a directory, not a mapping file") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{name}: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise ConfigError(f"{name}: cannot read the mapping file ({err.strerror or err})") from None
    return parse_mapping(text, name)


def parse_mapping(text: str, source: str | Path | None = None) -> Mapping:
    """Validate mapping YAML text; `source` names it in errors (and becomes `source_path`)."""
    name = str(source) if source is not None else "<mapping>"
    yaml = YAML(typ="rt")
    try:
        doc = yaml.load(text)
    except DuplicateKeyError as err:
        line = err.problem_mark.line + 1 if err.problem_mark else 1
        first = f" (first at line {err.context_mark.line + 1})" if err.context_mark else ""
        raise ConfigError(f"{name}:{line}: duplicate key: {err.problem}{first}") from None
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 1
        what = " ".join(str(p) for p in (err.context, err.problem) if p)
        if "\t" in what or "\\t" in what:
            what += " (indent with spaces, not tabs)"
        raise ConfigError(f"{name}:{line}: YAML syntax error: {what}") from None
    except ReaderError as err:  # a character YAML does not allow (a control character, say)
        line = text.count("\n", 0, max(0, int(err.position or 0))) + 1
        char = err.character if isinstance(err.character, int) else ord(str(err.character)[:1] or "?")
        raise ConfigError(
            f"{name}:{line}: YAML syntax error: character {char:#06x} is not allowed "
            f"in a YAML file ({err.reason})"
        ) from None
    except YAMLError as err:
        detail = printable(" ".join(str(err).split()))
        raise ConfigError(f"{name}: YAML error: {detail}") from None
    if doc is None:
        raise ConfigError(
            f"{name}:1: the file is empty; a mapping needs at least version: 1, inputs and properties"
        )
    if not isinstance(doc, dict):
        raise ConfigError(
            f"{name}:1: (top level): found {shown(_plain(doc))}, allowed: a mapping of keys "
            "(version, external_source, select, inputs, signals, properties, hubspot_group, "
            "min_confidence, companies, prospecting, linkedin)"
        )
    try:
        data = _plain(doc)
    except ValueError as err:
        raise ConfigError(f"{name}:1: {err}") from None
    lines = _line_index(doc)

    found: list[tuple[Loc, str]] = []
    mapping: Mapping | None = None
    try:
        mapping = Mapping.model_validate(data, context={"references_checked": True})
    except ValidationError as err:
        found += [_explain(e, data) for e in err.errors(include_url=False)]
    found += _raw_references(data)
    found += _raw_company_references(data)
    found += prospecting_reference_problems(
        data.get("prospecting"), data.get("inputs"), data.get("properties")
    )
    found += linkedin_reference_problems(data.get("linkedin"), data.get("properties"))
    if found:
        rendered = sorted(
            {
                (_line_of(loc, lines), f"{name}:{_line_of(loc, lines)}: {dotted(loc)}: {printable(msg)}")
                for loc, msg in found
            }
        )
        raise ConfigError("\n".join(text for _, text in rendered))
    assert mapping is not None
    return mapping.with_source(source, lines)
