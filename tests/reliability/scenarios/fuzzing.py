"""Item 8: generated mapping and settings files are accepted or refused with a clear error, never a traceback.

Hypothesis builds mapping files from the real ones (the README's example and the shipped
default) with random mutations (values of the wrong type, keys removed, unknown keys, text
edits that break the YAML, tabs, truncation, bytes that are not UTF-8) and settings (every
variable `Settings` knows, set in the environment and in a TOML file, to plausible and
hostile values). Each goes through the real loaders in-process (`load_mapping`,
`load_settings`), and a handful through the CLI in a subprocess, to prove that what the user
sees is one line naming the file, line or variable, never a traceback.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from connector.errors import ConfigError
from connector.mapping import explain_mapping, load_mapping
from connector.settings import Settings, load_settings
from tests.reliability.figures import Figure
from tests.reliability.kit import PREFIXES, clean_env
from tests.support import run_cli
from tests.sync_harness import EXAMPLE_MAPPING, ROOT_MAPPING

SECTION = "8. config and mapping fuzzing"
ENV_NAMES = sorted(name.upper() for name in Settings.model_fields)

# Values that have tripped loaders before: YAML tags and specials, names close to real ones,
# paths of the `from` grammar, sizes at and past the limits, non-ASCII and control characters.
TRICKY_STRINGS = [
    "",
    " ",
    "\t",
    "1",
    "-1",
    "0",
    "1e309",
    "nan",
    "~",
    "null",
    "yes",
    "no",
    "on",
    "*",
    "&a",
    "!!binary",
    "{",
    "[",
    "]",
    "}",
    ":",
    "- x",
    "'",
    '"',
    "#",
    "%YAML 1.1",
    "---",
    "...",
    "result.",
    "result.summary",
    "result.positions[0].title",
    "result.a.-1",
    "result.[x]",
    "result..a",
    "signals.x.answer",
    "signals.runs_kubernetes.answer.x.y",
    "signals.runs_kubernetes.bogus",
    "research.status",
    "research.nope",
    "research",
    "signals",
    "result",
    "result.__class__",
    "IN",
    "EQ",
    "BETWEEN",
    "HAS_PROPERTY",
    "in",
    "domain",
    "email_domain",
    "url",
    "trim",
    "enumeration",
    "multiple",
    "always",
    "if_empty",
    "unless_edited",
    "contact",
    "company",
    "boolean",
    "json_schema",
    "saber_x",
    "Saber_X",
    "0abc",
    "a" * 51,
    "a" * 300,
    "x" * 70_000,
    "é",
    "日本語",
    "🙂",
    "\u202eevil",
    "a\u200bb",
    "<b>x</b>",
    "a;b",
    "\x00",
    "\x1b[31m",
    "\r\n",
    "\ud800",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**30, -(10**30), 2**63, 0, 1, 3, 4]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(TRICKY_STRINGS),
    st.text(max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(TRICKY_STRINGS) | st.text(max_size=6), inner, max_size=4),
    ),
    max_leaves=8,
)
KNOWN_KEYS = [
    "version", "external_source", "select", "filters", "refresh_after_days", "max_new_per_run", "inputs",
    "signals", "properties", "hubspot_group", "property", "operator", "value", "values", "high_value",
    "normalize", "fallback", "question", "scope", "answer_type", "from", "type", "options", "write", "label",
    "name", "firstName", "lastName", "companyName", "companyDomain", "jobTitle", "contactProfileUrl",
    "linkedInSalesNavigatorUrl", "companyDomian", "proprety",
]  # fmt: skip
TEXT_EDITS = ("insert", "delete", "tab", "truncate", "duplicate_line", "swap_colon")


@dataclass
class Tally:
    """What the loaders did with the generated examples."""

    tried: int = 0
    accepted: int = 0
    refused_clear: int = 0
    refused_unclear: int = 0
    tracebacks: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)  # the first few bad outcomes, for the note

    def bad(self, text: str) -> None:
        if len(self.examples) < 3:
            self.examples.append(text[:300])

    def start(self, kind: str) -> None:
        """One more example of this kind about to be loaded."""
        self.tried += 1
        self.kinds[kind] += 1

    def refused(self, clear: bool, unclear: str) -> None:
        """A `ConfigError`: clear (one line naming the file or setting), or `unclear` kept as an example."""
        if clear:
            self.refused_clear += 1
        else:
            self.refused_unclear += 1
            self.bad(f"unclear: {unclear}")

    def crashed(self, exc: Exception, example: str) -> None:
        """Anything but a `ConfigError`: what the fuzzing looks for."""
        self.tracebacks += 1
        self.bad(f"{type(exc).__name__}: {exc} for {example}")


# ---------------------------------------------------------------------------- mappings
def _base_documents() -> list[dict[str, Any]]:
    yaml = YAML(typ="safe", pure=True)
    return [yaml.load(EXAMPLE_MAPPING), yaml.load(ROOT_MAPPING.read_text(encoding="utf-8"))]


BASES = _base_documents()


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path in a plain YAML document (dict keys and list indexes)."""
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*path, i))


