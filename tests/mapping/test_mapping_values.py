"""Mapping a research result (and its signals) to HubSpot property values through `from` paths,
and working out which signals still have to be asked."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from connector.mapping import Mapping, PropertyValue, SignalAsk, map_values, parse_mapping, signals_to_ask
from connector.saber.models import Research, Signal

EXAMPLE = (Path(__file__).parents[1] / "fixtures" / "mapping" / "example.yaml").read_text(encoding="utf-8")
FIXTURE = Path(__file__).parents[1] / "fixtures" / "saber" / "research_completed.json"
RAW: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
EXAMPLE_MAPPING = parse_mapping(EXAMPLE)
INPUTS = {
    "firstName": "John",
    "lastName": "Doe",
    "companyName": "Acme Corp",
    "companyDomain": "acme.com",
    "contactProfileUrl": "https://www.linkedin.com/in/johndoe",
}


def research(**changes: Any) -> Research:
    data = copy.deepcopy(RAW)
    data.update(changes)
    return Research.model_validate(data)


def with_result(**changes: Any) -> Research:
    data = copy.deepcopy(RAW)
    data["result"].update(changes)
    return Research.model_validate(data)


def mapping(properties: str, signals: str = "") -> Mapping:
    """The example's select and inputs with other signals and properties."""
    head = EXAMPLE.split("signals:")[0]
    return parse_mapping(f"{head}signals:{signals or ' {}'}\nproperties:\n{properties}")


def values(m: Mapping, r: Research, answers: dict[str, Signal] | None = None) -> dict[str, str | None]:
    out = map_values(m, r, answers or {})
    assert all(pv.error is None for pv in out.values()), out
    return {name: pv.value for name, pv in out.items()}


# ---------------------------------------------------------------------------- the example
def test_example_maps_the_completed_research() -> None:
    """The issue's example, against the contract's completed research, gives HubSpot-ready values."""
    out = map_values(EXAMPLE_MAPPING, research(), {})
    assert out == {
        "saber_summary": PropertyValue(
            "saber_summary", "VP of Sales at Acme Corp, leads a 40-person team across North America.", None
        ),
        "saber_seniority": PropertyValue("saber_seniority", "vp", None),
        "saber_email": PropertyValue("saber_email", "john.doe@acme.com", None),
        "saber_runs_kubernetes": PropertyValue("saber_runs_kubernetes", "true", None),
        "saber_runs_kubernetes_confidence": PropertyValue("saber_runs_kubernetes_confidence", "0.87", None),
        "saber_research_status": PropertyValue("saber_research_status", "completed", None),
        "saber_researched_at": PropertyValue("saber_researched_at", "2024-01-15T10:32:15.000Z", None),
    }


def test_example_needs_no_signal_asks_when_the_result_answers() -> None:
    """A signal the result already answers is not asked (no credit spent)."""
    assert signals_to_ask(EXAMPLE_MAPPING, research(), INPUTS) == ([], {})


def test_unmapped_option_is_an_error_for_that_property_only() -> None:
    """A seniority missing from options is reported for that property; the others still map."""
    out = map_values(EXAMPLE_MAPPING, with_result(seniority="Manager"), {})
    error = out["saber_seniority"].error
    assert out["saber_seniority"].value is None
    assert error is not None and "saber_seniority" in error and "'Manager'" in error
    assert out["saber_summary"].value is not None and out["saber_summary"].error is None
    assert sum(pv.error is not None for pv in out.values()) == 1


def test_null_answers_give_nothing_to_write() -> None:
    """A null answer and a missing field map to None (nothing written), never to a blank."""
    data = copy.deepcopy(RAW)
    data["result"]["signals"][0]["answer"] = None
    data["result"]["signals"][0]["confidence"] = None
    del data["result"]["email"]
    out = values(EXAMPLE_MAPPING, Research.model_validate(data))
    assert out["saber_runs_kubernetes"] is None
    assert out["saber_runs_kubernetes_confidence"] is None
    assert out["saber_email"] is None
    assert out["saber_summary"] is not None


@pytest.mark.parametrize("status", ["failed", "processing"])
def test_research_that_did_not_complete(status: str) -> None:
    """For failed or pending research only research.* paths map; result and signal paths give None."""
    r = Research.model_validate(
        {
            "id": "cr_failed1",
            "status": status,
            "errorCode": "CONTACT_NOT_FOUND" if status == "failed" else None,
            "error": "No such person" if status == "failed" else None,
            "completedAt": "2024-01-15T12:32:15+02:00" if status == "failed" else None,
            "result": RAW["result"] if status == "processing" else None,
        }
    )
    m = mapping(
        "  saber_status: {from: research.status}\n"
        "  saber_error: {from: research.errorCode}\n"
        "  saber_message: {from: research.error}\n"
        "  saber_at: {from: research.completedAt, type: datetime}\n"
        "  saber_summary: {from: result.summary}\n"
        "  saber_k8s: {from: signals.k8s.answer, type: bool}\n",
        '\n  k8s: {question: "Does this person\'s team run Kubernetes in production?"}',
    )
    out = values(m, r)
    assert out["saber_status"] == status
    assert out["saber_summary"] is None and out["saber_k8s"] is None
    if status == "failed":
        assert (out["saber_error"], out["saber_message"]) == ("CONTACT_NOT_FOUND", "No such person")
        assert out["saber_at"] == "2024-01-15T10:32:15.000Z"
    else:
        assert out["saber_error"] is None and out["saber_at"] is None
    asks, cannot = signals_to_ask(m, r, INPUTS)
    assert asks == [] and cannot == {"k8s": f"the research is {status}"}


