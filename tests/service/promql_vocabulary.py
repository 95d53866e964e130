"""What PromQL expressions name, and what the service's /metrics exports: tests compare the two.

A small tokenizer, not a PromQL parser: the rule file and the dashboard use selectors, label
matchers, `by`/`without`/`on`/`ignoring` lists, functions, ranges and Grafana's `$variables`,
and that is all it needs to read. (The `promql-parser` PyPI package, Rust bindings, would parse
them too: a native dependency for one test is more than these few regular expressions, and
tests/service/test_monitoring.py shows they catch a misspelled metric or label.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
MATCHERS = re.compile(r"\{([^{}]*)\}")
MATCHER_LABEL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
RANGE = re.compile(r"\[[^\[\]]*\]")
VARIABLE = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*")
IDENTIFIER = re.compile(r"(?<![\w.:$])([A-Za-z_:][A-Za-z0-9_:]*)(?![\w:])")
KEYWORDS = frozenset(
    [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "inf",
        "nan",
    ]
)
# Labels Prometheus adds to every scraped series (the job's and the target's).
TARGET_LABELS = frozenset({"job", "instance"})
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}


@dataclass(frozen=True)
class Expression:
    """The metric names and label names one PromQL expression refers to."""

    metrics: frozenset[str]
    labels: frozenset[str]


@dataclass
class Exported:
    """Series names a /metrics text exports, each with the label names its samples carry."""

    labels: dict[str, set[str]] = field(default_factory=dict)

    def add_text(self, text: str) -> None:
        """Add every family of one exposition: its sample names (with suffixes) and their labels."""
        for family in text_string_to_metric_families(text):
            names = {family.name}
            if family.type in SUFFIXES:
                names = {family.name + suffix for suffix in SUFFIXES[family.type]}
            for name in names:
                self.labels.setdefault(name, set())
            for sample in family.samples:
                self.labels.setdefault(sample.name, set()).update(sample.labels)

    def problems(self, expr: str) -> list[str]:
        """What in `expr` /metrics does not export: unknown metrics, and labels none of its metrics has."""
        found = parse(expr)
        unknown = sorted(found.metrics - set(self.labels))
        known = set(TARGET_LABELS)
        for name in found.metrics & set(self.labels):
            known |= self.labels[name]
        labels = sorted(found.labels - known)
        return [f"unknown metric {m!r}" for m in unknown] + [
            f"label {x!r} on none of its metrics" for x in labels
        ]


def parse(expr: str) -> Expression:
    """The metric and label names in one PromQL expression (Grafana variables allowed)."""
    text = VARIABLE.sub("0", STRING.sub('""', expr))
    labels: set[str] = set()
    for body in MATCHERS.findall(text):
        labels.update(MATCHER_LABEL.findall(body))
    text = MATCHERS.sub(" ", text)
    for _keyword, names in GROUPING.findall(text):
        labels.update(n.strip() for n in names.split(",") if n.strip())
    text = GROUPING.sub(" ", RANGE.sub(" ", text))
    metrics = set()
    for match in IDENTIFIER.finditer(text):
        name = match.group(1)
        after = text[match.end() :].lstrip()
        if name.lower() in KEYWORDS or after.startswith("("):  # a keyword or a function call
            continue
        metrics.add(name)
    return Expression(frozenset(metrics), frozenset(labels))
