"""Why a contact's answers found no HubSpot company: a reason code and its detail, typed end to end.

The state keeps it as one text (`code: detail`, see `str`), which `parse` reads back, so
`status` counts contacts by code and `explain` shows the reason without splitting strings.
"""

from __future__ import annotations

from dataclasses import dataclass

# The reason codes (what the summary and `status` count).
NO_DOMAIN = "no_domain"
NO_ASSOCIATION = "no_association"
SEVERAL_COMPANIES = "several_companies"
NO_COMPANY_WITH_DOMAIN = "no_company_with_domain"
AMBIGUOUS_DOMAIN = "ambiguous_domain"
ASSOCIATION_FAILED = "association_failed"  # the association read failed: retried, not settled


@dataclass(frozen=True, slots=True)
class Unmatched:
    """Why no company could be matched: a code from the list above and a sentence for people."""

    code: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}" if self.detail else self.code

    @classmethod
    def parse(cls, text: str) -> Unmatched:
        """The reason as stored (`code: detail`) read back."""
        code, _, detail = text.partition(":")
        return cls(code.strip(), detail.strip())

    @property
    def retried(self) -> bool:
        """A failed read, not a fact about the contact: the next cycle tries again."""
        return self.code == ASSOCIATION_FAILED
