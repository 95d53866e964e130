"""Signal asks in flight, the contacts waiting on them, and how long Saber takes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

A signal is asked asynchronously: Saber answers `processing` with the signal's id, and the
answer is collected later by id, like research. `signal_asks` keeps one row per question
and target from the moment before it is paid (`asking`) until its answer is kept: a crash
or a lost answer leaves a row that is looked for, free, before anything is paid again.
`signal_waits` says which contacts' results wait on which ask. `timings` keeps how long
recent research and signals took here, so the first look-up comes when they are usually done.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signal_asks",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer_type", sa.String(64), nullable=False),
        sa.Column("template_id", sa.String(255)),
        sa.Column("verification_mode", sa.String(16)),
        sa.Column("signal_id", sa.String(255)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True)),
        sa.Column("check_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error_code", sa.String(255)),
        sa.Column("error", sa.Text()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_signal_asks_status_next_check", "signal_asks", ["status", "next_check_at"])
    op.create_table(
        "signal_waits",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("contact_id", sa.String(64), primary_key=True),
    )
    op.create_index("ix_signal_waits_contact_id", "signal_waits", ["contact_id"])
    op.create_table(
        "timings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_timings_kind_id", "timings", ["kind", "id"])


def downgrade() -> None:
    op.drop_index("ix_timings_kind_id", table_name="timings")
    op.drop_table("timings")
    op.drop_index("ix_signal_waits_contact_id", table_name="signal_waits")
    op.drop_table("signal_waits")
    op.drop_index("ix_signal_asks_status_next_check", table_name="signal_asks")
    op.drop_table("signal_asks")
