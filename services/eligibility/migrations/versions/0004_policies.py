"""register of policies: the documents awards are made under, one row per document number (canonical form)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:40:00.000000

Registers 渝发改规范〔2024〕7号 itself (created_by "migration"), in force 2024-11-19 … 2027-12-31.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

from shared.migrations import refuse_data_loss

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger()


def upgrade() -> None:
    policies = op.create_table(
        "policies",
        sa.Column("id", _ID, nullable=False),
        sa.Column("document_number", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "effective_to IS NULL OR effective_to >= effective_from", name=op.f("ck_policies_effective_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
        sa.UniqueConstraint("document_number", name=op.f("uq_policies_document_number")),
    )
    op.bulk_insert(
        policies,
        [
            {
                "document_number": "渝发改规范〔2024〕7号",
                "title": "重庆市支持现代生产性服务业高质量发展若干政策措施",
                "issuer": "重庆市发展和改革委员会、重庆市财政局",
                "effective_from": date(2024, 11, 19),
                "effective_to": date(2027, 12, 31),
                "created_at": datetime(2024, 11, 19, tzinfo=UTC),
                "created_by": "migration",
            }
        ],
    )


def downgrade() -> None:
    refuse_data_loss("drops table policies: every policy recorded")
    op.drop_table("policies")
