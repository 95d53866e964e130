"""`setup` adds the enumeration options the mapping writes, in its own group only, over the sandbox's PATCH."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.hubspot import HubSpotAdapter, HubSpotError
from connector.sandbox.hubspot import HubSpotSandbox
from connector.sandbox.runner import RunningSandbox, start_sandbox
from tests.hubspot_fixtures import PROPERTIES, fast_adapter, http, running
from tests.support import run_cli
from tests.sync_harness import MAPPING_HEAD, sandbox_env, write_mapping

MAPPING = (
    MAPPING_HEAD
    + """\
properties:
  saber_summary: {from: result.summary}
  saber_seniority:
    from: result.seniority
    type: enumeration
    options: {VP: vp, Director: director, C-Level: c_level}
  saber_tools:
    from: result.tools
    type: multiple
    options: {Kubernetes: k8s, Terraform: terraform}
"""
)


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=2, seed=3) as running_box:
        yield running_box


def stored(box: HubSpotSandbox, name: str) -> dict[str, Any]:
    """The property as the sandbox's properties API returns it."""
    with http(box) as client:
        answer = client.get(f"{PROPERTIES}/{name}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def options_of(box: HubSpotSandbox, name: str) -> list[tuple[str, str]]:
    return [(o["label"], o["value"]) for o in stored(box, name)["options"]]


def setup(box: RunningSandbox, tmp_path: Path) -> Any:
    return run_cli("setup", env=sandbox_env(box, tmp_path, write_mapping(tmp_path, MAPPING)), cwd=tmp_path)


# ---------------------------------------------------------------------------- setup
def test_setup_adds_missing_options_in_its_own_group_once(box: RunningSandbox, tmp_path: Path) -> None:
    """Enumerations in the `saber` group get the options they lack (theirs kept); a second run adds nothing."""
    box.hubspot.define_property(
        "saber_seniority", "enumeration", group_name="saber", options=[("Vice P.", "vp")]
    )
    box.hubspot.define_property(
        "saber_tools", "enumeration", "checkbox", group_name="saber", options=[("K8s", "k8s")]
    )
    first = setup(box, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "  options  saber_seniority: added director, c_level" in first.stdout.splitlines()
    assert "  options  saber_tools: added terraform" in first.stdout.splitlines()
    assert options_of(box.hubspot, "saber_seniority") == [
        ("Vice P.", "vp"),
        ("Director", "director"),
        ("C level", "c_level"),
    ]
    assert options_of(box.hubspot, "saber_tools") == [("K8s", "k8s"), ("Terraform", "terraform")]
    patches = box.hubspot.count("property_update")
    assert patches == 2

    second = setup(box, tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "options" not in second.stdout and "CONFLICT" not in second.stdout
    assert box.hubspot.count("property_update") == patches  # nothing sent the second time


def test_setup_does_not_touch_options_outside_its_group(box: RunningSandbox, tmp_path: Path) -> None:
    """A property in another group keeps its options; the ones it lacks are reported as conflicts, exit 2."""
    box.hubspot.define_property(
        "saber_seniority", "enumeration", group_name="contactinformation", options=[("VP", "vp")]
    )
    proc = setup(box, tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    conflicts = [line for line in proc.stdout.splitlines() if line.startswith("  CONFLICT")]
    assert len(conflicts) == 2 and all("which HubSpot property saber_seniority lacks" in c for c in conflicts)
    assert "options  saber_seniority" not in proc.stdout
    assert options_of(box.hubspot, "saber_seniority") == [("VP", "vp")]
    assert box.hubspot.count("property_update") == 0


# ---------------------------------------------------------------------------- the adapter
def test_add_property_options_keeps_what_is_there_and_is_idempotent() -> None:
    """The adapter sends the full list (existing options untouched, new ones after them) and nothing when none is new."""
    with running(contacts=1) as box:
        box.define_property("saber_level", "enumeration", options=[("One", "1"), ("Two", "2")])
        hubspot = fast_adapter(box)
        info, added = hubspot.add_property_options(
            "saber_level", [("Two", "2"), ("Three", "3"), ("Three", "3")]
        )
        assert added == ["3"] and info.options == ("1", "2", "3")
        (patch,) = box.requests_to("property_update")
        assert patch.body == {
            "options": [
                {"label": "One", "value": "1", "displayOrder": 0, "hidden": False},
                {"label": "Two", "value": "2", "displayOrder": 1, "hidden": False},
                {"label": "Three", "value": "3", "displayOrder": 2, "hidden": False},
            ]
        }
        info, added = hubspot.add_property_options("saber_level", [("Three", "3")])
        assert added == [] and box.count("property_update") == 1
        hubspot.close()


def test_add_property_options_to_an_unknown_property_is_a_404() -> None:
    """A property the portal does not have is HubSpot's 404, raised as a HubSpotError."""
    with running(contacts=1) as box:
        hubspot = HubSpotAdapter(box.url, box.token)
        with hubspot, pytest.raises(HubSpotError) as info:
            hubspot.add_property_options("no_such_property", [("A", "a")])
    assert info.value.status == 404 and info.value.category == "OBJECT_NOT_FOUND"


# ---------------------------------------------------------------------------- the sandbox's PATCH
def test_the_sandbox_patch_replaces_options_and_answers_the_property() -> None:
    """PATCH /crm/v3/properties/contacts/{name} replaces `options` whole and answers the updated Property."""
    with running(contacts=1) as box, http(box) as client:
        before = box.define_property("saber_level", "enumeration", options=[("One", "1")])
        options = [
            {"label": "Uno", "value": "1", "hidden": False},
            {"label": "Two", "value": "2", "hidden": True},
        ]
        answer = client.patch(f"{PROPERTIES}/saber_level", json={"options": options, "label": "Level"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["name"] == "saber_level" and body["label"] == "Level" and body["type"] == "enumeration"
        assert [(o["label"], o["value"], o["hidden"]) for o in body["options"]] == [
            ("Uno", "1", False),
            ("Two", "2", True),
        ]
        assert body["updatedAt"] != before["updatedAt"]
        assert client.get(f"{PROPERTIES}/saber_level").json() == body


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("saber_level", {"options": [], "nickname": "x"}, "Unrecognized field 'nickname'"),
        ("saber_level", {"options": [{"label": "A", "value": "a"}]}, "hidden is required"),
        ("saber_level", {"options": [{"label": "A", "value": "a", "hidden": False}] * 2}, "Duplicate option"),
        ("saber_level", {"fieldType": "textarea"}, "fieldType 'textarea' is not valid"),
        ("saber_level", {"groupName": "no_such_group"}, "Unable to find property group"),
        (
            "saber_note",
            {"options": [{"label": "A", "value": "a", "hidden": False}]},
            "only be set on enumeration",
        ),
        ("email", {"type": "number", "fieldType": "number"}, "HubSpot-defined property"),
        ("saber_level", {"label": 3}, "label must be a string"),
    ],
)
def test_the_sandbox_patch_refuses_what_hubspot_refuses(
    name: str, payload: dict[str, Any], message: str
) -> None:
    """An invalid PropertyUpdate is a 400 VALIDATION_ERROR saying why; the property is left as it was."""
    with running(contacts=1) as box, http(box) as client:
        box.define_property("saber_level", "enumeration", options=[("One", "1")])
        box.define_property("saber_note", "string")
        before = client.get(f"{PROPERTIES}/{name}").json()
        answer = client.patch(f"{PROPERTIES}/{name}", json=payload)
        assert answer.status_code == 400, answer.text
        assert answer.json()["category"] == "VALIDATION_ERROR" and message in answer.json()["message"]
        assert client.get(f"{PROPERTIES}/{name}").json() == before


def test_the_sandbox_patch_of_an_unknown_property_is_a_404_and_needs_the_write_scope() -> None:
    """An unknown property is 404 OBJECT_NOT_FOUND; without crm.schemas.contacts.write the PATCH is a 403."""
    with running(contacts=1) as box, http(box) as client:
        answer = client.patch(f"{PROPERTIES}/no_such_property", json={"label": "X"})
        assert answer.status_code == 404 and answer.json()["category"] == "OBJECT_NOT_FOUND"
        box.granted_scopes = {"crm.schemas.contacts.read"}
        box.define_property("saber_level", "enumeration", options=[("One", "1")])
        answer = client.patch(f"{PROPERTIES}/saber_level", json={"label": "X"})
        assert answer.status_code == 403 and answer.json()["category"] == "MISSING_SCOPES"
        assert answer.json()["errors"][0]["context"] == {
            "requiredGranularScopes": ["crm.schemas.contacts.write"]
        }
        assert client.get(f"{PROPERTIES}/saber_level").status_code == 200  # reads are still granted


def test_a_patch_without_a_json_object_is_a_400() -> None:
    """A body that is not a JSON object is refused like HubSpot's JSON binding refuses it."""
    with running(contacts=1) as box:
        box.define_property("saber_level", "enumeration", options=[("One", "1")])
        answer = httpx.patch(
            f"{box.url}{PROPERTIES}/saber_level",
            content=b"[1, 2]",
            headers={"Authorization": f"Bearer {box.token}", "Content-Type": "application/json"},
            timeout=10,
        )
        assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"
