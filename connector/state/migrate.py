"""The state schema brought to the connector's version when the store opens (alembic, to head).

An up-to-date database is only read. Replicas starting together on PostgreSQL take an
advisory lock: one migrates, the others wait and then find it done. A database at a
revision this version does not know (a newer connector's) is refused, not downgraded.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from connector.errors import ConfigError
from connector.logs import get_logger
from connector.state.database import Database
from connector.state.db import ENV_NAME, mask_url
from connector.state.locks import lock_key

log = get_logger("state")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def migrate(db: Database) -> bool:
    """Upgrade to head; True when something ran, False for an up-to-date database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    script = ScriptDirectory.from_config(cfg)
    heads = set(script.get_heads())
    with db.read() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current == heads:
        return False
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = sorted(current - known)
    if unknown:
        raise ConfigError(
            f"{ENV_NAME}: state database {mask_url(db.url)} is at schema revision"
            f" {', '.join(unknown)}, which this version of the connector does not know (a newer one?)"
        )
    with db.write() as conn:
        if not db.sqlite:
            # Replicas starting together: one migrates, the others wait here, then find it done.
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(f"{schema}:migrate")})
            if set(MigrationContext.configure(conn).get_current_heads()) == heads:
                return False
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    log.info(
        "state schema upgraded",
        database=mask_url(db.url),
        from_revision=",".join(sorted(current)) or None,
        to_revision=",".join(sorted(heads)),
    )
    return True