# ---------------------------------------------------------------------------- result paths
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("result.positions.0.title", "VP of Sales"),
        ("result.positions[0].title", "VP of Sales"),
        ("result.positions[1].company", "Globex"),
        ("result.positions.1.company", "Globex"),
        ("result.positions[-1].title", "Sales Director"),
        ("result.positions[2].title", None),
        ("result.positions.0.missing", None),
        ("result.skills", "Enterprise sales; Kubernetes; Negotiation"),
        ("result.skills[1]", "Kubernetes"),
        ("result.positions[0]", '{"company":"Acme Corp","startedAt":"2021-03-01","title":"VP of Sales"}'),
        ("result.summary.deeper", None),
        ("result.email_status", "valid"),
        ("result.current_title", "VP of Sales"),
        ("result.nothing", None),
    ],
)
def test_result_paths_with_keys_and_list_indexes(path: str, expected: str | None) -> None:
    """Paths go into the result through keys (either spelling) and list indexes (.0 or [0], negative too)."""
    m = mapping(f"  saber_x: {{from: '{path}'}}\n")
    assert values(m, research())["saber_x"] == expected


def test_result_values_convert_per_type() -> None:
    """Dates, multi-selects and numbers from the result convert to their property types."""
    m = mapping(
        "  saber_started: {from: 'result.positions[1].startedAt', type: date}\n"
        "  saber_skills: {from: result.skills, type: multiple, options: "
        "{Enterprise sales: enterprise_sales, Kubernetes: kubernetes, Negotiation: negotiation}}\n"
        "  saber_team: {from: result.teamSize, type: number}\n"
    )
    out = values(m, with_result(teamSize="40"))
    assert out == {
        "saber_started": "2017-06-15",
        "saber_skills": "enterprise_sales;kubernetes;negotiation",
        "saber_team": "40",
    }


def test_research_fields() -> None:
    """research.id, status, createdAt and completedAt come from the research itself."""
    m = mapping(
        "  saber_id: {from: research.id}\n"
        "  saber_created: {from: research.createdAt, type: date}\n"
        "  saber_done: {from: research.completedAt}\n"
    )
    assert values(m, research()) == {
        "saber_id": "cr_abc123def456",
        "saber_created": "2024-01-15",
        "saber_done": "2024-01-15T10:32:15.000Z",
    }


# ---------------------------------------------------------------------------- signals in the result
SIGNALS = """
  k8s: {question: "Does this person's team run Kubernetes in production?", answer_type: boolean}
  territory: {question: "what is this person's   MAIN sales territory?"}
  crm: {question: "Which CRM does the company use?", scope: company}
  engineers: {question: "How many engineers does the company employ?", scope: company, answer_type: number}
"""


def test_signals_answered_in_the_result_in_both_spellings() -> None:
    """Answers keyed openText and open_text are both read; questions match ignoring case and spacing."""
    m = mapping(
        "  saber_territory: {from: signals.territory.answer}\n"
        "  saber_territory_confidence: {from: signals.territory.confidence, type: number}\n"
        "  saber_crm: {from: signals.crm.answer}\n"
        "  saber_crm_reasoning: {from: signals.crm.reasoning}\n"
        "  saber_crm_sources: {from: signals.crm.sources}\n"
        "  saber_engineers: {from: signals.engineers.answer, type: number}\n"
        "  saber_k8s_sources: {from: signals.k8s.sources}\n",
        SIGNALS,
    )
    out = values(m, research())
    assert out == {
        "saber_territory": "North America",
        "saber_territory_confidence": None,
        "saber_crm": "HubSpot",
        "saber_crm_reasoning": "Careers page.",
        "saber_crm_sources": "https://acme.com/careers",
        "saber_engineers": None,
        "saber_k8s_sources": "Site Reliability Engineer (https://acme.com/careers/sre)\n"
        "Our platform (https://acme.com/blog/platform)",
    }
    assert signals_to_ask(m, research(), INPUTS) == ([], {})


