"""Prospecting: the target accounts searched and the people claimed and created at them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

`prospect_accounts` keeps when each target company was searched, whether the run finished it
(one that `max_new_per_run` cut short is finished first next time) or why it was skipped.
`prospect_candidates` keeps each person from the moment before their create is sent
(`claimed`) until HubSpot's id is known (`created`): a claim left by a crash or a lost answer
is looked for in HubSpot before anything is sent again, so no person is created twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "prospect_accounts",
        sa.Column("company_id", sa.String(64), primary_key=True),
        sa.Column("searched_at", sa.DateTime(timezone=True)),
        sa.Column("finished", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("skip_reason", sa.String(64)),
        sa.Column("detail", sa.Text()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "prospect_candidates",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("company_id", sa.String(64), nullable=False),
        sa.Column("sales_navigator_url", sa.Text()),
        sa.Column("first_name", sa.Text()),
        sa.Column("last_name", sa.Text()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("contact_id", sa.String(64)),
        sa.Column("search", sa.Text()),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_prospect_candidates_status", "prospect_candidates", ["status"])
    op.create_index("ix_prospect_candidates_company_id", "prospect_candidates", ["company_id"])
    op.create_index("ix_prospect_candidates_contact_id", "prospect_candidates", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_prospect_candidates_contact_id", table_name="prospect_candidates")
    op.drop_index("ix_prospect_candidates_company_id", table_name="prospect_candidates")
    op.drop_index("ix_prospect_candidates_status", table_name="prospect_candidates")
    op.drop_table("prospect_candidates")
    op.drop_table("prospect_accounts")
