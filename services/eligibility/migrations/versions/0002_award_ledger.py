"""award ledger: awards with one standing award per stacking key (就高不重复), and their append-only history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:55:06.169598

On PostgreSQL, triggers keep the money trail: award_events refuses UPDATE, DELETE and TRUNCATE; awards refuses
DELETE and TRUNCATE, any change to what was granted (subject, measure, policy, amounts, calculation, author), and
any change to the state of a closed award (rejected, withdrawn, superseded; a superseded one only learns once
which award superseded it), and a status change of a paid one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import refuse_data_loss

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENTS_APPEND_ONLY = """
CREATE FUNCTION award_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'award_events is append-only: % refused', TG_OP;
END;
$$
"""

_AWARDS_NOT_DELETED = """
CREATE FUNCTION awards_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'awards are never deleted: % refused', TG_OP;
END;
$$
"""

_AWARDS_NOT_REWRITTEN = """
CREATE FUNCTION awards_refuse_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.policy, NEW.measure_id, NEW.subject_type, NEW.subject_id, NEW.year, NEW.stacking_key,
        NEW.district_code, NEW.amount_yuan, NEW.payable_yuan, NEW.tops_up_award_id, NEW.created_at, NEW.created_by)
       IS DISTINCT FROM
       (OLD.policy, OLD.measure_id, OLD.subject_type, OLD.subject_id, OLD.year, OLD.stacking_key,
        OLD.district_code, OLD.amount_yuan, OLD.payable_yuan, OLD.tops_up_award_id, OLD.created_at, OLD.created_by)
       OR NEW.calculation::text IS DISTINCT FROM OLD.calculation::text THEN
        RAISE EXCEPTION 'award %: what was granted is never rewritten', OLD.id;
    END IF;
    IF OLD.status IN ('rejected', 'withdrawn', 'superseded')
       AND (NEW.status, NEW.is_standing, NEW.publicised_on, NEW.notice_ends_on, NEW.paid_on)
           IS DISTINCT FROM (OLD.status, OLD.is_standing, OLD.publicised_on, OLD.notice_ends_on, OLD.paid_on) THEN
        RAISE EXCEPTION 'award % is closed (%): it does not change', OLD.id, OLD.status;
    END IF;
    IF OLD.status = 'paid' AND NEW.status <> 'paid' THEN
        RAISE EXCEPTION 'award % is paid: its status does not change', OLD.id;
    END IF;
    IF OLD.superseded_by_id IS NOT NULL AND NEW.superseded_by_id IS DISTINCT FROM OLD.superseded_by_id THEN
        RAISE EXCEPTION 'award %: superseded_by_id is set once', OLD.id;
    END IF;
    RETURN NEW;
