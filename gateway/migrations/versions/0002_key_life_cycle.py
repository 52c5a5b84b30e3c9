"""Key life cycle: expiry, last use, and the key_events audit table

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 17:55:00

On PostgreSQL, triggers bind every role, the owner's too (short of disabling them, which only the owner may):
- key_events is append-only (UPDATE, DELETE and TRUNCATE refused), and each new event is stamped by the server:
  `at` is the transaction's time and `db_role` the role that connected (`session_user`), whatever the writer sent;
- a key's identity (key_id, key_hash, role, district_code, label, created_at) never changes, a revocation is final,
  and an expiry can be brought forward but never extended or cleared: the gateway's runtime role may set
  `last_used_at` and nothing else, and even the owner cannot re-key, widen or revive a key;
- a key exists only with its `issued` event, written in the same transaction (a deferred constraint trigger).
Keys made before this revision get an `issued` event (and a `revoked` one if they were revoked) dated when that
happened, so every key has its issuance on record; the operator of those is not known and is recorded as such.
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

# Tables named with their schema: a temporary table of the same name must not stand in for the real one.
_KEYS_GUARD = """
CREATE FUNCTION api_keys_guard_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.id, NEW.key_id, NEW.key_hash, NEW.role, NEW.district_code, NEW.label, NEW.created_at)
        IS DISTINCT FROM (OLD.id, OLD.key_id, OLD.key_hash, OLD.role, OLD.district_code, OLD.label, OLD.created_at)
    THEN
        RAISE EXCEPTION 'api_keys: key % refused: a key''s id, hash, role, district, label and creation never change',
            OLD.key_id;
    END IF;
    IF OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
        RAISE EXCEPTION 'api_keys: key % refused: it was revoked, and a revocation is final', OLD.key_id;
    END IF;
    IF OLD.expires_at IS NOT NULL AND (NEW.expires_at IS NULL OR NEW.expires_at > OLD.expires_at) THEN
        RAISE EXCEPTION 'api_keys: key % refused: an expiry can be brought forward, never extended or cleared',
            OLD.key_id;
    END IF;
    RETURN NEW;
END;
$$
"""
_KEYS_NEED_ISSUANCE = """
CREATE FUNCTION api_keys_require_issuance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM public.key_events WHERE key_id = NEW.key_id AND event = 'issued') THEN
        RAISE EXCEPTION 'api_keys: key % refused: a key is issued with its issued event in key_events', NEW.key_id;
    END IF;
    RETURN NULL;
END;
$$
"""
_EVENTS_STAMP = """
CREATE FUNCTION key_events_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.at := now();
    NEW.db_role := session_user;
    RETURN NEW;
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
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("related_key_id", sa.String(length=24), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("db_role", sa.String(length=63), server_default=sa.text("session_user"), nullable=False),
        sa.Column("os_user", sa.String(length=200), nullable=True),
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
    # After the backfill, which keeps the times and the migrating role of what happened before.
    op.execute(_EVENTS_STAMP)
    op.execute(
        "CREATE TRIGGER key_events_stamped BEFORE INSERT ON key_events FOR EACH ROW EXECUTE FUNCTION key_events_stamp()"
    )
    op.execute(_KEYS_GUARD)
    op.execute(
        "CREATE TRIGGER api_keys_guard BEFORE UPDATE ON api_keys FOR EACH ROW EXECUTE FUNCTION api_keys_guard_change()"
    )
    op.execute(_KEYS_NEED_ISSUANCE)
    op.execute(
        "CREATE CONSTRAINT TRIGGER api_keys_issued_on_record AFTER INSERT ON api_keys DEFERRABLE INITIALLY DEFERRED "
        "FOR EACH ROW EXECUTE FUNCTION api_keys_require_issuance()"
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
    for trigger, table, function in (
        ("api_keys_issued_on_record", "api_keys", "api_keys_require_issuance"),
        ("api_keys_guard", "api_keys", "api_keys_guard_change"),
        ("key_events_stamped", "key_events", "key_events_stamp"),
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.execute("DROP TRIGGER IF EXISTS key_events_append_only ON key_events")
    op.execute("DROP FUNCTION IF EXISTS key_events_refuse_change()")
    op.drop_index(op.f("ix_key_events_key_id"), table_name="key_events")
    op.drop_table("key_events")
    op.drop_column("api_keys", "last_used_at")
    op.drop_column("api_keys", "expires_at")
