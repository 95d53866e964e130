"""Initial state schema: contacts, cursors, runs, errors.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str, nullable: bool = True, empty_object: bool = False) -> sa.Column:
    default = sa.text("'{}'") if empty_object else None
    return sa.Column(name, sa.JSON(none_as_null=True), nullable=nullable, server_default=default)


def upgrade() -> None:
    """Create the four tables and their indexes (portable: SQLite and PostgreSQL)."""
    op.create_table(
        "contacts",
        sa.Column("contact_id", sa.String(64), primary_key=True),
        sa.Column("external_id", sa.String(255)),
        sa.Column("fingerprint", sa.String(128)),
        sa.Column("research_id", sa.String(255)),
        sa.Column("research_status", sa.String(16), nullable=False, server_default="none"),
        sa.Column("research_error_code", sa.String(255)),
        sa.Column("research_error", sa.Text()),
        _ts("launched_at"),
        _ts("completed_at"),
        _ts("checked_at"),
        _ts("next_check_at"),
        sa.Column("check_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failure_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("skip_reason", sa.Text()),
        sa.Column("last_error", sa.Text()),
        _json("written", nullable=False, empty_object=True),
        _ts("written_at"),
        _ts("updated_at", nullable=False),
        _json("result"),
        _json("signals", nullable=False, empty_object=True),
    )
    op.create_index("ix_contacts_status_next_check", "contacts", ["research_status", "next_check_at"])

    op.create_table(
        "cursors",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        _ts("updated_at", nullable=False),
    )

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _ts("started_at", nullable=False),
        _ts("finished_at"),
        sa.Column("outcome", sa.String(16), nullable=False, server_default="running"),
        _json("counts"),
        sa.Column("error", sa.Text()),
    )

    op.create_table(
        "errors",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="SET NULL")),
        sa.Column("contact_id", sa.String(64)),
        sa.Column("property", sa.String(255)),
        sa.Column("code", sa.String(255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        _ts("at", nullable=False),
    )
    op.create_index("ix_errors_code", "errors", ["code"])
    op.create_index("ix_errors_at", "errors", ["at"])
    op.create_index("ix_errors_run_id", "errors", ["run_id"])


def downgrade() -> None:
    """Drop everything the upgrade created."""
    op.drop_table("errors")
    op.drop_table("runs")
    op.drop_table("cursors")
    op.drop_index("ix_contacts_status_next_check", table_name="contacts")
    op.drop_table("contacts")
