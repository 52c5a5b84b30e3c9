"""Database: engines, the naming convention, and the request's session as its unit of work."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import JSON, DateTime, Dialect, MetaData, Numeric, TypeDecorator, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
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


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """`timestamp with time zone`, always read back aware: SQLite keeps no zone, and every value written is UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


MoneyColumn = Numeric(18, 2, asdecimal=True)
JSONColumn = JSON().with_variant(JSONB(), "postgresql")
# Every service's declarative base maps Python types with this (`type_annotation_map`).
TYPE_ANNOTATION_MAP: dict[Any, Any] = {datetime: UtcDateTime(), Decimal: MoneyColumn}


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
            # The driver's own transaction handling breaks SAVEPOINT; SQLAlchemy issues BEGIN instead (below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            # IMMEDIATE takes the write lock up front: writers queue instead of failing on a lock upgrade.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    parsed = make_url(url)
    _, connect_kwargs = parsed.get_dialect()().create_connect_args(parsed)

    async def connect() -> Any:
        # asyncpg raises the socket's own error when the server is down (SQLAlchemy does not wrap it): make it the
        # 503 it is, not a 500.
        try:
            return await asyncpg.connect(**connect_kwargs)
        except (OSError, TimeoutError) as error:
            raise DatabaseUnavailable() from error

    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        async_creator=connect,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commit when the handler succeeds, roll back when anything raises."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# scope="function": the commit runs before the response is sent, so a failed commit is never reported as success.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
