"""The database helpers that keep a request cheap: reads without a transaction, straight through the driver, and
the check on checkout that replaced pool_pre_ping."""

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from sqlalchemy import Boolean, Date, Integer, Numeric, String, bindparam, cast, func, insert, literal, select, text

from services.registry.reference.models import District
from shared.db import (
    JSONColumn,
    UtcDateTime,
    make_engine,
    make_read_sessionmaker,
    make_sessionmaker,
    nest_rows,
    read_rows,
)

TYPED = select(
    cast(bindparam("text"), String).label("text"),
    cast(bindparam("number"), Integer).label("number"),
    cast(bindparam("flag"), Boolean).label("flag"),
    cast(bindparam("day"), Date).label("day"),
    cast(bindparam("money"), Numeric(18, 2)).label("money"),
    cast(bindparam("moment"), UtcDateTime()).label("moment"),
    func.count().label("count"),
)
VALUES = {
    "text": "渝中区",
    "number": 7,
    "flag": True,
    "day": date(2025, 6, 30),
    "money": Decimal("1234.50"),
    "moment": datetime(2025, 6, 30, 8, 0, tzinfo=UTC),
}


def postgres(app: FastAPI) -> bool:
    return bool(app.state.engine.dialect.name == "postgresql")


async def test_a_read_gives_the_same_values_through_the_driver_as_through_sqlalchemy(registry_app: FastAPI) -> None:
    if not postgres(registry_app):
        pytest.skip("the driver path is PostgreSQL's")
    reads = make_read_sessionmaker(registry_app.state.engine)
    assert reads is not None
    districts = select(District.code, District.name).order_by(District.code).where(District.code > bindparam("after"))
    async with reads() as session:
        session.info["read_session"] = True
        fast = [tuple(row) for row in await read_rows(session, TYPED, VALUES)]
        fast_districts = [tuple(row) for row in await read_rows(session, districts, {"after": "500100"})]
    async with make_sessionmaker(registry_app.state.engine)() as session:
        usual = [tuple(row) for row in await read_rows(session, TYPED, VALUES)]
        usual_districts = [tuple(row) for row in await read_rows(session, districts, {"after": "500100"})]
    assert fast == usual == [(*VALUES.values(), 1)]
    assert [type(value) for value in fast[0]] == [type(value) for value in usual[0]]
    assert fast_districts == usual_districts and len(fast_districts) == 38


async def test_a_column_the_driver_would_return_differently_is_read_the_usual_way(registry_app: FastAPI) -> None:
    if not postgres(registry_app):
        pytest.skip("the driver path is PostgreSQL's")
    reads = make_read_sessionmaker(registry_app.state.engine)
    assert reads is not None
    as_json = select(cast(literal('{"a": [1, "二"]}'), JSONColumn).label("document"))
    async with reads() as session:
        session.info["read_session"] = True
        assert [tuple(row) for row in await read_rows(session, as_json)] == [({"a": [1, "二"]},)]


async def test_a_read_session_refuses_to_write(registry_app: FastAPI) -> None:
    if not postgres(registry_app):
        pytest.skip("read sessions are PostgreSQL's")
    reads = make_read_sessionmaker(registry_app.state.engine)
    assert reads is not None
    row = {"code": "599999", "name": "不存在区", "kind": "district"}
    async with reads() as session:
        with pytest.raises(RuntimeError, match="tried to write"):
            await session.execute(insert(District.__table__).values(**row))
    async with make_sessionmaker(registry_app.state.engine)() as session:
        assert (await session.execute(select(District.code).where(District.code == "599999"))).first() is None


async def test_a_connection_the_server_ended_is_replaced_on_checkout(registry_app: FastAPI) -> None:
    if not postgres(registry_app):
        pytest.skip("the check is on PostgreSQL connections")
    engine = registry_app.state.engine
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        victim = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    # The connection is back in the pool, idle, when its server process is ended (as a restart would).
    admin = await asyncpg.connect(registry_app.state.settings.database_url.replace("+asyncpg", ""))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", victim)
    finally:
        await admin.close()
    await asyncio.sleep(0.2)  # the end of the connection reaches the pooled connection
    for _ in range(3):
        async with sessions() as session:
            assert (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one() != victim


def test_rows_of_a_join_are_nested_under_their_parent() -> None:
    rows = [("a", 1, 2024, "x"), ("a", 1, 2025, "y"), ("b", 2, None, None), ("c", 3, 2025, "z")]
    assert nest_rows(rows, ("key", "n"), ("year", "v"), "years") == [
        {"key": "a", "n": 1, "years": [{"year": 2024, "v": "x"}, {"year": 2025, "v": "y"}]},
        {"key": "b", "n": 2, "years": []},
        {"key": "c", "n": 3, "years": [{"year": 2025, "v": "z"}]},
    ]


async def test_a_connection_idle_for_a_while_is_pinged_before_use(
    registry_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not postgres(registry_app):
        pytest.skip("the check is on PostgreSQL connections")
    engine = make_engine(registry_app.state.settings.database_url, pool_size=1)
    queries: list[str] = []

    def log(record: Any) -> None:
        queries.append(record.query)

    try:
        sessions = make_sessionmaker(engine)
        async with sessions() as session:
            driver = (await (await session.connection()).get_raw_connection()).driver_connection
            assert driver is not None
            driver.add_query_logger(log)
        async with sessions() as session:  # just used: not pinged
            await session.execute(text("SELECT 1"))
        monkeypatch.setattr("shared.db.PING_AFTER_IDLE_SECONDS", 0.0)
        async with sessions() as session:  # idle "too long": pinged first
            await session.execute(text("SELECT 2"))
    finally:
        await engine.dispose()
    # The driver logs the simple queries: each session's BEGIN and ROLLBACK, and the ping's `;` (only the third).
    assert queries.count(";") == 1 and queries.index(";") > queries.index("ROLLBACK;")
