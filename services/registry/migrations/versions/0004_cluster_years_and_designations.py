"""clusters' yearly revenue (verified like their evaluations); 市级领军企业 designations

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 16:00:00.000000

Issue 18 (统计监测 of 渝府发〔2024〕18号):
- cluster_years: a cluster's revenue of a year, with the verification columns of every money-deciding fact (the
  monitoring statistics count verified revenue only, e.g. for 百亿级集聚区). New: nothing to backfill.
- leading_designations: the city's 市级领军企业 designations (year, notice, who and when), revocable with a reason;
  at most one live (not revoked) designation per enterprise, kept by a partial unique index. New: starts empty.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.migrations import refuse_data_loss

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUS_CHECK = "verification_status IN ('submitted', 'verified', 'rejected')"
_REVOCATION_CHECK = (
    "(revoked_at IS NULL AND revoked_by IS NULL AND revocation_reason IS NULL)"
    " OR (revoked_at IS NOT NULL AND revoked_by IS NOT NULL AND revocation_reason IS NOT NULL)"
)


def upgrade() -> None:
    op.create_table(
        "cluster_years",
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("revenue_yuan", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verification_status", sa.String(length=16), nullable=False),
        sa.Column("submitted_by", sa.String(length=32), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_by", sa.String(length=32), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verification_reason", sa.String(length=1000), nullable=True),
        sa.CheckConstraint("revenue_yuan >= 0", name=op.f("ck_cluster_years_revenue_non_negative")),
        sa.CheckConstraint(_STATUS_CHECK, name=op.f("ck_cluster_years_verification_status")),
        sa.ForeignKeyConstraint(
            ["cluster_id"], ["clusters.id"], name=op.f("fk_cluster_years_cluster_id_clusters"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("cluster_id", "year", name=op.f("pk_cluster_years")),
    )
    op.create_index(
        "ix_cluster_years_year_verification_status", "cluster_years", ["year", "verification_status"], unique=False
    )
    op.create_table(
        "leading_designations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("document", sa.String(length=200), nullable=False),
        sa.Column("designated_by", sa.String(length=32), nullable=False),
        sa.Column("designated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=32), nullable=True),
        sa.Column("revocation_reason", sa.String(length=1000), nullable=True),
        sa.CheckConstraint(_REVOCATION_CHECK, name=op.f("ck_leading_designations_revocation_complete")),
        sa.ForeignKeyConstraint(["uscc"], ["enterprises.uscc"], name=op.f("fk_leading_designations_uscc_enterprises")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leading_designations")),
    )
    op.create_index(op.f("ix_leading_designations_uscc"), "leading_designations", ["uscc"], unique=False)
    op.create_index("ix_leading_designations_year", "leading_designations", ["year"], unique=False)
    op.create_index(
        "uq_leading_designations_live_uscc",
        "leading_designations",
        ["uscc"],
        unique=True,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )


def downgrade() -> None:
    refuse_data_loss(
        "drops tables cluster_years and leading_designations: every cluster's yearly data and every leading-enterprise designation"
    )
    op.drop_index("uq_leading_designations_live_uscc", table_name="leading_designations")
    op.drop_index("ix_leading_designations_year", table_name="leading_designations")
    op.drop_index(op.f("ix_leading_designations_uscc"), table_name="leading_designations")
    op.drop_table("leading_designations")
    op.drop_index("ix_cluster_years_year_verification_status", table_name="cluster_years")
    op.drop_table("cluster_years")
