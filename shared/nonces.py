"""Each signed write is accepted once: its nonce is kept in the service's own database until its signature expires.

The table is in the database every replica of the service shares, so a request captured on its way to one replica
cannot be replayed to another. A nonce is kept while its signature could still be accepted anywhere: until two
windows after its signed timestamp (one for the window itself, one for the clocks of the replicas, which judge
freshness and expiry each by its own); expired rows are deleted at most once a window per process, on the
connection of an insert.
"""

import time

from sqlalchemy import BigInteger, Column, Index, MetaData, String, Table, delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Scope

from shared.db import make_metadata
from shared.errors import DatabaseUnavailable, database_away

TABLE_NAME = "request_nonces"


def nonce_table(metadata: MetaData) -> Table:
    """The table on a service's own metadata (so that its migrations and `alembic check` see it)."""
    return Table(
        TABLE_NAME,
        metadata,
        Column("nonce", String(64), primary_key=True),
        # Unix seconds after which every replica refuses the nonce's signature anyway, so the row may go.
        Column("expires_at", BigInteger, nullable=False),
        Index(f"ix_{TABLE_NAME}_expires_at", "expires_at"),
    )


_TABLE = nonce_table(make_metadata())
_INSERT = insert(_TABLE).on_conflict_do_nothing(index_elements=["nonce"])


class NonceStore:
    """`accept(nonce)` is true the first time a nonce is offered within its window, false on every replay."""

    def __init__(self, window_seconds: int) -> None:
        self.window_seconds = window_seconds
        self._next_purge = 0.0

    async def accept(self, scope: Scope, nonce: str, timestamp: int) -> bool:
        """Whether `nonce` (signed at `timestamp`) is new, kept in the database of the app serving `scope`."""
        engine: AsyncEngine = scope["app"].state.engine
        now = time.time()
        purge = now >= self._next_purge
        try:
            # Each statement commits by itself: one round trip instead of three (BEGIN, INSERT, COMMIT) on every
            # write, and the insert alone decides (a purge that fails later cannot undo it).
            async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
                inserted = await connection.execute(
                    _INSERT,
                    {"nonce": nonce, "expires_at": timestamp + 2 * self.window_seconds},
                )
                if purge:
                    await connection.execute(delete(_TABLE).where(_TABLE.c.expires_at < int(now)))
        except Exception as exc:
            if database_away(exc):
                raise DatabaseUnavailable() from exc
            raise
        if purge:
            self._next_purge = now + self.window_seconds
        return bool(inserted.rowcount)
