"""HubSpot's CRM v3 contract as numbers and names: what the adapter, sandbox and mapping all read.

Imports nothing from the connector (and `connector.hubspot` loads its adapter lazily), so
the mapping can check its filters against HubSpot's operators without loading the client.
"""

from __future__ import annotations

from typing import Literal, get_args

# Every search filter operator HubSpot's CRM search accepts (its public list), in the order
# the mapping's error messages show them.
SearchOperator = Literal[
    "EQ", "NEQ", "GT", "GTE", "LT", "LTE", "IN", "NOT_IN",
    "HAS_PROPERTY", "NOT_HAS_PROPERTY", "BETWEEN", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
]  # fmt: skip
OPERATORS: tuple[str, ...] = get_args(SearchOperator)

MAX_BATCH = 100  # inputs per batch read/update
MAX_IN_VALUES = 100  # values of one IN / NOT_IN search filter
MERGED_IDS = "hs_merged_object_ids"  # the ids merged into a contact (set on the survivor of a merge)
MAX_LIST_PAGE = 100  # `limit` of the list (GET) endpoint
MAX_SEARCH_PAGE = 200  # `limit` of the search endpoint
MAX_SEARCH_RESULTS = 10_000  # a search cannot page past this many results (`after` + `limit`)
MAX_FILTER_GROUPS = 5  # filterGroups per search
MAX_FILTERS_PER_GROUP = 6  # filters per filterGroup
MAX_FILTERS_TOTAL = 18  # filters per search, all groups together
MAX_TEXT = 65_536  # characters per property value

# HubSpot-defined association types between contacts and companies (v4 associations API).
PRIMARY_CONTACT_TO_COMPANY = 1  # the contact's Primary company
CONTACT_TO_COMPANY = 279  # any other (unlabelled) company of the contact
PRIMARY_COMPANY_TO_CONTACT = 2
COMPANY_TO_CONTACT = 280
NO_ASSOCIATIONS = "NO_ASSOCIATIONS_FOUND"  # in the subCategory of "this object has no associations"

# How long a rate-limit window lasts, by HubSpot's policyName, when a 429 says neither
# Retry-After nor X-HubSpot-RateLimit-Interval-Milliseconds.
POLICY_WINDOWS = {"SECONDLY": 1.0, "TEN_SECONDLY_ROLLING": 10.0}
DEFAULT_WINDOW = 10.0