def _container(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _mutate(doc: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """One structural change: replace a value, drop a key, add an unknown key, or rename one."""
    paths = [p for p in _paths(doc) if p]
    path = data.draw(st.sampled_from(paths))
    parent = _container(doc, path[:-1])
    last = path[-1]
    op = data.draw(st.sampled_from(("replace", "replace", "delete", "add", "rename")))
    if op == "replace":
        parent[last] = data.draw(VALUES)
    elif op == "delete":
        del parent[last]
    elif op == "add" and isinstance(parent, dict):
        parent[data.draw(st.sampled_from(KNOWN_KEYS) | st.text(min_size=1, max_size=8))] = data.draw(VALUES)
    elif op == "add" and isinstance(parent, list):
        parent.append(data.draw(VALUES))
    elif op == "rename" and isinstance(parent, dict):
        parent[data.draw(st.sampled_from(KNOWN_KEYS))] = parent.pop(last)
    return doc


def _dump(doc: Any) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.allow_unicode = True
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def _edit_text(text: str, data: st.DataObject) -> str:
    """One textual change that may break the YAML itself."""
    edit = data.draw(st.sampled_from(TEXT_EDITS))
    at = data.draw(st.integers(0, max(0, len(text) - 1)))
    if edit == "insert":
        return text[:at] + data.draw(st.sampled_from(TRICKY_STRINGS) | st.text(max_size=4)) + text[at:]
    if edit == "delete":
        return text[:at] + text[at + data.draw(st.integers(1, 20)) :]
    if edit == "tab":
        return text.replace("  ", "\t", 1) if "  " in text else "\t" + text
    if edit == "truncate":
        return text[:at]
    lines = text.splitlines(keepends=True) or [""]
    line = data.draw(st.integers(0, len(lines) - 1))
    if edit == "duplicate_line":
        return "".join(lines[: line + 1] + lines[line:])
    return "".join(lines[:line] + [lines[line].replace(":", " ", 1)] + lines[line + 1 :])


# Changes a valid mapping should survive: other values of the right type, in the allowed ranges.
GENTLE_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=80)


def _gentle(doc: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """A valid variation: limits, policies, types, labels, questions and options changed within what is allowed."""
    select = doc.setdefault("select", {})
    select["max_new_per_run"] = data.draw(st.integers(0, 10**9))
    select["refresh_after_days"] = data.draw(st.none() | st.integers(1, 10**6))
    doc["external_source"] = data.draw(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-0123456789", min_size=1, max_size=50)
    )
    for spec in doc.get("signals", {}).values():
        spec["question"] = data.draw(GENTLE_TEXT)
        spec["scope"] = data.draw(st.sampled_from(("contact", "company")))
    for name, spec in doc["properties"].items():
        spec["label"] = data.draw(GENTLE_TEXT)
        if spec.get("from", "").startswith(("result.", "research.")) and "write" not in spec:
            spec["write"] = data.draw(st.sampled_from(("unless_edited", "always", "if_empty")))
        if name.endswith("seniority"):
            spec["type"] = data.draw(st.sampled_from(("enumeration", "multiple")))
            keys = data.draw(st.lists(GENTLE_TEXT, min_size=1, max_size=5, unique=True))
            values = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=20)
            spec["options"] = {k: data.draw(values) for k in keys}
    return doc


@st.composite
def mapping_files(draw: st.DrawFn, kind: str) -> tuple[str, bytes]:
    """(how it was made, the file's bytes): mutated real mappings, broken YAML, or garbage."""
    if kind == "garbage_text":
        return kind, draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    if kind == "bytes":
        return kind, draw(st.binary(max_size=200))
    data = draw(st.data())
    doc = json.loads(json.dumps(draw(st.sampled_from(BASES))))  # a deep copy
    if kind == "gentle":
        return kind, _dump(_gentle(doc, data)).encode("utf-8", "surrogatepass")
    for _ in range(draw(st.integers(1, 4))):
        if not doc:
            break
        doc = _mutate(doc, data) if isinstance(doc, dict) else doc
    try:
        text = _dump(doc)
    except Exception:  # a value the YAML dumper cannot write (a lone surrogate): write it raw instead
        text = repr(doc)
    if kind == "text_edit":
        text = _edit_text(text, data)
    return kind, text.encode("utf-8", "surrogatepass")


def try_mapping(path: Path, content: bytes, tally: Tally, kind: str) -> None:
    """Load one mapping file and classify what happened."""
    path.write_bytes(content)
    tally.start(kind)
    try:
        mapping = load_mapping(path)
    except ConfigError as exc:
        message = str(exc)
        lines = message.splitlines()
        odd = next((line for line in lines if not line.startswith(str(path))), message)
        tally.refused(
            bool(lines) and all(line.startswith(str(path)) for line in lines) and "Traceback" not in message,
            f"a line {odd[:160]!r} of {len(lines)}, for {content[:120]!r}",
        )
        return
    except Exception as exc:  # noqa: BLE001 - this is what the fuzzing looks for
        tally.crashed(exc, f"{content[:160]!r}")
        return
    tally.accepted += 1
    try:  # what `mapping explain` prints for it: an accepted mapping must be explainable too
        explain_mapping(mapping)
    except Exception as exc:  # noqa: BLE001 - this is what the fuzzing looks for
        tally.tracebacks += 1
        tally.bad(f"explain_mapping: {type(exc).__name__}: {exc} for {content[:160]!r}")


# ---------------------------------------------------------------------------- settings
SETTING_VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-1",
            "1",
            "2",
            "65536",
            "70000",
            "1e309",
            "nan",
            "inf",
            "-inf",
            "true",
            "false",
            "yes",
            "maybe",
            "None",
            "null",
            "http://127.0.0.1:1",
            "https://",
            "ftp://x",
            "http://",
            "localhost",
            "http://[::1",
            "sqlite:///",
            "sqlite:////nonexistent/x.db",
            "postgresql+psycopg://u:p@h/db",
            "mysql://x",
            "15m",
            "30s",
            "1h",
            "0s",
            "-5m",
            "*/15 * * * *",
            "61 * * * *",
            "* * *",
            "json",
            "console",
            "xml",
            "debug",
            "DEBUG",
            "verbose",
            "mappings/default.yaml",
            "/",
            "é",
            "🙂",
            "a" * 5000,
        ]
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20),
)
TOML_VALUES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=15),
    SETTING_VALUES,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2),
)
FIELD_NAMES = sorted(Settings.model_fields)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if value != value
            else ("inf" if value == float("inf") else "-inf" if value == -float("inf") else repr(value))
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is close enough to JSON's
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"


