"""parameter amendments: dated parameter values recorded through the API, append-only on PostgreSQL

Revision ID: 0001
Revises:
Create Date: 2026-11-22 03:12:45.737333
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import refuse_data_loss

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY_FUNCTION = """
CREATE FUNCTION parameter_amendments_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'parameter_amendments is append-only: % refused', TG_OP;
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "parameter_amendments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parameter_amendments")),
        sa.UniqueConstraint("name", "effective_from", name="uq_parameter_amendments_name_effective_from"),
    )
    op.create_index(op.f("ix_parameter_amendments_name"), "parameter_amendments", ["name"], unique=False)
    op.execute(_APPEND_ONLY_FUNCTION)
    op.execute(
        "CREATE TRIGGER parameter_amendments_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
        "ON parameter_amendments FOR EACH STATEMENT EXECUTE FUNCTION parameter_amendments_refuse_change()"
    )


def downgrade() -> None:
    refuse_data_loss("drops table parameter_amendments: every dated parameter value recorded through the API")
    op.execute("DROP TRIGGER IF EXISTS parameter_amendments_append_only ON parameter_amendments")
    op.execute("DROP FUNCTION IF EXISTS parameter_amendments_refuse_change()")
    op.drop_index(op.f("ix_parameter_amendments_name"), table_name="parameter_amendments")
    op.drop_table("parameter_amendments")