def test_result_signal_wins_over_an_asked_one() -> None:
    """When the result answers a question, a stored sync answer for it is not used."""
    asked = Signal.model_validate(
        {"question": "x", "answer": {"type": "boolean", "boolean": {"value": False}}}
    )
    out = values(EXAMPLE_MAPPING, research(), {"runs_kubernetes": asked})
    assert out["saber_runs_kubernetes"] == "true"


# ---------------------------------------------------------------------------- signals asked via sync
ASKED = """
  hiring: {question: "Is the company hiring for engineering roles?", scope: company, answer_type: boolean}
  stack: {question: "Which cloud does the team use?", scope: contact, answer_type: list}
  profile: {question: "Structured profile?", answer_type: json_schema}
"""
ASKED_PROPS = (
    "  saber_hiring: {from: signals.hiring.answer, type: bool}\n"
    "  saber_stack: {from: signals.stack.answer, type: multiple}\n"
    "  saber_stack_text: {from: signals.stack.answer}\n"
    "  saber_team: {from: 'signals.profile.answer.team.size', type: number}\n"
)


def test_signals_the_result_lacks_are_asked_with_the_right_target() -> None:
    """Company signals are asked with the domain, contact signals with the profile URL sent."""
    m = mapping(ASKED_PROPS, ASKED)
    asks, cannot = signals_to_ask(m, research(), INPUTS)
    assert cannot == {}
    assert asks == [
        SignalAsk("hiring", "company", "Is the company hiring for engineering roles?", "boolean", "acme.com"),
        SignalAsk("stack", "contact", "Which cloud does the team use?", "list", INPUTS["contactProfileUrl"]),
        SignalAsk("profile", "contact", "Structured profile?", "json_schema", INPUTS["contactProfileUrl"]),
    ]


def test_contact_signal_uses_the_found_profile_when_none_was_sent() -> None:
    """Without a contactProfileUrl input, the research's linkedInUrl is the target."""
    m = mapping(ASKED_PROPS, ASKED)
    inputs = {k: v for k, v in INPUTS.items() if k != "contactProfileUrl"}
    asks, _ = signals_to_ask(m, with_result(linkedInUrl="linkedin.com/in/found"), inputs)
    assert {a.key: a.target for a in asks}["stack"] == "https://linkedin.com/in/found"


def test_contact_signal_without_any_profile_cannot_be_asked() -> None:
    """With no profile URL anywhere, contact signals are reported as not askable; company ones still go."""
    m = mapping(ASKED_PROPS, ASKED)
    inputs = {k: v for k, v in INPUTS.items() if k != "contactProfileUrl"}
    asks, cannot = signals_to_ask(m, with_result(linkedInUrl=None), inputs)
    assert [a.key for a in asks] == ["hiring"]
    assert set(cannot) == {"stack", "profile"}
    assert all("no profile URL" in why for why in cannot.values())


def test_asked_answers_are_mapped() -> None:
    """Answers from the sync endpoints map like result signals, deeper answer paths included."""
    m = mapping(ASKED_PROPS, ASKED)
    answers = {
        "hiring": Signal.model_validate(
            {"status": "completed", "answer": {"type": "boolean", "boolean": {"value": False}}}
        ),
        "stack": Signal.model_validate(
            {"answer": {"type": "list", "list": {"value": ["gcp", "aws", "gcp"]}}}
        ),
        "profile": Signal.model_validate(
            {"answer": {"type": "json_schema", "jsonSchema": {"value": {"team": {"size": 12.0}}}}}
        ),
    }
    assert values(m, research(), answers) == {
        "saber_hiring": "false",
        "saber_stack": "aws;gcp",
        "saber_stack_text": "gcp; aws; gcp",
        "saber_team": "12",
    }


def test_unanswered_signals_map_to_nothing() -> None:
    """A signal neither in the result nor asked gives None for each of its properties."""
    m = mapping(ASKED_PROPS, ASKED)
    assert set(values(m, research()).values()) == {None}


def test_wrongly_typed_answer_is_an_error_naming_property_and_value() -> None:
    """An answer that does not fit the property type is a per-property error naming both."""
    m = mapping(ASKED_PROPS, ASKED)
    answers = {
        "hiring": Signal.model_validate({"answer": {"type": "open_text", "openText": {"value": "Probably"}}})
    }
    out = map_values(m, research(), answers)
    assert out["saber_hiring"].value is None
    assert out["saber_hiring"].error == (
        "saber_hiring (bool, from signals.hiring.answer): 'Probably' is not true/false or yes/no"
    )


def test_signal_no_property_maps_is_never_asked() -> None:
    """A signal no property uses is not asked (it would cost a credit for nothing)."""
    m = mapping("  saber_hiring: {from: signals.hiring.answer, type: bool}\n", ASKED)
    asks, cannot = signals_to_ask(m, research(), INPUTS)
    assert [a.key for a in asks] == ["hiring"]
    assert cannot == {"stack": "no property maps it", "profile": "no property maps it"}