SettingsExample = tuple[str, dict[str, str], str | None, str | None]


@st.composite
def settings_examples(draw: st.DrawFn, kind: str) -> SettingsExample:
    """(how it was made, environment variables, TOML text or None, `.env` text or None)."""
    env = draw(st.dictionaries(st.sampled_from(ENV_NAMES), SETTING_VALUES, max_size=4))
    if kind == "env":
        return kind, env, None, None
    if kind == "dotenv":  # the `.env` in the working directory, as `saber-connector init` suggests
        values = draw(st.dictionaries(st.sampled_from(ENV_NAMES), SETTING_VALUES, max_size=4))
        styles = st.sampled_from(("{k}={v}", '{k}="{v}"', "{k}='{v}'", "export {k}={v}", "{k} = {v}  # note"))
        lines = [draw(styles).format(k=k, v=v) for k, v in values.items()]
        lines += draw(st.lists(st.text(max_size=20), max_size=2))  # stray lines
        return kind, env, None, "\n".join(draw(st.permutations(lines))) + "\n"
    if kind == "dotenv_bytes":  # what an editor saved in another encoding, or a binary file
        return kind, env, None, draw(st.binary(max_size=80)).decode("utf-8", "surrogateescape")
    if kind == "toml_garbage":
        return kind, env, draw(st.text(max_size=120)), None
    keys = draw(st.lists(st.sampled_from(FIELD_NAMES), max_size=4, unique=True))
    if kind == "toml_unknown_key":
        keys.append(draw(st.sampled_from(["hubspot_base_ulr", "HUBSPOT_BASE_URL", "port", "a b", "x"])))
    lines = [f"{json.dumps(k) if ' ' in k else k} = {_toml_value(draw(TOML_VALUES))}" for k in keys]
    return kind, env, "\n".join(lines) + "\n", None


