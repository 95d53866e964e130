"""The sandbox's CRM search: HubSpot's filterGroups, operators, sorts and limits, over one object type.

Filters compile into predicates on a record's stored values, compared as HubSpot compares them
(numbers and times numerically, text ignoring case, `CONTAINS_TOKEN` by word); an
`hs_object_id` range or set narrows the candidates first. A `SearchCache` keeps the matching
ids of each filter set, updated incrementally from the store's change log, so that paging
through 100,000 contacts stays fast.
"""

from __future__ import annotations

import bisect
import fnmatch
import json
import math
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connector.hubspot.limits import MAX_FILTERS_PER_GROUP, MAX_FILTERS_TOTAL, OPERATORS
from connector.sandbox.hubspot_schema import Invalid, SandboxProperty, as_text, to_epoch_ms
from connector.sandbox.hubspot_store import ObjectStore

Pred = Callable[[dict[str, str | None]], bool]
_TOKEN_SPLIT = re.compile(r"[^\w]+")


@dataclass
class Group:
    """One compiled filterGroup: an id range/set plus predicates on other properties."""

    lo: int = 0
    hi: int = 2**63
    ids: set[int] | None = None
    preds: list[Pred] = field(default_factory=list)
    key: str = ""


@dataclass
class CacheEntry:
    version: int
    ids: list[int]
    preds: list[Pred]


class SearchCache:
    """The ids matching each recent filter set, kept current from the store's change log."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()

    def clear(self) -> None:
        """Forget every entry (after a change the log does not tell: a merge, a retyped property)."""
        self._entries.clear()

    def matching(self, group: Group, store: ObjectStore) -> list[int]:
        """Ids matching the group's predicates, kept current from the store's change log."""
        entry = self._entries.get(group.key)
        version = len(store.log)
        if entry is not None and version - entry.version > max(5_000, len(store.ids) // 4):
            entry = None  # too far behind: rebuilding is cheaper
        if entry is None:
            preds, props = group.preds, store.rows
            ids = [i for i in store.ids if all(p(props[i]) for p in preds)]
            entry = CacheEntry(version, ids, preds)
            self._entries[group.key] = entry
            if len(self._entries) > 64:
                self._entries.popitem(last=False)
        elif entry.version < version:
            for cid in set(store.log[entry.version :]):
                pos = bisect.bisect_left(entry.ids, cid)
                present = pos < len(entry.ids) and entry.ids[pos] == cid
                ok = cid in store.rows and all(p(store.rows[cid]) for p in entry.preds)
                if ok and not present:
                    entry.ids.insert(pos, cid)
                elif present and not ok:
                    del entry.ids[pos]
            entry.version = version
        self._entries.move_to_end(group.key)
        return entry.ids


def to_int(value: Any, name: str) -> int:
    """A body field as an integer, or Invalid naming it."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Invalid(f"{name} must be an integer, got {value!r}") from None


def compile_groups(groups_raw: list[Any], store: ObjectStore) -> list[Group]:
    """A search's filterGroups, checked against HubSpot's limits and compiled."""
    total = 0
    groups = []
    for raw in groups_raw:
        filters = raw.get("filters") if isinstance(raw, dict) else None
        if not isinstance(filters, list):
            raise Invalid("every filterGroup needs a filters list")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise Invalid(
                f"A filterGroup can have at most {MAX_FILTERS_PER_GROUP} filters, got {len(filters)}"
            )
        total += len(filters)
        groups.append(_compile_group(filters, store))
    if total > MAX_FILTERS_TOTAL:
        raise Invalid(f"A search can have at most {MAX_FILTERS_TOTAL} filters in all, got {total}")
    return groups


