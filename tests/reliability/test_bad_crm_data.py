"""Bad CRM data (item 6): whatever people type, Saber is sent clean inputs it accepts, or none."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.mapping import build_inputs, parse_mapping
from connector.mapping.inputs import clean_text
from connector.sandbox.saber import RESEARCH_FIELDS, _check_field
from tests.reliability.figures import assert_all_ok
from tests.reliability.scenarios import bad_crm_data
from tests.reliability.scenarios.bad_crm_data import MAPPING, unclean

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

# Text as CRMs hold it: any character (emoji, right-to-left, zero-width, controls) and the
# fragments that make fields dirty, in any order.
FRAGMENTS = st.sampled_from(
    [
        "<b>",
        "</b>",
        "&amp;",
        "&nbsp;",
        " ",
        "\t",
        "\u200b",
        "\u202e",
        "😀",
        "👩‍💻",
        "www.",
        "https://",
        "@",
        ".",
        "/",
    ]
)
TEXT = st.lists(st.one_of(st.text(max_size=30), FRAGMENTS), max_size=12).map("".join) | st.text(
    min_size=90, max_size=260
)
FIELDS = ("firstname", "lastname", "company", "website", "email", "jobtitle", "linkedin_url")


def test_a_portal_of_nasty_contacts_is_researched_clean_or_skipped_with_a_reason() -> None:
    """Every contact is researched with clean inputs Saber accepts, or skipped with a reason; nothing crashes."""
    figures = bad_crm_data.run(long=False)
    assert_all_ok(figures)
    by_name = {f.name: f.value for f in figures}
    assert by_name["research launched"] > 0 and by_name["skipped with a reason"] > 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({name: st.none() | TEXT for name in FIELDS}))
def test_any_field_values_give_inputs_saber_accepts_or_a_reason(props: dict[str, str | None]) -> None:
    """For any field values, the inputs are clean and pass Saber's validation field by field, or the skip names the field."""
    result = build_inputs(parse_mapping(MAPPING), props)
    if result.inputs is None:
        assert result.skip_reason and result.skip_reason.split(":")[0] in (
            "firstName",
            "lastName",
            "companyName",
            "companyDomain",
        )
        return
    specs = {name: (low, high, kind) for name, _, low, high, kind in RESEARCH_FIELDS}
    for field, value in result.inputs.items():
        assert _check_field(value, *specs[field]) is None, (field, value)
        assert unclean(value) is None, (field, value)


def test_clean_text_drops_markup_and_invisible_characters_only() -> None:
    """HTML tags and entities, zero-width and direction marks go; letters, emoji and inner spaces stay."""
    assert clean_text(" <b>Zoë</b>\u200b ") == "Zoë"
    assert clean_text("Ben &amp; Jerry\u200f") == "Ben & Jerry"
    assert clean_text("Ana  María\t😀") == "Ana  María 😀"
    assert clean_text("\u200b") == ""
