"""initial schema: subscriptions, events, deliveries and their attempts, relay cursors, the job queue, nonces

Revision ID: 0001
Revises:
Create Date: 2026-12-01 23:07:11.534731

events (what the relay received) and delivery_attempts (the log a district reads) are append-only: the database
refuses UPDATE, DELETE and TRUNCATE on them. subscriptions (deleted softly) and deliveries change but are never
deleted: the database refuses DELETE and TRUNCATE. procrastinate's schema (shared.queue) runs the deliveries.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import refuse_data_loss
from shared.queue import create_queue_schema, drop_queue_schema

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY = ("events", "delivery_attempts")
_NOT_DELETED = ("subscriptions", "deliveries")


def _refuse(table: str, what: str) -> str:
    return f"""
CREATE FUNCTION {table}_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{table} {what}: % refused', TG_OP;
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "txid", sa.BigInteger(), server_default=sa.text("pg_current_xact_id()::text::bigint"), nullable=False
        ),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        sa.UniqueConstraint("id", name=op.f("uq_events_id")),
    )
    op.create_index("ix_events_district_feed", "events", ["district_code", "txid", "seq"], unique=False)
    op.create_index("ix_events_feed", "events", ["txid", "seq"], unique=False)
    op.create_table(
        "relay_cursors",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("relayed", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_relay_cursors")),
    )
    op.create_table(
        "request_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_request_nonces")),
    )
    op.create_index("ix_request_nonces_expires_at", "request_nonces", ["expires_at"], unique=False)
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("owner_role", sa.String(length=16), nullable=False),
        sa.Column("owner_district", sa.String(length=6), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("measure_ids", postgresql.ARRAY(sa.String(length=32)), nullable=True),
        sa.Column("subject_types", postgresql.ARRAY(sa.String(length=32)), nullable=True),
        sa.Column("district_code", sa.String(length=6), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paused_reason", sa.String(length=16), nullable=True),
        sa.Column("consecutive_dead", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'paused') = (paused_reason IS NOT NULL)", name=op.f("ck_subscriptions_paused_has_reason")
        ),
        sa.CheckConstraint(
            "owner_role <> 'district' OR district_code = owner_district", name=op.f("ck_subscriptions_district_own")
        ),
        sa.CheckConstraint("owner_role IN ('city', 'district', 'auditor')", name=op.f("ck_subscriptions_owner_role")),
        sa.CheckConstraint(
            "paused_reason IS NULL OR paused_reason IN ('manual', 'failing')",
            name=op.f("ck_subscriptions_paused_reason"),
        ),
        sa.CheckConstraint("status IN ('active', 'paused')", name=op.f("ck_subscriptions_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    op.create_index(
        "ix_subscriptions_live", "subscriptions", ["id"], unique=False, postgresql_where="deleted_at IS NULL"
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("subscription_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("chain", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queue_job_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'retrying', 'held', 'succeeded', 'dead', 'cancelled')",
            name=op.f("ck_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_deliveries_event_id_events")),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.id"], name=op.f("fk_deliveries_subscription_id_subscriptions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    op.create_index(
        "ix_deliveries_held", "deliveries", ["subscription_id", "id"], unique=False, postgresql_where="status = 'held'"
    )
    op.create_index("uq_deliveries_subscription_event", "deliveries", ["subscription_id", "event_id"], unique=True)
    op.create_index("ix_deliveries_status", "deliveries", ["status"], unique=False)
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("chain", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("outcome IN ('succeeded', 'failed')", name=op.f("ck_delivery_attempts_outcome")),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"], name=op.f("fk_delivery_attempts_delivery_id_deliveries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    op.create_index("ix_delivery_attempts_delivery", "delivery_attempts", ["delivery_id", "id"], unique=False)
    for table in _APPEND_ONLY:
        op.execute(_refuse(table, "is append-only"))
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_refuse_change()"
        )
    for table in _NOT_DELETED:
        op.execute(_refuse(table, "rows are never deleted"))
        op.execute(
            f"CREATE TRIGGER {table}_not_deleted BEFORE DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_refuse_change()"
        )
    create_queue_schema(op)


def downgrade() -> None:
    refuse_data_loss(
        "drops every subscription (and its secret), every event received, every delivery and its attempts, and the "
        "job queue"
    )
    drop_queue_schema(op)
    for table in (*_APPEND_ONLY, *_NOT_DELETED):
        suffix = "append_only" if table in _APPEND_ONLY else "not_deleted"
        op.execute(f"DROP TRIGGER IF EXISTS {table}_{suffix} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {table}_refuse_change()")
    op.drop_index("ix_delivery_attempts_delivery", table_name="delivery_attempts")
    op.drop_table("delivery_attempts")
    op.drop_index("ix_deliveries_status", table_name="deliveries")
    op.drop_index("uq_deliveries_subscription_event", table_name="deliveries")
    op.drop_index("ix_deliveries_held", table_name="deliveries", postgresql_where="status = 'held'")
    op.drop_table("deliveries")
    op.drop_index("ix_subscriptions_live", table_name="subscriptions", postgresql_where="deleted_at IS NULL")
    op.drop_table("subscriptions")
    op.drop_index("ix_request_nonces_expires_at", table_name="request_nonces")
    op.drop_table("request_nonces")
    op.drop_table("relay_cursors")
    op.drop_index("ix_events_feed", table_name="events")
    op.drop_index("ix_events_district_feed", table_name="events")
    op.drop_table("events")
