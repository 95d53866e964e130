"""Company records: the `companies` table and each contact's matched company; an index on fingerprints.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Company-scope answers land on the HubSpot company a contact is matched to. The table keeps
per company its domain and hashes of what the connector last wrote there (so a person's
edit survives and an unchanged company is not rewritten), and what still waits to land.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "companies",
        sa.Column("company_id", sa.String(64), primary_key=True),
        sa.Column("domain", sa.String(253)),
        sa.Column("written", sa.JSON(none_as_null=True), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("written_at", sa.DateTime(timezone=True)),
        sa.Column("write_pending", sa.String(64)),
        sa.Column("last_error", sa.Text()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_companies_domain", "companies", ["domain"])
    op.add_column("contacts", sa.Column("company_id", sa.String(64)))
    op.add_column("contacts", sa.Column("company_unmatched", sa.Text()))
    op.add_column("contacts", sa.Column("company_pending", sa.String(64)))
    # A new contact is checked for a twin (the same inputs already researched) before it is paid.
    op.create_index("ix_contacts_fingerprint", "contacts", ["fingerprint"])


def downgrade() -> None:
    op.drop_index("ix_contacts_fingerprint", table_name="contacts")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("company_pending")
        batch.drop_column("company_unmatched")
        batch.drop_column("company_id")
    op.drop_index("ix_companies_domain", table_name="companies")
    op.drop_table("companies")
