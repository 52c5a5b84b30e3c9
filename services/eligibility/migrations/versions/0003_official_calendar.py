"""official calendars: the official schedule of a year (the State Council's notice) as the city recorded it

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:40:00.000000

Append-only on PostgreSQL: recording a year again adds a record (the newest of a year is in force), so an earlier
record stays, with who recorded it and when.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import refuse_data_loss

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY_FUNCTION = """
CREATE FUNCTION official_calendars_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'official_calendars is append-only: % refused', TG_OP;
END;
$$
"""

_JSON = postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    op.create_table(
        "official_calendars",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("notice", sa.String(length=100), nullable=False),
        sa.Column("holidays", _JSON, nullable=False),
        sa.Column("make_up_working_days", _JSON, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_official_calendars")),
    )
    op.create_index(op.f("ix_official_calendars_year"), "official_calendars", ["year"], unique=False)
    op.execute(_APPEND_ONLY_FUNCTION)
    op.execute(
        "CREATE TRIGGER official_calendars_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
        "ON official_calendars FOR EACH STATEMENT EXECUTE FUNCTION official_calendars_refuse_change()"
    )


def downgrade() -> None:
    refuse_data_loss("drops table official_calendars: every official working-day calendar recorded")
    op.execute("DROP TRIGGER IF EXISTS official_calendars_append_only ON official_calendars")
    op.execute("DROP FUNCTION IF EXISTS official_calendars_refuse_change()")
    op.drop_index(op.f("ix_official_calendars_year"), table_name="official_calendars")
    op.drop_table("official_calendars")
