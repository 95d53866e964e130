"""Generic CRM-object operations: keyset search, batch read and batch update of one object type.

Contacts and companies share these; only the request models, the APIs and the record type
differ, so a `CrmObjects` is built from the transport and the object type's name.

- `search`: keyset paging, each page a fresh query for `hs_object_id > last id seen`, so
  that no search meets HubSpot's 10,000-result depth.
- `read`: 100 ids a call; ids HubSpot does not know are left out.
- `update`: 100 records a call, landing every valid value even when HubSpot rejects a
  batch for one bad value (`locate` finds it from the per-property errors of the 400).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any, Generic

from connector.errors import RecordFailure
from connector.hubspot.errors import HubSpotError, PropertyError
from connector.hubspot.limits import MAX_BATCH, MAX_TEXT
from connector.hubspot.records import BatchResult, R
from connector.hubspot.transport import HubSpotTransport, read_json
from connector.logs import get_logger

log = get_logger("hubspot")

# Errors about the property itself (not its value): every input carrying it is affected.
PROPERTY_LEVEL_CODES = frozenset({"PROPERTY_DOESNT_EXIST", "READ_ONLY_VALUE", "UNKNOWN_PROPERTY"})


class CrmObjects(Generic[R]):
    """One CRM object type's search, batch read and batch update, through the transport."""

    def __init__(
        self,
        transport: HubSpotTransport,
        name: str,
        noun: str,
        models: ModuleType,
        parse: Callable[[Mapping[str, Any]], R],
    ) -> None:
        self.transport = transport
        self.name = name  # the object type in HubSpot's paths and in call names: contacts, companies
        self.noun = noun  # one record, in messages: contact, company
        self.models = models  # its generated request models: hubspot.crm.contacts or .companies
        self.parse = parse  # one object of HubSpot's JSON
        apis = getattr(transport.client.crm, name)
        self._search = transport.api(apis.search_api)
        self._batch = transport.api(apis.batch_api)

    def search(self, base: list[Any], properties: list[str], page_size: int) -> Iterator[R]:
        """Every record matching the `base` filters, keyset-paged on `hs_object_id` (see
        `ContactApi.search`), so that no search meets the 10,000-result depth."""
        models, timeout = self.models, self.transport.timeout
        last_id: int | None = None
        sorts = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
        while True:
            keyset = (
                []
                if last_id is None
                else [models.Filter(property_name="hs_object_id", operator="GT", value=str(last_id))]
            )
            request = models.PublicObjectSearchRequest(
                filter_groups=[models.FilterGroup(filters=[*base, *keyset])],
                sorts=sorts,
                properties=properties,
                limit=page_size,
                after="0",
            )
            page = self.transport.call(
                f"search_{self.name}",
                lambda req=request: read_json(  # type: ignore[misc]
                    self._search.do_search(
                        public_object_search_request=req, _request_timeout=timeout, _preload_content=False
                    )
                ),
                search=True,
            )
            results = [self.parse(obj) for obj in page.get("results") or []]
            yield from results
            if not results or not next_after(page):
                return
            highest = int(results[-1].id)
            if last_id is not None and highest <= last_id:
                raise HubSpotError(f"HubSpot's search did not advance past {self.noun} {last_id}; stopping")
            last_id = highest

    def read(self, ids: Sequence[str], properties: Sequence[str], *, archived: bool = False) -> list[R]:
        """The records with these ids (100 per call); ids HubSpot does not know are left out.

        `archived`: the archived records only (HubSpot's `archived=true` reads no live one)."""
        unique = list(dict.fromkeys(str(i) for i in ids))
        props = list(dict.fromkeys(properties))
        found: list[R] = []
        for start in range(0, len(unique), MAX_BATCH):
            chunk = unique[start : start + MAX_BATCH]
            body = self.models.BatchReadInputSimplePublicObjectId(
                inputs=[self.models.SimplePublicObjectId(id=i) for i in chunk],
                properties=props,
                properties_with_history=[],
            )
            answer = self.transport.call(
                f"read_archived_{self.name}" if archived else f"read_{self.name}",
                lambda b=body: read_json(  # type: ignore[misc]
                    self._batch.read(
                        batch_read_input_simple_public_object_id=b,
                        archived=archived or None,  # plain reads send no `archived` at all, as before
                        _request_timeout=self.transport.timeout,
                        _preload_content=False,
                    )
                ),
            )
            found.extend(self.parse(obj) for obj in answer.get("results") or [])
        return found

    def update(self, updates: Mapping[str, Mapping[str, str]]) -> BatchResult:
        """Write property values, 100 records a call, landing every valid value.

        HubSpot rejects a whole batch for one invalid value (400, per-property errors as
        JSON inside `message`, not always naming the record). The offending values are
        located by property name and quoted value, recorded as failures and dropped, and
        the rest is sent again; when they cannot be located the batch is split in two.
        Unknown ids (207) become record failures; so does any id HubSpot's answer omits.
        """
        result = BatchResult()
        items = [
            (str(cid), {str(k): "" if v is None else str(v) for k, v in props.items()})
            for cid, props in updates.items()
        ]
        items = [(cid, props) for cid, props in items if props]
        for start in range(0, len(items), MAX_BATCH):
            BatchUpdate(self, dict(items[start : start + MAX_BATCH]), result).run()
        return result

    def send_update(self, batch: Mapping[str, Mapping[str, str]]) -> Any:
        """One batch update call, as it is: HubSpot's answer (a 400 raises HubSpotError)."""
        body = self.models.BatchInputSimplePublicObjectBatchInput(
            inputs=[
                self.models.SimplePublicObjectBatchInput(id=cid, properties=dict(props))
                for cid, props in batch.items()
            ]
        )
        return self.transport.call(
            f"update_{self.name}",
            lambda: self._batch.update(
                batch_input_simple_public_object_batch_input=body, _request_timeout=self.transport.timeout
            ),
        )


