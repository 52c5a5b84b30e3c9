"""Bulk reads and writes for large imports, inside the session's transaction.

PostgreSQL gets COPY and array parameters (an order of magnitude faster than multi-row INSERT and IN lists);
SQLite gets executemany and bounded IN lists. Updates go through a temporary staging table and one
UPDATE … FROM, optionally guarded so that a row changed concurrently is not overwritten silently.
"""

import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import JSON, Column, ColumnElement, MetaData, Table, any_, insert, literal, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

# SQLite binds at most 32,766 parameters per statement; keep IN lists and VALUES batches well below.
_SQLITE_BATCH = 500

Guard = Callable[[Table, Table], ColumnElement[bool]]


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
    staging = Table(
        f"staging_{table.name}_{uuid.uuid4().hex[:8]}",
        MetaData(),
        *(Column(name, table.c[name].type) for name in columns),
        prefixes=["TEMPORARY"],
    )
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
    statement = (
        update(table)
        .values({name: staging.c[name] for name in columns if name not in key})
        .where(*(table.c[name] == staging.c[name] for name in key))
    )
    if guard is not None:
        statement = statement.where(guard(table, staging))
    result = await session.execute(statement.execution_options(synchronize_session=False))
    await session.execute(text(f'DROP TABLE "{staging.name}"'))
    return int(result.rowcount)  # type: ignore[attr-defined]
