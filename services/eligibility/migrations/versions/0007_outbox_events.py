"""outbox events: domain events written with the change that causes them (issue 17), append-only

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 23:30:00.000000

outbox_events (shared.outbox): one row per domain event of the eligibility service (award.*, parameter.amended,
enterprise.*, policy.expiring), inserted in the transaction of the change; `txid` is the writing transaction's id,
so that the feed (GET /outbox/events, read by the notifications service) can serve events in (txid, seq) order and
never let one appear behind its cursor. The database refuses UPDATE, DELETE and TRUNCATE (as on audit_log). New:
starts empty, nothing to backfill.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import refuse_data_loss
from shared.outbox import append_only_ddl, drop_append_only_ddl

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_events",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "txid", sa.BigInteger(), server_default=sa.text("(pg_current_xact_id()::text::bigint)"), nullable=False
        ),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("id", name=op.f("uq_outbox_events_id")),
    )
    op.create_index("ix_outbox_events_txid_seq", "outbox_events", ["txid", "seq"], unique=False)
    for statement in append_only_ddl("outbox_events"):
        op.execute(statement)


def downgrade() -> None:
    refuse_data_loss("drops table outbox_events: every domain event recorded, delivered or not")
    for statement in drop_append_only_ddl("outbox_events"):
        op.execute(statement)
    op.drop_index("ix_outbox_events_txid_seq", table_name="outbox_events")
    op.drop_table("outbox_events")
