"""HubSpot companies and contact → company associations, for company answers (issue 12).

Reached as `HubSpotAdapter.companies`: every call goes through the shared `HubSpotTransport`,
so it shares the contacts' call policy, rate limits (searches under the search limit), header
following and error classification. Company properties and groups are the `PropertyApi`'s
methods with `object_type="companies"`.

- `search`: every company matching a list of filters (all must hold; HubSpot's operators),
  keyset-paged on `hs_object_id` as contacts are, so it never meets the 10,000-result cap.
- `search_by_domain`: companies whose `domain` is one of these, `IN` filters of at most 100
  values, keyset-paged like the contact search; a domain two companies hold comes back with
  both, so the caller can refuse to guess.
- `read` / `update`: batch read and batch update, 100 a call; an update lands every valid
  value as the contacts' does (a 400 for one value is isolated, 207s become record failures).
- `associations`: each contact's associated companies through the v4 associations API,
  the primary one (type 1) first; a contact with none is simply empty.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import hubspot.crm.associations.v4 as hs_associations
import hubspot.crm.companies as hs_companies

from connector.errors import RecordFailure
from connector.hubspot.limits import (
    MAX_BATCH,
    MAX_FILTERS_PER_GROUP,
    MAX_IN_VALUES,
    MAX_SEARCH_PAGE,
    NO_ASSOCIATIONS,
    OPERATORS,
    PRIMARY_CONTACT_TO_COMPANY,
)
from connector.hubspot.objects import CrmObjects, next_after
from connector.hubspot.records import (
    AssociationsResult,
    BatchResult,
    Company,
    ContactCompanies,
    SearchFilter,
    company_from_json,
)
from connector.hubspot.transport import HubSpotTransport, read_json

OBJECT_TYPE = "companies"


class CompanyApi:
    """Companies and v4 associations through the shared transport (see the module)."""

    def __init__(self, transport: HubSpotTransport) -> None:
        self._transport = transport
        self._companies = CrmObjects(transport, OBJECT_TYPE, "company", hs_companies, company_from_json)
        self._associations = transport.api(transport.client.crm.associations.v4.batch_api)

    # ---------------------------------------------------------------- companies
    def search(
        self,
        filters: Sequence[SearchFilter],
        properties: Sequence[str] = (),
        page_size: int = MAX_SEARCH_PAGE,
    ) -> Iterator[Company]:
        """Every company matching all `filters`, once, in id order (keyset paging, as contacts).

        Each page is a fresh query for `hs_object_id > last id seen`, so no search meets the
        10,000-result depth. The filters are checked here, before any call: HubSpot's operators,
        at most `MAX_FILTERS_PER_GROUP - 1` of them (paging needs one), at most 100 `IN` values.
        """
        if not 1 <= page_size <= MAX_SEARCH_PAGE:
            raise ValueError(f"page_size must be between 1 and {MAX_SEARCH_PAGE}, got {page_size}")
        room = MAX_FILTERS_PER_GROUP - 1  # the hs_object_id keyset filter
        if len(filters) > room:
            raise ValueError(
                f"too many company search filters: HubSpot allows {MAX_FILTERS_PER_GROUP} per group and "
                f"paging needs one, so at most {room} can be given (got {len(filters)})"
            )
        base = [_company_filter(f) for f in filters]
        return self._companies.search(base, list(dict.fromkeys(properties)), page_size)

    def search_by_domain(
        self, domains: Sequence[str], properties: Sequence[str] = ()
    ) -> dict[str, list[Company]]:
        """The companies whose `domain` is each of these (lower-cased), in id order; [] for none.

        Domains go as lower-case `IN` values (HubSpot's rule for string values), 100 a search,
        each search keyset-paged on `hs_object_id` so that it never meets the 10,000 cap.
        """
        wanted = list(dict.fromkeys(d.strip().lower() for d in domains if d and d.strip()))
        props = list(dict.fromkeys(["domain", *properties]))
        found: dict[str, list[Company]] = {d: [] for d in wanted}
        for start in range(0, len(wanted), MAX_IN_VALUES):
            chunk = wanted[start : start + MAX_IN_VALUES]
            domain_in = hs_companies.Filter(property_name="domain", operator="IN", values=chunk)
            for company in self._companies.search([domain_in], props, MAX_SEARCH_PAGE):
                if company.domain in found:
                    found[company.domain].append(company)
        return found

    def read(self, ids: Sequence[str], properties: Sequence[str]) -> list[Company]:
        """The companies with these ids (100 per call); ids HubSpot does not know are left out."""
        return self._companies.read(ids, properties)

    def update(self, updates: Mapping[str, Mapping[str, str]]) -> BatchResult:
        """Write company property values, 100 companies a call, landing every valid value.

        The same handling as the contacts' (`CrmObjects.update`): a batch HubSpot rejects for one
        value is resent without it (the value recorded as a failure of that company and
        property); unknown ids (207) and ids the answer omits are record failures.
        """
        return self._companies.update(updates)

    # ---------------------------------------------------------------- associations
    def associations(self, contact_ids: Sequence[str]) -> AssociationsResult:
        """Each contact's associated companies (v4 batch read, 100 contacts a call, paged per contact).

        Every asked contact is in `contacts` but those whose read failed, which are in
        `failures` instead; a contact HubSpot says has no company (its `NO_ASSOCIATIONS_FOUND`
        error, or no entry at all) has no companies.
        """
        unique = list(dict.fromkeys(str(i) for i in contact_ids))
        links: dict[str, dict[str, bool]] = {cid: {} for cid in unique}
        failed: set[str] = set()
        result = AssociationsResult()
        pending: list[tuple[str, str | None]] = [(cid, None) for cid in unique]
        asked: set[tuple[str, str | None]] = set(pending)
        while pending:
            batch, pending = pending[:MAX_BATCH], pending[MAX_BATCH:]
            answer = self._read_associations(batch)
            for entry in answer.get("results") or []:
                source = str((entry.get("from") or {}).get("id") or "")
                if source not in links:
                    continue
                for target in entry.get("to") or []:
                    company = str(target.get("toObjectId") or "")
                    if not company:
                        continue
                    types = target.get("associationTypes") or []
                    primary = any(_is_primary(t) for t in types)
                    links[source][company] = links[source].get(company, False) or primary
                after = next_after(entry)
                if after and (source, after) not in asked:  # a repeated cursor would never end
                    asked.add((source, after))
                    pending.append((source, after))
            for err in answer.get("errors") or []:
                if NO_ASSOCIATIONS in str(err.get("subCategory") or ""):
                    continue
                context = err.get("context") or {}
                for raw in [*(context.get("fromObjectId") or []), *(context.get("ids") or [])]:
                    if str(raw) in links and str(raw) not in failed:
                        failed.add(str(raw))
                        code, message = str(err.get("category") or "ERROR"), str(err.get("message") or "")
                        result.failures.append(RecordFailure(str(raw), None, code, message))
        for cid, companies in links.items():
            if cid in failed:
                continue
            primary_id = next((company for company, primary in companies.items() if primary), None)
            # Primary first, then by id (numeric order for HubSpot's digit ids).
            ordered = sorted(companies, key=lambda company: (company != primary_id, len(company), company))
            result.contacts[cid] = ContactCompanies(cid, tuple(ordered), primary_id)
        return result

    def _read_associations(self, batch: Sequence[tuple[str, str | None]]) -> dict[str, Any]:
        body = hs_associations.BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[
                hs_associations.PublicFetchAssociationsBatchRequest(id=cid, after=after)
                for cid, after in batch
            ]
        )
        return self._transport.call(
            "read_associations",
            lambda: read_json(
                self._associations.get_page(
                    from_object_type="contacts",
                    to_object_type=OBJECT_TYPE,
                    batch_input_public_fetch_associations_batch_request=body,
                    _request_timeout=self._transport.timeout,
                    _preload_content=False,
                )
            ),
        )


def _company_filter(f: SearchFilter) -> Any:
    """One company search filter in the client's model, checked against HubSpot's rules."""
    if f.operator not in OPERATORS:
        raise ValueError(
            f"company search filter on {f.property}: unknown operator {f.operator!r} "
            f"(known: {sorted(OPERATORS)})"
        )
    if f.values is not None and len(f.values) > MAX_IN_VALUES:
        raise ValueError(
            f"company search filter {f.operator} on {f.property} has {len(f.values)} values; "
            f"HubSpot allows {MAX_IN_VALUES}"
        )
    return hs_companies.Filter(
        property_name=f.property,
        operator=f.operator,
        value=f.value,
        values=list(f.values) if f.values is not None else None,
        high_value=f.high_value,
    )


def _is_primary(spec: Mapping[str, Any]) -> bool:
    """HubSpot's own Primary contact → company label (type 1, HUBSPOT_DEFINED)."""
    category = spec.get("category", "HUBSPOT_DEFINED")
    return spec.get("typeId") == PRIMARY_CONTACT_TO_COMPANY and category == "HUBSPOT_DEFINED"
