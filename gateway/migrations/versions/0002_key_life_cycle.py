"""Key life cycle: expiry, last use, and the key_events audit table

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 17:55:00

On PostgreSQL a trigger keeps key_events append-only: UPDATE, DELETE and TRUNCATE are refused. Keys made before
this revision get an `issued` event (and a `revoked` one if they were revoked) dated when that happened, so every
key has its issuance on record; the operator of those is not known and is recorded as such.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.migrations import refuse_data_loss

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENTS_APPEND_ONLY = """
CREATE FUNCTION key_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'key_events is append-only: % refused', TG_OP;
END;
$$
"""

_UNKNOWN_OPERATOR = "unknown (issued before key_events)"


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_keys", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "key_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=24), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("operator", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("related_key_id", sa.String(length=24), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("event IN ('issued', 'rotated', 'revoked')", name=op.f("ck_key_events_event")),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.key_id"], name=op.f("fk_key_events_key_id_api_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_events")),
    )
    op.create_index(op.f("ix_key_events_key_id"), "key_events", ["key_id"], unique=False)
    op.execute(
        sa.text(
            "INSERT INTO key_events (key_id, event, operator, at) "
            "SELECT key_id, 'issued', :operator, created_at FROM api_keys ORDER BY id"
        ).bindparams(operator=_UNKNOWN_OPERATOR)
    )
    op.execute(
        sa.text(
            "INSERT INTO key_events (key_id, event, operator, at) "
            "SELECT key_id, 'revoked', :operator, revoked_at FROM api_keys WHERE revoked_at IS NOT NULL ORDER BY id"
        ).bindparams(operator=_UNKNOWN_OPERATOR)
    )
    op.execute(_EVENTS_APPEND_ONLY)
    op.execute(
        "CREATE TRIGGER key_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
        "ON key_events FOR EACH STATEMENT EXECUTE FUNCTION key_events_refuse_change()"
    )


def downgrade() -> None:
    refuse_data_loss(
        "drops table key_events (every record of who issued, rotated and revoked which key, and when) and the "
        "api_keys columns expires_at and last_used_at (a key with an expiry still ahead, e.g. one in its rotation "
        "grace period, is then valid until revoked)"
    )
    # A key that has expired stays refused: revision 0001 knows only revocation.
    op.execute(
        "UPDATE api_keys SET revoked_at = expires_at WHERE revoked_at IS NULL AND expires_at IS NOT NULL "
        "AND expires_at <= now()"
    )
    op.execute("DROP TRIGGER IF EXISTS key_events_append_only ON key_events")
    op.execute("DROP FUNCTION IF EXISTS key_events_refuse_change()")
    op.drop_index(op.f("ix_key_events_key_id"), table_name="key_events")
    op.drop_table("key_events")
    op.drop_column("api_keys", "last_used_at")
    op.drop_column("api_keys", "expires_at")
