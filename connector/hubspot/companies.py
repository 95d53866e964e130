"""HubSpot companies and contact → company associations, for company answers (issue 12).

Reached as `HubSpotAdapter.companies`: every call goes through the adapter's `_call`, so it
shares the contacts' call policy, rate limits (searches under the search limit), header
following and error classification. Company properties and groups are the adapter's
property methods with `object_type="companies"`.

- `search_by_domain`: companies whose `domain` is one of these, `IN` filters of at most 100
  values, keyset-paged like the contact search; a domain two companies hold comes back with
  both, so the caller can refuse to guess.
- `read` / `update`: batch read and batch update, 100 a call; an update lands every valid
  value as the contacts' does (a 400 for one value is isolated, 207s become record failures).
- `associations`: each contact's associated companies through the v4 associations API,
  the primary one (type 1) first; a contact with none is simply empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import hubspot.crm.associations.v4 as hs_associations
import hubspot.crm.companies as hs_companies

from connector.errors import RecordFailure
from connector.hubspot.adapter import BatchResult, CrmObjects, _json, _next_after, _parse_record
from connector.hubspot.limits import MAX_BATCH, MAX_SEARCH_PAGE

if TYPE_CHECKING:
    from connector.hubspot.adapter import HubSpotAdapter

OBJECT_TYPE = "companies"
MAX_IN_VALUES = 100  # values of one IN filter
# HubSpot-defined contact → company association types (company → contact: 2 and 280).
PRIMARY_COMPANY_TYPE = 1
UNLABELED_COMPANY_TYPE = 279
NO_ASSOCIATIONS = "NO_ASSOCIATIONS_FOUND"  # the subCategory of "this contact has no companies"


@dataclass(frozen=True)
class Company:
    """One HubSpot company: its id, the properties asked for, when it last changed."""

    id: str
    properties: dict[str, str | None]
    updated_at: datetime | None

    @property
    def domain(self) -> str | None:
        """The company's `domain`, lower-cased and trimmed (None when it has none)."""
        value = (self.properties.get("domain") or "").strip().lower()
        return value or None


@dataclass(frozen=True)
class ContactCompanies:
    """The companies one contact is associated with (ids as HubSpot lists them)."""

    contact_id: str
    company_ids: tuple[str, ...] = ()  # every associated company, the primary one first
    primary_id: str | None = None  # the one labelled Primary (type 1), if any

    @property
    def company_id(self) -> str | None:
        """The company to write to: the primary one, else the only one; None when there is
        none, or several and none of them primary (never a guess)."""
        if self.primary_id is not None:
            return self.primary_id
        return self.company_ids[0] if len(self.company_ids) == 1 else None

    @property
    def ambiguous(self) -> bool:
        """Several companies and none of them primary."""
        return self.primary_id is None and len(self.company_ids) > 1


@dataclass
class AssociationsResult:
    """Each asked contact's companies, and the contacts HubSpot could not answer for."""

    contacts: dict[str, ContactCompanies] = field(default_factory=dict)
    failures: list[RecordFailure] = field(default_factory=list)


class CompanyApi:
    """Companies and v4 associations through the adapter's call policy (see the module)."""

    def __init__(self, adapter: HubSpotAdapter, client: Any) -> None:
        self._adapter = adapter
        search, batch = client.crm.companies.search_api, client.crm.companies.batch_api
        self._companies = CrmObjects(OBJECT_TYPE, "company", hs_companies, search, batch, _company)
        self._associations = client.crm.associations.v4.batch_api
        self.apis: tuple[Any, ...] = (search, batch, self._associations)

    # ---------------------------------------------------------------- companies
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
            for company in self._adapter._keyset_search(self._companies, [domain_in], props, MAX_SEARCH_PAGE):
                if company.domain in found:
                    found[company.domain].append(company)
        return found

    def read(self, ids: Sequence[str], properties: Sequence[str]) -> list[Company]:
        """The companies with these ids (100 per call); ids HubSpot does not know are left out."""
        return self._adapter._batch_read(self._companies, ids, properties)

    def update(self, updates: Mapping[str, Mapping[str, str]]) -> BatchResult:
        """Write company property values, 100 companies a call, landing every valid value.

        The same handling as `HubSpotAdapter.update_contacts`: a batch HubSpot rejects for one
        value is resent without it (the value recorded as a failure of that company and
        property); unknown ids (207) and ids the answer omits are record failures.
        """
        return self._adapter._batch_update(self._companies, updates)

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
                after = _next_after(entry)
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
        return self._adapter._call(
            "read_associations",
            lambda: _json(
                self._associations.get_page(
                    from_object_type="contacts",
                    to_object_type=OBJECT_TYPE,
                    batch_input_public_fetch_associations_batch_request=body,
                    _request_timeout=self._adapter._timeout,
                    _preload_content=False,
                )
            ),
        )


def _is_primary(spec: Mapping[str, Any]) -> bool:
    """HubSpot's own Primary contact → company label (type 1, HUBSPOT_DEFINED)."""
    category = spec.get("category", "HUBSPOT_DEFINED")
    return spec.get("typeId") == PRIMARY_COMPANY_TYPE and category == "HUBSPOT_DEFINED"


def _company(obj: Mapping[str, Any]) -> Company:
    """A Company from one object of HubSpot's JSON (id, properties, updatedAt)."""
    return _parse_record(Company, "company", obj)
