"""Signal templates named by the mapping, read from Saber (free) before a cycle asks anything.

A signal may name `template: <id>` instead of a question: the template fixes the question
and the answer type. The cycle needs the question to find answers already at hand (in the
research result, in Saber's lists), so each template is read once per run; one Saber does
not know stops the run with the mapping's file and line, before anything is paid.
"""

from __future__ import annotations

from connector.errors import ConfigError
from connector.mapping import Mapping
from connector.saber import SaberClient, SaberNotFound


def template_problems(mapping: Mapping, saber: SaberClient) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """Each template signal's (question, answer type), and one line per template Saber does not have."""
    found: dict[str, tuple[str, str]] = {}
    problems: list[str] = []
    for key, template_id in mapping.template_signals().items():
        where = mapping.where("signals", key, "template")
        try:
            template = saber.get_signal_template(template_id)
        except SaberNotFound:
            problems.append(
                f"{where}: Saber has no signal template {template_id!r} (or this key cannot see it)"
            )
            continue
        if not template.question or template.deleted_at is not None:
            problems.append(f"{where}: Saber's signal template {template_id!r} has no question (deleted?)")
            continue
        found[key] = (template.question, template.answer_type or "open_text")
    return found, problems


def resolve_templates(mapping: Mapping, saber: SaberClient) -> Mapping:
    """The mapping with every template signal's question and answer type filled in from Saber."""
    if not mapping.template_signals():
        return mapping
    found, problems = template_problems(mapping, saber)
    if problems:
        raise ConfigError(problems[0])
    return mapping.with_templates(found)
