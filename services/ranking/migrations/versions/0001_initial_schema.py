"""initial schema: methodologies (default 2024.1 seeded, immutable on PostgreSQL) and runs

Revision ID: 0001
Revises:
Create Date: 2026-11-22 03:45:09.163692
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import refuse_data_loss

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


DEFAULT_DESCRIPTION = (
    "The default methodology of 第（六）条 (see services/ranking/METHODOLOGY.md): new above-size count 30%, net "
    "increase 30%, comparable revenue growth 40%; min-max normalisation; a district with fewer than 5 comparable "
    "enterprises has its growth capped at the median growth of the districts that have at least 5; no "
    "winsorisation; equal scores (6 places) are settled by revenue growth, then net increase, then new count, then "
    "district code ascending."
)

# Only `is_default` of a methodology may change: a version once written is what runs cite.
_IMMUTABLE_FUNCTION = """
CREATE FUNCTION methodologies_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (to_jsonb(NEW) - 'is_default') IS DISTINCT FROM (to_jsonb(OLD) - 'is_default') THEN
        RAISE EXCEPTION 'methodology % is immutable', OLD.version;
    END IF;
    RETURN NEW;
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "methodologies",
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("weight_new_count", sa.Numeric(precision=7, scale=6), nullable=False),
        sa.Column("weight_net_increase", sa.Numeric(precision=7, scale=6), nullable=False),
        sa.Column("weight_revenue_growth", sa.Numeric(precision=7, scale=6), nullable=False),
        sa.Column("normalisation", sa.String(length=16), nullable=False),
        sa.Column("growth_basis", sa.String(length=16), nullable=False),
        sa.Column("min_base", sa.Integer(), nullable=False),
        sa.Column("winsorise", sa.Numeric(precision=7, scale=6), nullable=True),
        sa.Column("tie_break", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.CheckConstraint("growth_basis IN ('comparable')", name=op.f("ck_methodologies_growth_basis")),
        sa.CheckConstraint(
            "normalisation IN ('min_max', 'z_score', 'rank')", name=op.f("ck_methodologies_normalisation")
        ),
        sa.CheckConstraint("min_base >= 0", name=op.f("ck_methodologies_min_base")),
        sa.CheckConstraint(
            "ABS(weight_new_count + weight_net_increase + weight_revenue_growth - 1) < 0.0000005",
            name=op.f("ck_methodologies_weights_sum"),
        ),
        sa.CheckConstraint(
            "weight_new_count >= 0 AND weight_net_increase >= 0 AND weight_revenue_growth >= 0",
            name=op.f("ck_methodologies_weights_positive"),
        ),
        sa.CheckConstraint(
            "winsorise IS NULL OR (winsorise > 0 AND winsorise < 0.25)", name=op.f("ck_methodologies_winsorise")
        ),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_methodologies")),
    )
    op.create_index(
        "uq_methodologies_default",
        "methodologies",
        ["is_default"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("methodology_version", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("input_hash", sa.String(length=64), nullable=False),
        sa.Column("code_version", sa.String(length=32), nullable=False),
        sa.Column("quality_passed", sa.Boolean(), nullable=False),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_by", sa.String(length=32), nullable=True),
        sa.Column("publish_reason", sa.Text(), nullable=True),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("supersedes_run_id", sa.Integer(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_by_run_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('draft', 'published', 'superseded')", name=op.f("ck_runs_status")),
        sa.ForeignKeyConstraint(
            ["methodology_version"], ["methodologies.version"], name=op.f("fk_runs_methodology_version_methodologies")
        ),
        sa.ForeignKeyConstraint(["superseded_by_run_id"], ["runs.id"], name=op.f("fk_runs_superseded_by_run_id_runs")),
        sa.ForeignKeyConstraint(["supersedes_run_id"], ["runs.id"], name=op.f("fk_runs_supersedes_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index(op.f("ix_runs_input_hash"), "runs", ["input_hash"], unique=False)
    op.create_index(op.f("ix_runs_methodology_version"), "runs", ["methodology_version"], unique=False)
    op.create_index("ix_runs_year_status", "runs", ["year", "status"], unique=False)
    op.create_index(
        "uq_runs_published_year",
        "runs",
        ["year"],
        unique=True,
        postgresql_where=sa.text("status = 'published'"),
    )
    methodologies = sa.table(
        "methodologies",
        sa.column("version", sa.String),
        sa.column("weight_new_count", sa.Numeric(7, 6)),
        sa.column("weight_net_increase", sa.Numeric(7, 6)),
        sa.column("weight_revenue_growth", sa.Numeric(7, 6)),
        sa.column("normalisation", sa.String),
        sa.column("growth_basis", sa.String),
        sa.column("min_base", sa.Integer),
        sa.column("winsorise", sa.Numeric(7, 6)),
        sa.column("tie_break", postgresql.JSONB(astext_type=sa.Text())),
        sa.column("description", sa.Text),
        sa.column("is_default", sa.Boolean),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("created_by", sa.String),
    )
    op.bulk_insert(
        methodologies,
        [
            {
                "version": "2024.1",
                "weight_new_count": Decimal("0.3"),
                "weight_net_increase": Decimal("0.3"),
                "weight_revenue_growth": Decimal("0.4"),
                "normalisation": "min_max",
                "growth_basis": "comparable",
                "min_base": 5,
                "winsorise": None,
                "tie_break": ["revenue_growth", "net_increase", "new_count"],
                "description": DEFAULT_DESCRIPTION,
                "is_default": True,
                "created_at": datetime(2024, 11, 19, tzinfo=UTC),
                "created_by": "migration",
            }
        ],
    )
    op.execute(_IMMUTABLE_FUNCTION)
    op.execute(
        "CREATE TRIGGER methodologies_immutable BEFORE UPDATE ON methodologies "
        "FOR EACH ROW EXECUTE FUNCTION methodologies_refuse_change()"
    )


def downgrade() -> None:
    refuse_data_loss(
        "drops tables methodologies and runs: every methodology version and every ranking run, published ones included"
    )
    op.execute("DROP TRIGGER methodologies_immutable ON methodologies")
    op.execute("DROP FUNCTION methodologies_refuse_change()")
    op.drop_index(
        "uq_runs_published_year",
        table_name="runs",
        postgresql_where=sa.text("status = 'published'"),
    )
    op.drop_index("ix_runs_year_status", table_name="runs")
    op.drop_index(op.f("ix_runs_methodology_version"), table_name="runs")
    op.drop_index(op.f("ix_runs_input_hash"), table_name="runs")
    op.drop_table("runs")
    op.drop_index(
        "uq_methodologies_default",
        table_name="methodologies",
        postgresql_where=sa.text("is_default"),
    )
    op.drop_table("methodologies")