@contextmanager
def clean_environment(env: dict[str, str]) -> Iterator[None]:
    """The process environment without the connector's variables, plus `env`, restored afterwards."""
    saved = dict(os.environ)
    try:
        for name in list(os.environ):
            if name.startswith(PREFIXES):
                del os.environ[name]
        os.environ.update(env)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def try_settings(workdir: Path, example: SettingsExample, tally: Tally) -> None:
    """Load settings from this environment, TOML file and `.env` (in `workdir`, the working directory)."""
    kind, env, toml, dotenv = example
    path = workdir / "settings.toml"
    if toml is not None:
        path.write_text(toml, encoding="utf-8", errors="surrogatepass")
    dotenv_path = workdir / ".env"
    dotenv_path.unlink(missing_ok=True)
    named = set(env)
    if dotenv is not None:
        dotenv_path.write_text(dotenv, encoding="utf-8", errors="surrogateescape")
        named |= {n for n in ENV_NAMES if n in dotenv}
    tally.start(kind)
    example_text = f"env={env!r} toml={toml!r} .env={dotenv!r}"
    with clean_environment(env):
        try:
            load_settings(path if toml is not None else None)
        except ConfigError as exc:
            message = str(exc)
            names_it = message.startswith((f"config file {path}", ".env:")) or any(
                message.startswith(f"setting {name}:") for name in named
            )
            tally.refused(
                names_it and "\n" not in message and "Traceback" not in message,
                f"{message!r} for {example_text}",
            )
            return
        except Exception as exc:  # noqa: BLE001 - this is what the fuzzing looks for
            tally.crashed(exc, example_text)
            return
    tally.accepted += 1


# ---------------------------------------------------------------------------- runs
# How the examples are shared among the kinds (one hypothesis run per kind: an even, known mix).
MAPPING_KINDS = {"mutated": 3, "gentle": 2, "text_edit": 2, "garbage_text": 1, "bytes": 1}
SETTINGS_KINDS = {
    "env": 2,
    "dotenv": 2,
    "dotenv_bytes": 1,
    "toml": 3,
    "toml_garbage": 1,
    "toml_unknown_key": 1,
}