class BatchUpdate:
    """One chunk of ≤100 records (contacts or companies), sent until every value has landed or failed."""

    def __init__(self, objects: CrmObjects[Any], chunk: dict[str, dict[str, str]], result: BatchResult):
        self.objects = objects
        self.noun = objects.noun
        self.chunk = chunk
        self.result = result
        self.written: set[str] = set()
        self.failed: set[tuple[str, str | None, str]] = set()
        # Every resend removes a value or splits a batch, so this bound is never reached in
        # practice; it guarantees termination whatever HubSpot answers.
        self.budget = 2 * sum(len(p) for p in chunk.values()) + 4

    def run(self) -> None:
        queue: deque[dict[str, dict[str, str]]] = deque([self.chunk])
        sends = 0
        while queue:
            batch = {cid: dict(props) for cid, props in queue.popleft().items() if props}
            if not batch:
                continue
            if sends >= self.budget:
                for cid, props in batch.items():
                    for name in props:
                        self.fail(cid, name, "UNRESOLVED", "gave up isolating HubSpot's validation errors")
                continue
            sends += 1
            try:
                answer = self.objects.send_update(batch)
            except HubSpotError as exc:
                if exc.status != 400 or exc.category != "VALIDATION_ERROR":
                    raise
                queue.extendleft(reversed(self.isolate(batch, exc)))
                continue
            self.collect(batch, answer)
        self.result.written.extend(cid for cid in self.chunk if cid in self.written)

    def fail(self, cid: str, prop: str | None, code: str, message: str) -> None:
        key = (cid, prop, code)
        if key not in self.failed:
            self.failed.add(key)
            self.result.failures.append(RecordFailure(cid, prop, code, message))

    def isolate(self, batch: dict[str, dict[str, str]], exc: HubSpotError) -> list[dict[str, dict[str, str]]]:
        """Record and drop the values HubSpot refused; return what to send next."""
        located, suspects = locate(batch, exc.errors)
        if located:
            for cid, err in located:
                self.fail(cid, err.name, err.code, err.message)
                batch[cid].pop(err.name or "", None)
            log.info("hubspot_values_rejected", values=len(located), resending=sum(map(len, batch.values())))
            return [batch]
        if len(batch) > 1:
            # Cannot tell which record: send the clearly innocent together, halve the suspects.
            doubtful = [cid for cid in batch if cid in suspects] or list(batch)
            innocent = [cid for cid in batch if cid not in doubtful]
            cut = max(1, len(doubtful) // 2)
            parts = [doubtful[:cut], doubtful[cut:], innocent]
            return [{c: batch[c] for c in part} for part in parts if part]
        ((cid, props),) = batch.items()
        if len(props) > 1:
            names = list(props)
            half = len(names) // 2
            return [{cid: {n: props[n] for n in names[:half]}}, {cid: {n: props[n] for n in names[half:]}}]
        (name,) = props
        named = next((e for e in exc.errors if e.name == name), exc.errors[0] if exc.errors else None)
        code = named.code if named else exc.category or "VALIDATION_ERROR"
        self.fail(cid, name, code, named.message if named else exc.message)
        return []

    def collect(self, batch: Mapping[str, Mapping[str, str]], answer: Any) -> None:
        """Count what HubSpot confirms written; anything else in the batch is a failure."""
        confirmed = {str(obj.id) for obj in answer.results or []}
        for err in getattr(answer, "errors", None) or []:
            for raw in (err.context or {}).get("ids") or []:
                if str(raw) in batch and str(raw) not in confirmed:
                    self.fail(str(raw), None, err.category or "ERROR", err.message or "")
        for cid in batch:
            if cid in confirmed:
                self.written.add(cid)
            elif not any(key[0] == cid and key[1] is None for key in self.failed):
                self.fail(cid, None, "NOT_CONFIRMED", f"HubSpot's answer did not include this {self.noun}")


def locate(
    batch: Mapping[str, Mapping[str, str]], errors: Sequence[PropertyError]
) -> tuple[list[tuple[str, PropertyError]], set[str]]:
    """Which (contact, error) pairs HubSpot's per-property errors point at, and which contacts are suspects.

    An error about the property itself (unknown, read-only) applies to every input that
    carries it. An error about a value applies to the only input carrying the property,
    or to those whose value the message quotes.
    """
    located: list[tuple[str, PropertyError]] = []
    suspects: set[str] = set()
    taken: set[tuple[str, str]] = set()
    for err in errors:
        holders = [cid for cid, props in batch.items() if err.name is not None and err.name in props]
        if err.name is None or not holders:
            suspects.update(batch if err.name is None else ())
            continue
        if err.code in PROPERTY_LEVEL_CODES or len(holders) == 1:
            culprits = holders
        else:
            culprits = [cid for cid in holders if _names_value(batch[cid][err.name], err)]
            if not culprits:
                suspects.update(holders)
                continue
        for cid in culprits:
            if (cid, err.name) not in taken:
                taken.add((cid, err.name))
                located.append((cid, err))
    return located, suspects


def _names_value(value: str, err: PropertyError) -> bool:
    """Does this error's message point at this value?"""
    if not value:
        return False
    if err.code == "LEADING_TRAILING_WHITESPACE":
        return value != value.strip()
    if len(value) > MAX_TEXT:
        return True
    message = err.message
    parts = [value, *value.split(";")] if ";" in value else [value]
    for part in parts:
        if part and (message.startswith(part + " ") or any(q in message for q in (f'"{part}"', f"'{part}'"))):
            return True
    return False


def next_after(page: Mapping[str, Any]) -> str | None:
    """The `paging.next.after` cursor of a page of HubSpot's JSON (None on the last page)."""
    nxt = (page.get("paging") or {}).get("next") or {}
    after = nxt.get("after")
    return str(after) if after not in (None, "") else None
