"""A result that has not landed in HubSpot yet is pending work: `contacts.write_pending`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

NULL: nothing waits to be written. Otherwise why it waits: `unwritten` (recorded, not
yet sent) or the code of the write failure. Existing rows start with NULL: what an older
version left unwritten is found by the cursor or a `--full` run, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("write_pending", sa.String(255)))
    op.create_index("ix_contacts_write_pending", "contacts", ["write_pending"])


def downgrade() -> None:
    op.drop_index("ix_contacts_write_pending", table_name="contacts")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("write_pending")
