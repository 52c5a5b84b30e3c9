"""Database: engines, the naming convention, and the request's session as its unit of work."""

import time
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, Numeric, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from shared.errors import DatabaseUnavailable

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


MoneyColumn = Numeric(18, 2, asdecimal=True)
JSONColumn = JSONB()
# Every service's declarative base maps Python types with this (`type_annotation_map`).
TYPE_ANNOTATION_MAP: dict[Any, Any] = {datetime: DateTime(timezone=True), Decimal: MoneyColumn}


def make_engine(
    url: str, *, pool_size: int = 10, max_overflow: int | None = None, pool_timeout: float = 10.0, echo: bool = False
) -> AsyncEngine:
    """An engine on PostgreSQL (the only database: `postgresql+asyncpg://…`): at most `pool_size` + `max_overflow`
    (default: as many again) connections, a checkout waiting at most `pool_timeout` seconds."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    _, connect_kwargs = parsed.get_dialect()().create_connect_args(parsed)
    # A session of ours left idle inside a transaction is ended by the server: an open transaction holds back
    # vacuum and every producer's outbox feed (shared/outbox.py: the feed waits for the oldest running one).
    server_settings = dict(connect_kwargs.pop("server_settings", None) or {})
    server_settings.setdefault("idle_in_transaction_session_timeout", str(IDLE_IN_TRANSACTION_MS))
    connect_kwargs["server_settings"] = server_settings

    async def connect() -> Any:
        # asyncpg raises the socket's own error when the server is down (SQLAlchemy does not wrap it), and its own
        # when the connection budget is spent: make either the 503 it is, not a 500.
        try:
            return await asyncpg.connect(**connect_kwargs)
        except (OSError, TimeoutError, asyncpg.TooManyConnectionsError) as error:
            raise DatabaseUnavailable() from error

    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        pool_timeout=pool_timeout,
        pool_recycle=1800,
        async_creator=connect,
    )
    _check_on_checkout(engine)
    return engine


# How long the server lets a session of ours sit idle inside a transaction (no statement running) before it ends
# it: far above any pause of the code between two statements of one transaction (an upstream read with its
# retries), far below what would stall the outbox feeds for long.
IDLE_IN_TRANSACTION_MS = 60_000

# A pooled connection unused for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 10.0


def _check_on_checkout(engine: AsyncEngine) -> None:
    """Pessimistic disconnect handling, as `pool_pre_ping` does, without its three round trips on every checkout.

    A connection the server closed (a restart, a terminated backend) is known to the driver as soon as the event
    loop has read the end of its socket: that costs nothing to ask. One that sat idle a while (where a silently
    dropped connection hides) also gets a real ping. Either failure makes the pool discard it, with every
    connection older than it, and hand out a new one, exactly as a failed pre-ping does.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None:  # a connection made for this checkout
            return
        if dbapi_connection.driver_connection.is_closed():
            raise InvalidatePoolError("the server closed the connection")
        if time.monotonic() - idle_since > PING_AFTER_IDLE_SECONDS:
            try:
                dbapi_connection.ping()
            except Exception as error:
                raise InvalidatePoolError(f"the connection failed its ping: {type(error).__name__}") from error


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


READ_METHODS = frozenset({"GET", "HEAD"})
_READ_STATEMENTS = ("SELECT", "WITH", "SHOW", "VALUES")


def make_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for GET and HEAD: the same pool, in autocommit, so a read costs no BEGIN and COMMIT.

    Under READ COMMITTED every statement sees its own snapshot whether or not a transaction surrounds it, so the
    answers are the same. A statement that is not a read is refused (a bug: reads never write), so nothing can be
    half-written outside a transaction.
    """
    reader = engine.execution_options(isolation_level="AUTOCOMMIT")

    @event.listens_for(reader.sync_engine, "before_cursor_execute")
    def _reads_only(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip()[:6].upper().startswith(_READ_STATEMENTS):
            raise RuntimeError(f"A read-only request tried to write: {statement[:60]!r}")

    return async_sessionmaker(reader, expire_on_commit=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commit when the handler succeeds, roll back when anything raises.

    Reads (GET, HEAD) take the read sessions when the app has them (see make_read_sessionmaker).
    """
    state = request.app.state
    sessionmaker: async_sessionmaker[AsyncSession] = state.sessionmaker
    reading = request.method in READ_METHODS and getattr(state, "read_sessionmaker", None) is not None
    if reading:
        sessionmaker = state.read_sessionmaker
    async with sessionmaker() as session:
        if reading:
            # Autocommit, reads only: nothing to commit or roll back (see make_read_sessionmaker).
            yield session
            return
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# scope="function": the commit runs before the response is sent, so a failed commit is never reported as success.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
