"""jobs, screening snapshots, policy expiry notices, and the job queue (issue 17)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:45:00.000000

jobs (shared.jobs): long work submitted with `Prefer: respond-async` (a screening, an awards export), its status,
progress and result. Rows are updated as the job runs.

screening_snapshots, screening_snapshot_entries: the nightly screening of each year in force, per measure and
subject the amount the rules gave (services.eligibility.screenings.snapshots); compared with the previous snapshot
of the year to record enterprise.newly_eligible / enterprise.no_longer_eligible. Never updated; all but the newest
snapshots of a year are deleted by the worker (the entries go with their snapshot: ON DELETE CASCADE).

policy_expiry_notices: the policy.expiring event recorded for a policy, once per policy; append-only (a refusing
trigger, as on outbox_events).

procrastinate's schema (shared.queue.create_queue_schema): the queue the worker runs jobs from.

All new and empty: nothing to backfill. The first snapshot of each year is a baseline (no events).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import refuse_data_loss
from shared.outbox import append_only_ddl, drop_append_only_ddl
from shared.queue import create_queue_schema, drop_queue_schema

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JOB_STATUSES = "'queued', 'running', 'succeeded', 'failed', 'cancelled'"
_MAX_INPUT_BYTES = 256 * 1024 * 1024


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
        sa.CheckConstraint(f"status IN ({_JOB_STATUSES})", name=op.f("ck_jobs_status")),
        sa.CheckConstraint(
            f"input IS NULL OR octet_length(input) <= {_MAX_INPUT_BYTES}", name=op.f("ck_jobs_input_bounded")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_requester_district_created_at", "jobs", ["requester_district", "created_at"], unique=False)
    op.create_table(
        "screening_snapshots",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("eligible_count", sa.Integer(), nullable=False),
        sa.Column("amount_yuan", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("baseline", sa.Boolean(), nullable=False),
        sa.Column("events_recorded", sa.Integer(), nullable=False),
        sa.CheckConstraint("eligible_count >= 0", name=op.f("ck_screening_snapshots_eligible_count_not_negative")),
        sa.CheckConstraint("events_recorded >= 0", name=op.f("ck_screening_snapshots_events_recorded_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_snapshots")),
    )
    op.create_index("ix_screening_snapshots_year_id", "screening_snapshots", ["year", "id"], unique=False)
    op.create_table(
        "screening_snapshot_entries",
        sa.Column("snapshot_id", sa.BigInteger(), nullable=False),
        sa.Column("measure_id", sa.String(length=8), nullable=False),
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("subject_name", sa.String(length=200), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("recipient_kind", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("enterprise_uscc", sa.String(length=18), nullable=True),
        sa.Column("amount_yuan", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.CheckConstraint("amount_yuan > 0", name=op.f("ck_screening_snapshot_entries_amount_positive")),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["screening_snapshots.id"],
            name=op.f("fk_screening_snapshot_entries_snapshot_id_screening_snapshots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "snapshot_id", "measure_id", "subject_type", "subject_id", name=op.f("pk_screening_snapshot_entries")
        ),
    )
    op.create_table(
        "policy_expiry_notices",
        sa.Column("policy_id", sa.BigInteger(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_policy_expiry_notices_policy_id_policies")
        ),
        sa.PrimaryKeyConstraint("policy_id", name=op.f("pk_policy_expiry_notices")),
    )
    for statement in append_only_ddl("policy_expiry_notices"):
        op.execute(statement)
    create_queue_schema(op)


def downgrade() -> None:
    refuse_data_loss(
        "drops tables jobs, screening_snapshots, screening_snapshot_entries and policy_expiry_notices and the job "
        "queue: every job and its result, the stored screenings, which policies were reminded of"
    )
    drop_queue_schema(op)
    for statement in drop_append_only_ddl("policy_expiry_notices"):
        op.execute(statement)
    op.drop_table("policy_expiry_notices")
    op.drop_table("screening_snapshot_entries")
    op.drop_index("ix_screening_snapshots_year_id", table_name="screening_snapshots")
    op.drop_table("screening_snapshots")
    op.drop_index("ix_jobs_requester_district_created_at", table_name="jobs")
    op.drop_table("jobs")
