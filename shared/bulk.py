"""Bulk writes for large imports, inside the session's transaction.

Inserts go through COPY (asyncpg's `copy_records_to_table`): an order of magnitude faster than a multi-row INSERT.
Updates copy their rows into a temporary staging table and apply them with one UPDATE … FROM, optionally guarded
so that a row changed concurrently is not overwritten silently.
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, Column, ColumnElement, FromClause, MetaData, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateTable, DropTable

Guard = Callable[[Table, FromClause], ColumnElement[bool]]


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `table` with COPY."""
    if not rows:
        return
    columns = list(rows[0])
    # COPY takes a json/jsonb value as its text.
    json_columns = {name for name in columns if isinstance(table.c[name].type, JSON)}
    records = [
        tuple(
            json.dumps(row[name], ensure_ascii=False) if name in json_columns and row[name] is not None else row[name]
            for name in columns
        )
        for row in rows
    ]
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter opens the driver's transaction at its own first statement: a COPY sent before
        # any would commit by itself, beyond the reach of the request's rollback.
        await connection.execute(select(1))
    await driver.copy_records_to_table(table.name, schema_name=table.schema, records=records, columns=columns)


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
        f"staging_{table.name}",
        MetaData(),
        *(Column(name, table.c[name].type) for name in columns),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )
    await session.execute(CreateTable(staging))
    await insert_rows(session, staging, rows)
    statement = (
        update(table)
        .values({name: staging.c[name] for name in columns if name not in key})
        .where(*(table.c[name] == staging.c[name] for name in key))
    )
    if guard is not None:
        statement = statement.where(guard(table, staging))
    result = await session.execute(statement.execution_options(synchronize_session=False))
    # A temporary table lives as long as its connection (a rollback drops it too): the next import stages anew.
    await session.execute(DropTable(staging))
    return int(result.rowcount)  # type: ignore[attr-defined]
