"""A contact HubSpot merged into another keeps a link to it: `contacts.merged_into`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

The surviving contact adopts the merged one's research (same inputs: not paid again); the
old row stays for the record, pointing at the survivor, and is no longer polled or refreshed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("merged_into", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("merged_into")