def _compile_group(filters: list[Any], store: ObjectStore) -> Group:
    group = Group()
    keys = []
    for f in filters:
        if not isinstance(f, dict):
            raise Invalid("every filter must be an object")
        name, op = f.get("propertyName"), f.get("operator")
        if op not in OPERATORS:
            raise Invalid(f"Unknown filter operator {op!r}")
        prop = store.schema.get(str(name))
        if prop is None:
            raise Invalid(f"Unable to find property {name!r} to filter on")
        values = f.get("values")
        cap = store.kind.max_in_values
        if cap is not None and op in ("IN", "NOT_IN") and isinstance(values, list) and len(values) > cap:
            raise Invalid(f"filter {op} on {name} has {len(values)} values; at most {cap} are allowed")
        if name == "hs_object_id" and _id_filter(group, op, f):
            continue
        group.preds.append(_predicate(prop, op, f))
        keys.append(json.dumps([name, op, f.get("value"), f.get("values"), f.get("highValue")]))
    group.key = "|".join(sorted(keys))
    return group


def _id_filter(group: Group, op: str, f: dict[str, Any]) -> bool:
    """Fold an hs_object_id range/set filter into the group's id bounds (True if folded)."""
    try:
        if op in ("EQ", "IN"):
            raw: list[Any] = [f.get("value")] if op == "EQ" else list(f.get("values") or [])
            wanted = {int(float(v)) for v in raw if float(v).is_integer()}
            group.ids = wanted if group.ids is None else group.ids & wanted
        elif op == "GT":
            group.lo = max(group.lo, math.floor(float(f["value"])) + 1)
        elif op == "GTE":
            group.lo = max(group.lo, math.ceil(float(f["value"])))
        elif op == "LT":
            group.hi = min(group.hi, math.ceil(float(f["value"])) - 1)
        elif op == "LTE":
            group.hi = min(group.hi, math.floor(float(f["value"])))
        elif op == "BETWEEN":
            group.lo = max(group.lo, math.ceil(float(f["value"])))
            group.hi = min(group.hi, math.floor(float(f["highValue"])))
        else:
            return False
    except (KeyError, TypeError, ValueError):
        raise Invalid(f"hs_object_id filter {op} needs numeric values") from None
    return True


def _predicate(prop: SandboxProperty, op: str, f: dict[str, Any]) -> Pred:
    """Compile one filter into a test on a record's stored properties."""
    name = prop.name
    multi = prop.type == "enumeration" and prop.field_type == "checkbox"
    key = key_fn(prop)

    def parsed(raw: Any) -> Any:
        if raw is None:
            raise Invalid(f"filter {op} on {name} needs a value")
        value = key(as_text(raw))
        if value is None:
            raise Invalid(f"{raw!r} is not a valid value for {prop.type} property {name}")
        return value

    def stored(row: dict[str, str | None]) -> list[Any]:
        raw = row.get(name)
        if raw is None or raw == "":
            return []
        parts = raw.split(";") if multi else [raw]
        return [k for k in (key(p) for p in parts) if k is not None]

    if op == "HAS_PROPERTY":
        return lambda row: row.get(name) not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return lambda row: row.get(name) in (None, "")
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = as_text(f.get("value")).lower()
        if not token:
            raise Invalid(f"filter {op} on {name} needs a value")

        def contains(row: dict[str, str | None]) -> bool:
            text = (row.get(name) or "").lower()
            if not text:
                return False
            if "*" in token:
                return fnmatch.fnmatchcase(text, token) or any(
                    fnmatch.fnmatchcase(t, token) for t in _TOKEN_SPLIT.split(text) if t
                )
            return token == text or token in _TOKEN_SPLIT.split(text)

        return contains if op == "CONTAINS_TOKEN" else (lambda row: not contains(row))
    if op in ("IN", "NOT_IN"):
        values = f.get("values")
        if not isinstance(values, list) or not values:
            raise Invalid(f"filter {op} on {name} needs a non-empty values list")
        wanted = {parsed(v) for v in values}
        if op == "IN":
            return lambda row: any(v in wanted for v in stored(row))
        return lambda row: not any(v in wanted for v in stored(row))
    if op == "BETWEEN":
        low, high = parsed(f.get("value")), parsed(f.get("highValue"))
        return lambda row: any(low <= v <= high for v in stored(row))
    target = parsed(f.get("value"))
    compare: dict[str, Callable[[Any], bool]] = {
        "EQ": lambda v: v == target,
        "GT": lambda v: v > target,
        "GTE": lambda v: v >= target,
        "LT": lambda v: v < target,
        "LTE": lambda v: v <= target,
    }
    if op == "NEQ":
        return lambda row: not any(v == target for v in stored(row))
    test = compare[op]
    return lambda row: any(test(v) for v in stored(row))


