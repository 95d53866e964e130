"""`saber-connector init [DIR]`: a starter mapping and a `.env.example` naming every setting.

The mapping written is the one shipped inside the package (`connector/mapping/default.yaml`), at
`DIR/mappings/default.yaml`: the path `CONNECTOR_MAPPING` defaults to, so commands run from DIR
find it without any setting. The `.env.example` is generated from `connector.settings.Settings`,
so it lists every setting with its default and its description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from connector.errors import ConfigError
from connector.mapping import packaged_mapping
from connector.settings import CONFIG_ENV, DEFAULT_MAPPING, Settings

ENV_EXAMPLE = ".env.example"
ENV_HEADER = f"""\
# saber-connector settings. Copy this file to .env in the directory you run the connector from
# (or set the variables in the environment, which wins over .env). Set the two secrets; every
# other line shows its default: remove the leading "# " to change it.
# {CONFIG_ENV} (environment only, not read from .env) or `saber-connector --config PATH`
# names a TOML file with the same keys in lower case.
"""


@dataclass
class InitReport:
    """The files `init` wrote, and whether each replaced an existing file."""

    directory: Path
    written: list[tuple[Path, bool]] = field(default_factory=list)

    def render(self, *, cwd: Path | None = None) -> str:
        here = (cwd or Path.cwd()).resolve()
        notes = {
            DEFAULT_MAPPING: "the mapping: which contacts, what Saber is told, which properties",
            ENV_EXAMPLE: "every setting, with its default",
        }
        lines = []
        for path, replaced in self.written:
            relative = path.relative_to(self.directory).as_posix()
            lines.append(f"{'overwrote' if replaced else 'wrote'} {path}  ({notes.get(relative, '')})")
        lines += ["", "Next steps:"]
        if self.directory.resolve() != here:
            lines.append(f"  cd {self.directory}")
        lines += [
            "  cp .env.example .env               # then set HUBSPOT_ACCESS_TOKEN and SABER_API_KEY in it",
            "  saber-connector mapping explain    # what the mapping does, in plain words",
            "  saber-connector check              # settings, mapping, both APIs, properties, credits",
            "  saber-connector setup              # creates the mapped properties in HubSpot",
            "  saber-connector sync --dry-run     # what would be launched and written",
        ]
        return "\n".join(lines)


def env_example() -> str:
    """Every `Settings` field as its environment name, default and one-line description."""
    blocks = [ENV_HEADER]
    for name, info in Settings.model_fields.items():
        secret = info.annotation is not None and "SecretStr" in str(info.annotation)
        comment = info.description or name.replace("_", " ")
        if secret:
            blocks.append(f"# {comment}\n{name.upper()}=\n")
        else:
            blocks.append(f"# {comment}\n# {name.upper()}={_shown(info.default)}\n")
    return "\n".join(blocks)


def _shown(value: Any) -> str:
    if value is None or isinstance(value, SecretStr):
        return ""
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, Path):
        return value.as_posix()
    return str(value)


def init_project(directory: Path, *, force: bool = False) -> InitReport:
    """Write the starter files into `directory`; refuse (ConfigError) to replace any without `force`."""
    directory = directory.expanduser()
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"init: {directory} is a file, not a directory")
    files = {
        directory / DEFAULT_MAPPING: packaged_mapping().read_text(encoding="utf-8"),
        directory / ENV_EXAMPLE: env_example(),
    }
    present = [path for path in files if path.exists()]
    if present and not force:
        names = ", ".join(str(p) for p in present)
        raise ConfigError(
            f"init: {names} already exist{'s' if len(present) == 1 else ''}; nothing was written "
            "(pass --force to overwrite)"
        )
    report = InitReport(directory=directory)
    for path, text in files.items():
        replaced = path.exists()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"init: cannot write {path} ({exc.strerror or exc})") from None
        report.written.append((path, replaced))
    return report