def _share(total: int, weights: dict[str, int]) -> dict[str, int]:
    whole = sum(weights.values())
    return {kind: max(1, total * w // whole) for kind, w in weights.items()}


def _hypothesis(max_examples: int, derandomize: bool) -> Any:
    return hsettings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=derandomize,
        suppress_health_check=list(HealthCheck),
    )


def fuzz_mappings(max_examples: int, derandomize: bool, workdir: Path) -> Tally:
    """Run hypothesis over mapping files of each kind; every outcome is tallied (nothing raises)."""
    tally = Tally()
    path = workdir / "mapping.yaml"
    for kind, examples in _share(max_examples, MAPPING_KINDS).items():

        @_hypothesis(examples, derandomize)
        @given(mapping_files(kind))
        def check(example: tuple[str, bytes]) -> None:
            made, content = example
            try_mapping(path, content, tally, made)

        check()
    return tally


def fuzz_settings(max_examples: int, derandomize: bool, workdir: Path) -> Tally:
    """Run hypothesis over environments, `.env` and TOML files of each kind, from `workdir`."""
    tally = Tally()
    cwd = Path.cwd()
    os.chdir(workdir)  # Settings reads `.env` from the working directory: this one has only ours
    try:
        for kind, examples in _share(max_examples, SETTINGS_KINDS).items():

            @_hypothesis(examples, derandomize)
            @given(settings_examples(kind))
            def check(example: SettingsExample) -> None:
                try_settings(workdir, example, tally)

            check()
    finally:
        os.chdir(cwd)
    return tally


# A few cases through the CLI: (name, args, extra env, file name, file bytes).
CLI_CASES: list[tuple[str, list[str], dict[str, str], str, bytes]] = [
    ("settings: .env not UTF-8", ["status"], {}, ".env", b"HTTP_MAX_ATTEMPTS=3\n\xff\xfe\n"),
    (
        "mapping: wrong type",
        ["mapping", "explain", "{file}"],
        {},
        "m.yaml",
        b"version: 1\ninputs: 3\nproperties: [x]\n",
    ),
    ("mapping: bad YAML", ["mapping", "explain", "{file}"], {}, "m.yaml", b"version: 1\ninputs:\n\t- x: [\n"),
    ("mapping: not UTF-8", ["mapping", "explain", "{file}"], {}, "m.yaml", b"\xff\xfe\x00version"),
    (
        "mapping: via check",
        ["check"],
        {
            "CONNECTOR_MAPPING": "{file}",
            "HUBSPOT_ACCESS_TOKEN": "fuzz-token-1",
            "SABER_API_KEY": "fuzz-key-12",
        },
        "m.yaml",
        b"version: 2\n",
    ),
    ("settings: bad variable", ["check"], {"HTTP_MAX_ATTEMPTS": "lots"}, "", b""),
    ("settings: bad TOML", ["--config", "{file}", "status"], {}, "c.toml", b"http_read_timeout = = 3\n"),
    (
        "settings: TOML wrong type",
        ["status", "--config", "{file}"],
        {},
        "c.toml",
        b'connector_http_port = "x"\n',
    ),
    (
        "settings: unknown TOML key",
        ["sync", "--dry-run", "--config", "{file}"],
        {},
        "c.toml",
        b"hubspot_base_ulr = 'x'\n",
    ),
]


@dataclass
class CliOutcome:
    name: str
    code: int
    stderr: str
    clear: bool
    traceback: bool


def run_cli_case(workdir: Path, case: tuple[str, list[str], dict[str, str], str, bytes]) -> CliOutcome:
    """Run one case through `python -m connector.cli` and judge what the user saw."""
    name, args, extra, file_name, content = case
    here = workdir / f"cli-{abs(hash(name))}"
    here.mkdir()
    target = here / file_name if file_name else here
    if file_name:
        target.write_bytes(content)
    env = clean_env(**{k: v.replace("{file}", str(target)) for k, v in extra.items()})
    env["CONNECTOR_STATE_URL"] = f"sqlite:///{here / 'state.db'}"
    proc = run_cli(*(a.replace("{file}", str(target)) for a in args), env=env, cwd=here)
    output = proc.stdout + proc.stderr
    named = (
        (str(target) in output or f"{file_name}:" in output) if file_name else any(n in output for n in extra)
    )
    return CliOutcome(
        name=name,
        code=proc.returncode,
        stderr=proc.stderr,
        clear=proc.returncode == 2 and named,
        traceback="Traceback" in output,
    )


# The short version runs one case of each kind: a mapping, a setting, a TOML file, a .env, a command with an API.
SHORT_CLI = (
    "mapping: wrong type",
    "mapping: via check",
    "settings: bad variable",
    "settings: bad TOML",
    "settings: .env not UTF-8",
)


def run(long: bool) -> list[Figure]:
    """Fuzz both loaders in-process, and a few cases through the CLI; the figures."""
    mapping_examples, settings_examples_n = (3000, 2000) if long else (250, 200)
    cases = [c for c in CLI_CASES if long or c[0] in SHORT_CLI]
    with tempfile.TemporaryDirectory(prefix="fuzzing-") as tmp, ThreadPoolExecutor(max_workers=2) as pool:
        workdir = Path(tmp)
        # The CLI cases run in subprocesses while the loaders are fuzzed in this one.
        pending = [pool.submit(run_cli_case, workdir, case) for case in cases]
        mappings = fuzz_mappings(mapping_examples, derandomize=not long, workdir=workdir)
        settings_dir = workdir / "settings"
        settings_dir.mkdir()
        settings = fuzz_settings(settings_examples_n, derandomize=not long, workdir=settings_dir)
        cli = [future.result() for future in pending]
    figures: list[Figure] = []
    for label, tally in (("mapping", mappings), ("settings", settings)):
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(tally.kinds.items()))
        figures += [
            Figure(SECTION, f"{label} examples tried", tally.tried, note=kinds),
            Figure(SECTION, f"{label} accepted", tally.accepted),
            Figure(SECTION, f"{label} refused with a clear error", tally.refused_clear),
            Figure(
                SECTION,
                f"{label} refused without naming the {'file and line' if label == 'mapping' else 'file or variable'}",
                tally.refused_unclear,
                must_be=0,
                note="; ".join(e for e in tally.examples if e.startswith("unclear")),
            ),
            Figure(
                SECTION,
                f"{label} tracebacks",
                tally.tracebacks,
                must_be=0,
                note="; ".join(e for e in tally.examples if not e.startswith("unclear")),
            ),
        ]
    figures += [
        Figure(SECTION, "CLI cases run", len(cli)),
        Figure(
            SECTION,
            "CLI cases without exit 2 and the file or variable named",
            sum(not o.clear for o in cli),
            must_be=0,
            note="; ".join(f"{o.name}: exit {o.code}: {o.stderr.strip()[:160]}" for o in cli if not o.clear),
        ),
        Figure(SECTION, "CLI tracebacks", sum(o.traceback for o in cli), must_be=0),
    ]
    return figures
