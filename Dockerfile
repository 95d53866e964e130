# saber-connector: the long-running service (`run`, the default) and the one-shot commands
# (`docker run --rm IMAGE sync`, `... check`). config/compose.yaml runs it with PostgreSQL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The user first: this layer never changes. A fixed numeric id, so that orchestrators can
# check runAsNonRoot and a volume can be chown'ed to it from outside.
RUN groupadd --system --gid 10001 connector \
    && useradd --system --uid 10001 --gid connector --no-log-init --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin connector \
    && mkdir -p /data \
    && chown 10001:10001 /data

# Dependencies in a layer of their own, rebuilt only when pyproject.toml changes: the
# [project] dependencies are read from it with tomllib (no stub package to build and remove).
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('requirements.txt', 'w').write(chr(10).join(deps) + chr(10))" \
    && pip install --no-cache-dir -r requirements.txt

# Then the code: the package alone, its dependencies already in place.
COPY README.md ./
COPY connector ./connector
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf /src

WORKDIR /app
COPY mappings ./mappings

# Secrets (HUBSPOT_ACCESS_TOKEN, SABER_API_KEY) come from the environment only; every other
# setting is listed, with its default, in config/.env.example.
ENV CONNECTOR_STATE_URL=sqlite:////data/connector.db \
    CONNECTOR_MAPPING=/app/mappings/default.yaml \
    CONNECTOR_LOG_FORMAT=json

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080

# Liveness on /healthz with the image's own python (the slim image has no curl or wget): it
# follows CONNECTOR_HTTP_PORT when that is changed at run time, and ignores any HTTP(S)_PROXY
# given to the container. Exit 0 on a 200, 1 on anything else or no answer in 4 s.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as u; port = os.environ.get('CONNECTOR_HTTP_PORT') or '8080'; r = u.build_opener(u.ProxyHandler({})).open(f'http://127.0.0.1:{port}/healthz', timeout=4); sys.exit(r.status != 200)"]

# Exec form: saber-connector is PID 1 and receives SIGTERM itself (graceful shutdown within
# CONNECTOR_SHUTDOWN_TIMEOUT, 25 s by default; give the container a 30 s stop grace).
ENTRYPOINT ["saber-connector"]
CMD ["run"]
