"""A launch put off to a later run gets a column of its own instead of a `skip_reason` prefix.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Existing rows move in place: `skip_reason = 'deferred: launch cap'` becomes
`deferred = 'launch_cap'` with `skip_reason` cleared, so an upgraded database keeps every
put-off launch for the next run.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PREFIX = "deferred: "


def upgrade() -> None:
    """Add `contacts.deferred` and move the old prefixed reasons into it."""
    op.add_column("contacts", sa.Column("deferred", sa.String(64)))
    op.execute(
        sa.text(
            "UPDATE contacts SET deferred = replace(substr(skip_reason, :start), ' ', '_'),"
            " skip_reason = NULL WHERE skip_reason LIKE :pattern"
        ).bindparams(start=len(PREFIX) + 1, pattern=PREFIX + "%")
    )
    op.create_index("ix_contacts_deferred", "contacts", ["deferred"])


def downgrade() -> None:
    """Fold `deferred` back into the `skip_reason` prefix and drop the column."""
    op.execute(
        sa.text(
            "UPDATE contacts SET skip_reason = :prefix || replace(deferred, '_', ' ')"
            " WHERE deferred IS NOT NULL"
        ).bindparams(prefix=PREFIX)
    )
    op.drop_index("ix_contacts_deferred", table_name="contacts")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("deferred")