END;
$$
"""

_MONEY = sa.Numeric(precision=18, scale=2)
_ID = sa.BigInteger()


def upgrade() -> None:
    op.create_table(
        "awards",
        sa.Column("id", _ID, nullable=False),
        sa.Column("policy", sa.String(length=100), nullable=False),
        sa.Column("measure_id", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("subject_name", sa.String(length=200), nullable=True),
        sa.Column("recipient", sa.String(length=32), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("stacking_key", sa.String(length=96), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("amount_yuan", _MONEY, nullable=False),
        sa.Column("payable_yuan", _MONEY, nullable=False),
        sa.Column("tops_up_award_id", _ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("is_standing", sa.Boolean(), nullable=False),
        sa.Column("superseded_by_id", _ID, nullable=True),
        sa.Column("publicised_on", sa.Date(), nullable=True),
        sa.Column("notice_ends_on", sa.Date(), nullable=True),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("calculation", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "NOT is_standing OR status IN ('proposed', 'approved', 'publicised', 'paid')",
            name=op.f("ck_awards_standing_status"),
        ),
        sa.CheckConstraint(
            "status IN ('proposed', 'approved', 'publicised', 'paid', 'rejected', 'withdrawn', 'superseded')",
            name=op.f("ck_awards_status_known"),
        ),
        sa.CheckConstraint(
            "subject_type IN ('project', 'cluster', 'building', 'enterprise', 'district')",
            name=op.f("ck_awards_subject_type_known"),
        ),
        sa.CheckConstraint("amount_yuan > 0", name=op.f("ck_awards_amount_positive")),
        sa.CheckConstraint(
            "payable_yuan > 0 AND payable_yuan <= amount_yuan", name=op.f("ck_awards_payable_within_amount")
        ),
        sa.ForeignKeyConstraint(["superseded_by_id"], ["awards.id"], name=op.f("fk_awards_superseded_by_id_awards")),
        sa.ForeignKeyConstraint(["tops_up_award_id"], ["awards.id"], name=op.f("fk_awards_tops_up_award_id_awards")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_awards")),
    )
    op.create_index("ix_awards_district_code_id", "awards", ["district_code", "id"], unique=False)
    op.create_index(op.f("ix_awards_measure_id"), "awards", ["measure_id"], unique=False)
    op.create_index(op.f("ix_awards_stacking_key"), "awards", ["stacking_key"], unique=False)
    op.create_index(op.f("ix_awards_status"), "awards", ["status"], unique=False)
    # 就高不重复, held by the database: one standing award per stacking key.
    op.create_index(
        "uq_awards_standing_stacking_key",
        "awards",
        ["stacking_key"],
        unique=True,
        postgresql_where=sa.text("is_standing"),
    )
    op.create_table(
        "award_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("award_id", _ID, nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("actor_district", sa.String(length=6), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["award_id"], ["awards.id"], name=op.f("fk_award_events_award_id_awards")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_award_events")),
    )
    op.create_index(op.f("ix_award_events_award_id"), "award_events", ["award_id"], unique=False)
    op.execute(_EVENTS_APPEND_ONLY)
    op.execute(
        "CREATE TRIGGER award_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
        "ON award_events FOR EACH STATEMENT EXECUTE FUNCTION award_events_refuse_change()"
    )
    op.execute(_AWARDS_NOT_DELETED)
    op.execute(
        "CREATE TRIGGER awards_not_deleted BEFORE DELETE OR TRUNCATE "
        "ON awards FOR EACH STATEMENT EXECUTE FUNCTION awards_refuse_delete()"
    )
    op.execute(_AWARDS_NOT_REWRITTEN)
    op.execute(
        "CREATE TRIGGER awards_not_rewritten BEFORE UPDATE "
        "ON awards FOR EACH ROW EXECUTE FUNCTION awards_refuse_rewrite()"
    )


def downgrade() -> None:
    refuse_data_loss("drops tables awards and award_events: the award ledger and its whole history (the money trail)")
    op.execute("DROP TRIGGER IF EXISTS awards_not_rewritten ON awards")
    op.execute("DROP FUNCTION IF EXISTS awards_refuse_rewrite()")
    op.execute("DROP TRIGGER IF EXISTS awards_not_deleted ON awards")
    op.execute("DROP FUNCTION IF EXISTS awards_refuse_delete()")
    op.execute("DROP TRIGGER IF EXISTS award_events_append_only ON award_events")
    op.execute("DROP FUNCTION IF EXISTS award_events_refuse_change()")
    op.drop_index(op.f("ix_award_events_award_id"), table_name="award_events")
    op.drop_table("award_events")
    op.drop_index(
        "uq_awards_standing_stacking_key",
        table_name="awards",
        postgresql_where=sa.text("is_standing"),
    )
    op.drop_index(op.f("ix_awards_status"), table_name="awards")
    op.drop_index(op.f("ix_awards_stacking_key"), table_name="awards")
    op.drop_index(op.f("ix_awards_measure_id"), table_name="awards")
    op.drop_index("ix_awards_district_code_id", table_name="awards")
    op.drop_table("awards")
