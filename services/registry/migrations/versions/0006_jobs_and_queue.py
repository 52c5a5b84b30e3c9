"""jobs (long work as resources, issue 17) and the job queue's schema (procrastinate)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:40:00.000000

jobs (shared.jobs): one row per piece of long work submitted as a job (the bulk import of enterprises), with its
input (the request's body, bounded), its status and progress, its result or its problems. Rows change (status,
progress) as the worker runs the job. New: starts empty, nothing to backfill.

procrastinate's tables, types and functions (shared.queue.create_queue_schema): the queue the registry's worker
(`python -m services.registry.worker`) takes its tasks from.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import refuse_data_loss
from shared.queue import create_queue_schema, drop_queue_schema

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress_done", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("progress_total", sa.BigInteger(), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("result_file", sa.LargeBinary(), nullable=True),
        sa.Column("result_media_type", sa.String(length=255), nullable=True),
        sa.Column("result_filename", sa.String(length=255), nullable=True),
        sa.Column(
            "errors", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column("requester_role", sa.String(length=16), nullable=False),
        sa.Column("requester_district", sa.String(length=6), nullable=True),
        sa.Column("input", sa.LargeBinary(), nullable=True),
        sa.Column("input_media_type", sa.String(length=255), nullable=True),
        sa.Column(
            "parameters", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("queue_job_id", sa.BigInteger(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')", name=op.f("ck_jobs_status")
        ),
        sa.CheckConstraint("input IS NULL OR octet_length(input) <= 268435456", name=op.f("ck_jobs_input_bounded")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_requester_district_created_at", "jobs", ["requester_district", "created_at"], unique=False)
    create_queue_schema(op)


def downgrade() -> None:
    refuse_data_loss("drops table jobs and the job queue: every job, its input and its result, queued or done")
    drop_queue_schema(op)
    op.drop_index("ix_jobs_requester_district_created_at", table_name="jobs")
    op.drop_table("jobs")
