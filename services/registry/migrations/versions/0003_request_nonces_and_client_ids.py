"""request nonces (signed writes accepted once); the caller's own request id beside the system's in the audit log

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 12:00:00.000000

request_nonces: the nonce of every signed write accepted within the signature's window (shared.nonces), so that
a captured request is accepted once, by any replica. Rows are deleted by the service once expired; the table starts
empty and may be emptied at any time (a nonce still inside its window would then be accepted once more).

client_request_id on audit_log: the X-Request-ID the caller sent, beside request_id, which from
now on is the system's own id. Existing rows keep their request_id (whatever it was) and get NULL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.migrations import refuse_data_loss

revision: str = "0003"
down_revision: str | None = "0002"
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
    op.add_column("audit_log", sa.Column("client_request_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    refuse_data_loss("drops column audit_log.client_request_id: which client request made each audit entry")
    op.drop_column("audit_log", "client_request_id")
    op.drop_index("ix_request_nonces_expires_at", table_name="request_nonces")
    op.drop_table("request_nonces")
