"""LinkedIn prospecting jobs and signal scans (the account-group API).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

`linkedin_jobs` and `linkedin_scans` keep each start from before it is sent (its
Idempotency-Key, `planned`) to its end, so that a crash never starts it twice.
`linkedin_prospects` maps a prospect to its HubSpot contact (`claimed` before a create is
sent), `linkedin_job_prospects` which job imported whom, `linkedin_uploads` each HubSpot
contact's LinkedIn URL sent once (recorded before its upload starts), and `linkedin_results`
a prospect's latest results per scan with the hash last written to HubSpot.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = 128  # an Idempotency-Key


def upgrade() -> None:
    op.create_table(
        "linkedin_jobs",
        sa.Column("key", sa.String(KEY), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("credits", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("audience_id", sa.String(64)),
        sa.Column("job_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("imported_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_linkedin_jobs_kind_name_planned_at", "linkedin_jobs", ["kind", "name", "planned_at"])
    op.create_index("ix_linkedin_jobs_status", "linkedin_jobs", ["status"])
    op.create_table(
        "linkedin_prospects",
        sa.Column("prospect_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(512), nullable=False, server_default=""),
        sa.Column("contact_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_name", sa.Text()),
        sa.Column("last_name", sa.Text()),
        sa.Column("company", sa.Text()),
        sa.Column("job", sa.String(255)),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_linkedin_prospects_key", "linkedin_prospects", ["key"])
    op.create_index("ix_linkedin_prospects_contact_id", "linkedin_prospects", ["contact_id"])
    op.create_index("ix_linkedin_prospects_status", "linkedin_prospects", ["status"])
    op.create_table(
        "linkedin_job_prospects",
        sa.Column("job_key", sa.String(KEY), primary_key=True),
        sa.Column("prospect_id", sa.String(64), primary_key=True),
    )
    op.create_index("ix_linkedin_job_prospects_prospect_id", "linkedin_job_prospects", ["prospect_id"])
    op.create_table(
        "linkedin_uploads",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("contact_id", sa.String(64), nullable=False),
        sa.Column("job_key", sa.String(KEY), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_linkedin_uploads_job_key", "linkedin_uploads", ["job_key"])
    op.create_table(
        "linkedin_scans",
        sa.Column("key", sa.String(KEY), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("specification_id", sa.String(64), nullable=False),
        sa.Column("audience_id", sa.String(64), nullable=False),
        sa.Column("scan_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("collected_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_linkedin_scans_name_planned_at", "linkedin_scans", ["name", "planned_at"])
    op.create_index("ix_linkedin_scans_status", "linkedin_scans", ["status"])
    op.create_table(
        "linkedin_results",
        sa.Column("scan", sa.String(255), primary_key=True),
        sa.Column("prospect_id", sa.String(64), primary_key=True),
        sa.Column("contact_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("values_json", sa.Text(), nullable=False),
        sa.Column("values_hash", sa.String(128)),
        sa.Column("written_hash", sa.String(128)),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_linkedin_results_contact_id", "linkedin_results", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_linkedin_results_contact_id", table_name="linkedin_results")
    op.drop_table("linkedin_results")
    op.drop_index("ix_linkedin_scans_status", table_name="linkedin_scans")
    op.drop_index("ix_linkedin_scans_name_planned_at", table_name="linkedin_scans")
    op.drop_table("linkedin_scans")
    op.drop_index("ix_linkedin_uploads_job_key", table_name="linkedin_uploads")
    op.drop_table("linkedin_uploads")
    op.drop_index("ix_linkedin_job_prospects_prospect_id", table_name="linkedin_job_prospects")
    op.drop_table("linkedin_job_prospects")
    op.drop_index("ix_linkedin_prospects_status", table_name="linkedin_prospects")
    op.drop_index("ix_linkedin_prospects_contact_id", table_name="linkedin_prospects")
    op.drop_index("ix_linkedin_prospects_key", table_name="linkedin_prospects")
    op.drop_table("linkedin_prospects")
    op.drop_index("ix_linkedin_jobs_status", table_name="linkedin_jobs")
    op.drop_index("ix_linkedin_jobs_kind_name_planned_at", table_name="linkedin_jobs")
    op.drop_table("linkedin_jobs")
