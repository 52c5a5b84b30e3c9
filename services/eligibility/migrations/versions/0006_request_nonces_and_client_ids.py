"""request nonces (signed writes accepted once); the caller's own request id beside the system's

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 12:00:00.000000

request_nonces: the nonce of every signed write accepted within the signature's window (shared.nonces), so that
a captured request is accepted once, by any replica. Rows are deleted by the service once expired; the table starts
empty and may be emptied at any time (a nonce still inside its window would then be accepted once more).

client_request_id on parameter_amendments, official_calendars, award_events: the X-Request-ID the caller sent,
beside request_id, which from now on is the system's own id. Existing rows keep their request_id (whatever it was) and get NULL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.migrations import refuse_data_loss

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_request_nonces")),
    )
    op.create_index("ix_request_nonces_expires_at", "request_nonces", ["expires_at"], unique=False)
    op.add_column("parameter_amendments", sa.Column("client_request_id", sa.String(length=128), nullable=True))
    op.add_column("official_calendars", sa.Column("client_request_id", sa.String(length=128), nullable=True))
    op.add_column("award_events", sa.Column("client_request_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    refuse_data_loss(
        "drops the client_request_id columns of parameter_amendments, official_calendars and award_events: which client request made each record"
    )
    op.drop_column("parameter_amendments", "client_request_id")
    op.drop_column("official_calendars", "client_request_id")
    op.drop_column("award_events", "client_request_id")
    op.drop_index("ix_request_nonces_expires_at", table_name="request_nonces")
    op.drop_table("request_nonces")
