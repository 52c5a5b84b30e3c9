"""Bulk reads and writes for large imports, inside the session's transaction.

PostgreSQL gets COPY and array parameters (an order of magnitude faster than multi-row INSERT and IN lists);
SQLite gets executemany and bounded IN lists. Updates go through a temporary staging table (on PostgreSQL,
array parameters for small updates) and one UPDATE … FROM, optionally guarded so that a row changed concurrently
is not overwritten silently.
"""

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    FromClause,
    MetaData,
    Table,
    any_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

# SQLite binds at most 32,766 parameters per statement; keep IN lists and VALUES batches well below.
_SQLITE_BATCH = 500

Guard = Callable[[Table, FromClause], ColumnElement[bool]]


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def batches(session: AsyncSession, values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """`values` in batches fit for one `member_of` clause: all at once on PostgreSQL."""
    size = len(values) if _is_postgres(session) else _SQLITE_BATCH
    for start in range(0, len(values), max(size, 1)):
        yield values[start : start + size]


def member_of(session: AsyncSession, column: Column[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN values`, as one array parameter on PostgreSQL."""
    if _is_postgres(session):
        return column == any_(literal(list(values), ARRAY(column.type)))
    return column.in_(values)


def member_of_parameter(dialect_name: str, column: Column[Any], name: str) -> ColumnElement[bool]:
    """`column IN :name` for a statement built once and executed with the values (a list) bound under `name`:
    one array parameter on PostgreSQL, an expanding IN list elsewhere (within the batches of `batches`)."""
    if dialect_name == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `table`."""
    if not rows:
        return
    if _is_postgres(session):
        columns = list(rows[0])
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        json_columns = [name for name in columns if isinstance(table.c[name].type, JSON)]
        records = [
            tuple(row[name] for name in columns)
            if not json_columns
            else tuple(
                json.dumps(row[name], ensure_ascii=False)
                if name in json_columns and row[name] is not None
                else row[name]
                for name in columns
            )
            for row in rows
        ]
        await driver.copy_records_to_table(table.name, records=records, columns=columns)
        return
    for start in range(0, len(rows), _SQLITE_BATCH):
        await session.execute(insert(table), list(rows[start : start + _SQLITE_BATCH]))


_STAGING: dict[tuple[str, tuple[str, ...]], Table] = {}


def _staging_table(table: Table, columns: Sequence[str]) -> Table:
    """The temporary table an update of `columns` of `table` stages its rows in.

    Made once per table and columns, so that the statements using it are compiled once (and prepared once per
    connection by the driver) rather than for every import. One name serves every request: a temporary table
    belongs to its connection, and update_rows drops it again before it returns (a rollback does too).
    """
    key = (table.name, tuple(columns))
    staging = _STAGING.get(key)
    if staging is None:
        staging = Table(
            f"staging_{table.name}",
            MetaData(),
            *(Column(name, table.c[name].type) for name in columns),
            prefixes=["TEMPORARY"],
        )
        _STAGING[key] = staging
    return staging


async def update_rows(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    guard: Guard | None = None,
) -> int:
    """Write each row's values over the row of `table` with the same `key`, where `guard(table, staging)` holds.

    Returns how many rows were updated.
    """
    if not rows:
        return 0
    columns = list(rows[0])
    if _is_postgres(session) and len(rows) <= _ARRAY_UPDATE_ROWS and not _has_json(table, columns):
        source = _array_source(table, columns)
        arrays = {f"staged_{name}": [row[name] for row in rows] for name in columns}
        return await _update_from(session, table, source, columns, key, guard, arrays)
    staging = _staging_table(table, columns)
    # Table and column names come from the metadata, never from the caller.
    if _is_postgres(session):
        column_list = ", ".join(f'"{name}"' for name in columns)
        create = (
            f'CREATE TEMPORARY TABLE "{staging.name}" ON COMMIT DROP AS '  # noqa: S608
            f'SELECT {column_list} FROM "{table.name}" WITH NO DATA'
        )
        await session.execute(text(create))
    else:
        await session.run_sync(lambda sync_session: staging.create(sync_session.connection()))
    await insert_rows(session, staging, rows)
    updated = await _update_from(session, table, staging, columns, key, guard, None)
    await session.execute(text(f'DROP TABLE "{staging.name}"'))
    return updated


async def _update_from(
    session: AsyncSession,
    table: Table,
    source: FromClause,
    columns: Sequence[str],
    key: Sequence[str],
    guard: Guard | None,
    parameters: dict[str, Any] | None,
) -> int:
    # Built once for each target, source, columns and guard (the sources are made once, see below).
    cache_key = (table.name, id(source), tuple(columns), tuple(key), guard)
    statement = _UPDATES.get(cache_key)
    if statement is None:
        statement = (
            update(table)
            .values({name: source.c[name] for name in columns if name not in key})
            .where(*(table.c[name] == source.c[name] for name in key))
        )
        if guard is not None:
            statement = statement.where(guard(table, source))
        statement = statement.execution_options(synchronize_session=False)
        if len(_UPDATES) < _MAX_CACHED_UPDATES:
            _UPDATES[cache_key] = statement
    result = await session.execute(statement, parameters)
    return int(result.rowcount)  # type: ignore[attr-defined]


_UPDATES: dict[tuple[Any, ...], Any] = {}
# A guard made anew for each call (a lambda at the call site) cannot be found again: keep the cache bounded.
_MAX_CACHED_UPDATES = 256


# On PostgreSQL, an update of up to this many rows binds them as one array per column and reads them back with
# unnest() in the UPDATE itself: one statement instead of creating, filling and dropping a temporary table.
_ARRAY_UPDATE_ROWS = 1000
_ARRAY_SOURCES: dict[tuple[str, tuple[str, ...]], FromClause] = {}


def _has_json(table: Table, columns: Sequence[str]) -> bool:
    return any(isinstance(table.c[name].type, JSON) for name in columns)


def _array_source(table: Table, columns: Sequence[str]) -> FromClause:
    """`staging` for a small update: the rows from the `staged_<column>` array parameters, side by side."""
    key = (table.name, tuple(columns))
    source = _ARRAY_SOURCES.get(key)
    if source is None:
        source = select(
            *(func.unnest(cast(bindparam(f"staged_{name}"), ARRAY(table.c[name].type))).label(name) for name in columns)
        ).subquery("staging")
        _ARRAY_SOURCES[key] = source
    return source