def key_fn(prop: SandboxProperty) -> Callable[[str], Any]:
    """How values of this property compare: numbers and times numerically, text ignoring case."""
    if prop.type == "number":

        def number(value: str) -> float | None:
            try:
                return float(value)
            except ValueError:
                return None

        return number
    if prop.type in ("datetime", "date"):
        return to_epoch_ms
    return str.lower


def match(groups: list[Group], query: str | None, store: ObjectStore, cache: SearchCache | None) -> list[int]:
    """Ids matching any group (every record when there is none), ascending; `cache` keeps
    the matches of each group, when the object type has one."""
    if not groups:
        ids = list(store.ids)
    else:
        found: list[int] = []
        for group in groups:
            found.extend(_match_group(group, store, cache))
        ids = sorted(set(found)) if len(groups) > 1 else found
    if query:
        needle = query.strip().lower()
        rows, fields = store.rows, store.kind.query_fields
        ids = [i for i in ids if any(needle in (rows[i].get(p) or "").lower() for p in fields)]
    return ids


def _match_group(group: Group, store: ObjectStore, cache: SearchCache | None) -> list[int]:
    rows = store.rows
    if group.ids is not None:
        cands = sorted(i for i in group.ids if i in rows and group.lo <= i <= group.hi)
        return [i for i in cands if all(p(rows[i]) for p in group.preds)]
    if not group.preds:
        base = store.ids
    elif cache is not None:
        base = cache.matching(group, store)
    else:
        base = [i for i in store.ids if all(p(rows[i]) for p in group.preds)]
    start = bisect.bisect_left(base, group.lo)
    end = bisect.bisect_right(base, group.hi)
    return base[start:end]


def parse_sorts(raw: Any, store: ObjectStore) -> list[tuple[str, bool]]:
    """[(property, descending)] from the object or the string form of `sorts`."""
    if not isinstance(raw, list):
        raise Invalid("sorts must be a list")
    out = []
    for item in raw:
        if isinstance(item, str):
            desc = item.startswith("-")
            name, direction = item.lstrip("-"), ("DESCENDING" if desc else "ASCENDING")
        elif isinstance(item, dict):
            name, direction = str(item.get("propertyName")), str(item.get("direction", "ASCENDING"))
        else:
            raise Invalid("every sort must be an object or a property name")
        if direction not in ("ASCENDING", "DESCENDING"):
            raise Invalid(f"sort direction must be ASCENDING or DESCENDING, got {direction!r}")
        if name not in store.schema:
            raise Invalid(f"Unable to find property {name!r} to sort on")
        out.append((name, direction == "DESCENDING"))
    if len(out) > 1:
        raise Invalid("Only one sort can be applied to a search")
    return out


def sort_ids(ids: list[int], sorts: list[tuple[str, bool]], store: ObjectStore) -> list[int]:
    """Order matches by the sort; records without a value come last, ties by id."""
    if not sorts or sorts[0] == ("hs_object_id", False):
        return ids
    name, desc = sorts[0]
    if name == "hs_object_id":
        return ids[::-1]
    key = key_fn(store.schema[name])
    valued: list[tuple[Any, int]] = []
    empty: list[int] = []
    for cid in ids:
        raw = store.rows[cid].get(name)
        k = key(raw) if raw else None
        if k is None:
            empty.append(cid)
        else:
            valued.append((k, cid))
    valued.sort(key=lambda pair: pair[0], reverse=desc)  # stable: ties keep id order
    return [cid for _, cid in valued] + empty
