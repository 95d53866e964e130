# saber-connector: one image for the one-shot `sync` (cron/CI) and, later, the long-running service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    CONNECTOR_LOG_FORMAT=json \
    CONNECTOR_STATE_URL=sqlite:////data/connector.db \
    CONNECTOR_MAPPING=/app/mappings/default.yaml

WORKDIR /app
COPY pyproject.toml README.md ./
COPY connector ./connector
COPY mappings ./mappings
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 connector \
    && mkdir -p /data && chown connector /data

USER connector
VOLUME ["/data"]
# Secrets come from the environment only: HUBSPOT_ACCESS_TOKEN, SABER_API_KEY.
ENTRYPOINT ["saber-connector"]
CMD ["sync"]
