"""methodologies.max_unreported_share: the data-quality gate's threshold on unreported enterprises

Every existing version gets 0.05 (5% of a district's above-size enterprises of the base year), the value of the
default version 2024.1 as METHODOLOGY.md documents it. Adding a column is no UPDATE of a row, so the trigger that
keeps versions immutable is not involved.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.migrations import refuse_data_loss

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "methodologies",
        sa.Column(
            "max_unreported_share",
            sa.Numeric(precision=7, scale=6),
            nullable=False,
            server_default=sa.text("0.05"),
        ),
    )
    # The value is each version's own from now on: no default at the database.
    op.alter_column("methodologies", "max_unreported_share", server_default=None)
    op.create_check_constraint(
        "max_unreported_share", "methodologies", "max_unreported_share >= 0 AND max_unreported_share <= 1"
    )


def downgrade() -> None:
    refuse_data_loss(
        "drops column methodologies.max_unreported_share: each methodology's threshold for unreported data"
    )
    op.drop_constraint(op.f("ck_methodologies_max_unreported_share"), "methodologies", type_="check")
    op.drop_column("methodologies", "max_unreported_share")
