"""Database: engines, the naming convention, and the request's session as its unit of work."""

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, cast

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import (
    ARRAY,
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Enum,
    Float,
    Integer,
    Interval,
    MetaData,
    Numeric,
    Select,
    String,
    TypeDecorator,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.types import NullType

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

    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        async_creator=connect,
    )
    _check_on_checkout(engine)
    return engine


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


AnySelect = Select[*tuple[Any, ...]]


async def read_rows(
    session: AsyncSession, statement: AnySelect, parameters: Mapping[str, Any] | None = None
) -> Sequence[Sequence[Any]]:
    """The rows of a Core SELECT of columns (built once, with its values as parameters), run on the session's
    connection and transaction without the ORM's per-statement machinery (autoflush, ORM result loading). For
    reads only: unlike session.execute, it does not flush pending ORM changes first.

    In a read session on PostgreSQL (see make_read_sessionmaker) a statement whose parameters and columns are of
    plain types goes straight to the driver, compiled once: SQLAlchemy's execution and result layers cost more
    than such a query. The rows are the same values either way. Should the driver fail, the statement runs again
    the usual way, so that errors (and discarding a lost connection) are exactly SQLAlchemy's.
    """
    connection = await session.connection()
    if session.info.get(_READ_SESSION):
        plan = _driver_plan(statement, connection.dialect)
        if plan is not None:
            sql, names = plan
            values = parameters or {}
            try:
                driver: Any = cast(Any, connection.sync_connection).connection.driver_connection
                rows: Sequence[Sequence[Any]] = await driver.fetch(sql, *(values[name] for name in names))
            except Exception:  # noqa: S110 - decided below, by running the statement the usual way
                pass
            else:
                return rows
    result: Sequence[Sequence[Any]] = (await connection.execute(statement, parameters)).all()
    return result


async def read_dicts(
    session: AsyncSession, statement: AnySelect, parameters: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """read_rows, each row as a dict keyed by column label."""
    keys = tuple(str(column.key) for column in statement.selected_columns)
    return [dict(zip(keys, row, strict=True)) for row in await read_rows(session, statement, parameters)]


# Marks a session from make_read_sessionmaker (autocommit, reads only) in its `info`.
_READ_SESSION = "read_session"
# The driver's SQL and parameter order of each statement read_rows has seen (None: not for the driver).
_DRIVER_PLANS: dict[int, tuple[Any, tuple[str, tuple[str, ...]] | None]] = {}


def _plain(type_: Any) -> bool:
    """A type whose values the driver passes and returns exactly as SQLAlchemy would on PostgreSQL."""
    if isinstance(type_, TypeDecorator):
        return isinstance(type_, UtcDateTime)  # timestamptz values come back aware already
    if isinstance(type_, Enum | Float | JSON | ARRAY | Interval) or (
        isinstance(type_, Numeric) and not type_.asdecimal
    ):
        return False
    return isinstance(type_, String | Integer | Boolean | Date | DateTime | Numeric | NullType)


def _plain_parameter(type_: Any) -> bool:
    """A parameter the driver binds exactly as SQLAlchemy would: a plain value, or an array of them (a list)."""
    return _plain(type_.item_type) if isinstance(type_, ARRAY) else _plain(type_)


def _driver_plan(statement: AnySelect, dialect: Dialect) -> tuple[str, tuple[str, ...]] | None:
    cached = _DRIVER_PLANS.get(id(statement))
    if cached is not None and cached[0] is statement:
        return cached[1]
    plan: tuple[str, tuple[str, ...]] | None = None
    if dialect.name == "postgresql" and dialect.driver == "asyncpg":
        compiled = statement.compile(dialect=dialect)
        binds = compiled.binds.values()
        if (
            compiled.positiontup is not None
            and all(_plain_parameter(bind.type) and not bind.expanding for bind in binds)
            and all(_plain(column.type) for column in statement.selected_columns)
        ):
            plan = (compiled.string, tuple(compiled.positiontup))
    if len(_DRIVER_PLANS) < 1024:
        _DRIVER_PLANS[id(statement)] = (statement, plan)
    return plan


async def read_with_children(
    session: AsyncSession,
    parents: AnySelect,
    parameters: Mapping[str, Any],
    parent_keys: Sequence[str],
    children: AnySelect,
    child_keys: Sequence[str],
    field: str,
) -> list[dict[str, Any]]:
    """The parents `parents` selects (their key first), each with the list of its children under `field`: the rows
    `children` selects (the parent's key first, then `child_keys`, in order) with the parents' keys bound as
    `keys` (see shared.bulk.member_of_parameter).

    Two statements rather than a join: joined with a page whose LIMIT is a parameter, the statement gets a generic
    plan from PostgreSQL that reads every parent matching the filters.
    """
    found = [dict(zip(parent_keys, row, strict=True)) for row in await read_rows(session, parents, parameters)]
    if found:
        by_key: dict[Any, dict[str, Any]] = {}
        for parent in found:
            parent[field] = []
            by_key[parent[parent_keys[0]]] = parent
        for row in await read_rows(session, children, {"keys": list(by_key)}):
            by_key[row[0]][field].append(dict(zip(child_keys, row[1:], strict=True)))
    return found


def nest_rows(
    rows: Sequence[Sequence[Any]], parent_keys: Sequence[str], child_keys: Sequence[str], children: str
) -> list[dict[str, Any]]:
    """Rows of a LEFT JOIN of parents (their key first) with their children, ordered by parent, as the parents,
    each with the list of its children under `children` (a parent without any has a row of NULLs for them).

    One statement for a page of parents with their children instead of one per table (or per parent).
    """
    width = len(parent_keys)
    parents: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for row in rows:
        if current is None or current[parent_keys[0]] != row[0]:
            current = dict(zip(parent_keys, row[:width], strict=True))
            current[children] = []
            parents.append(current)
        if row[width] is not None:
            current[children].append(dict(zip(child_keys, row[width:], strict=True)))
    return parents


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


READ_METHODS = frozenset({"GET", "HEAD"})
_READ_STATEMENTS = ("SELECT", "WITH", "SHOW", "VALUES")


def make_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession] | None:
    """Sessions for GET and HEAD on PostgreSQL: the same pool, in autocommit, so a read costs no BEGIN and COMMIT.

    Under READ COMMITTED every statement sees its own snapshot whether or not a transaction surrounds it, so the
    answers are the same. A statement that is not a read is refused (a bug: reads never write), so nothing can be
    half-written outside a transaction. None on SQLite, whose transactions take the write lock (see make_engine).
    """
    if engine.dialect.name != "postgresql":
        return None
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
            session.info[_READ_SESSION] = True
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
