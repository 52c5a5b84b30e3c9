"""subscriptions.consecutive_failures: the breaker on failed tries in a row

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 00:20:00.000000

An endpoint whose tries failed `NOTIFICATIONS_PAUSE_AFTER_FAILED_TRIES` times in a row is paused (`failing`).
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
    op.add_column("subscriptions", sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    refuse_data_loss("drops subscriptions.consecutive_failures, each endpoint's count of failed tries in a row")
    op.drop_column("subscriptions", "consecutive_failures")
