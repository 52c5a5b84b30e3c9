"""The database helpers: reads without a transaction, the check on checkout that replaced pool_pre_ping, one engine
(PostgreSQL), and the shared repository helpers."""

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select, text

from services.registry.reference.models import District
from shared.bulk import insert_rows
from shared.db import make_engine, make_read_sessionmaker, make_sessionmaker
from shared.repository import among, with_children


def test_an_engine_is_made_for_postgresql_only() -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL URL: sqlite"):
        make_engine("sqlite+aiosqlite:///var/registry.db")


async def test_among_binds_any_number_of_values_as_one_parameter(registry_app: FastAPI) -> None:
    codes = [str(number) for number in range(480_000, 520_000)]  # more than the 32,767 parameters a statement may have
    async with make_sessionmaker(registry_app.state.engine)() as session:
        found = (await session.scalars(select(District.code).where(among(District.code, codes)))).all()
    assert len(found) == 38


async def test_parents_are_read_with_their_children_in_order(registry_app: FastAPI) -> None:
    parents = select(District.code, District.name).where(District.code.in_(["500101", "500103"]))
    async with make_sessionmaker(registry_app.state.engine)() as session:
        rows = await with_children(session, parents, [District.name], District.code, [District.code.desc()], "same")
    by_code = {row["code"]: row for row in rows}
    assert set(by_code) == {"500101", "500103"}
    assert by_code["500103"]["same"] == [{"name": by_code["500103"]["name"]}]


async def test_a_read_session_refuses_to_write(registry_app: FastAPI) -> None:
    reads = make_read_sessionmaker(registry_app.state.engine)
    row = {"code": "599999", "name": "不存在区", "kind": "district"}
    async with reads() as session:
        with pytest.raises(RuntimeError, match="tried to write"):
            await session.execute(insert(District.__table__).values(**row))
    async with make_sessionmaker(registry_app.state.engine)() as session:
        assert (await session.execute(select(District.code).where(District.code == "599999"))).first() is None


async def test_a_connection_the_server_ended_is_replaced_on_checkout(registry_app: FastAPI) -> None:
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


async def test_a_connection_idle_for_a_while_is_pinged_before_use(
    registry_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
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


async def test_a_copy_as_the_first_statement_is_undone_by_the_rollback(registry_app: FastAPI) -> None:
    # The driver's transaction opens at SQLAlchemy's first statement: a COPY before any must not commit by itself.
    row = {"code": "599998", "name": "回滚区", "kind": "district"}
    async with make_sessionmaker(registry_app.state.engine)() as session:
        await insert_rows(session, District.__table__, [row])
        assert (await session.execute(select(District.code).where(District.code == "599998"))).first() is not None
        await session.rollback()
    async with make_sessionmaker(registry_app.state.engine)() as session:
        assert (await session.execute(select(District.code).where(District.code == "599998"))).first() is None


async def test_a_spent_connection_budget_is_a_503_not_a_500(registry_app: FastAPI) -> None:
    """A role at its CONNECTION LIMIT (the budget of docs/operations.md): PostgreSQL refuses with 53300."""
    from sqlalchemy.engine import make_url

    from shared.errors import DatabaseUnavailable
    from tests.support import postgres_admin_url

    admin = make_url(postgres_admin_url())
    role = f"budget_{uuid.uuid4().hex[:8]}"
    server = await asyncpg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await server.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0')
        url = admin.set(drivername="postgresql+asyncpg", username=role, password=None, database="postgres")
        engine = make_engine(url.render_as_string(hide_password=False), pool_size=1)
        try:
            with pytest.raises(DatabaseUnavailable):
                async with engine.connect():
                    pass
        finally:
            await engine.dispose()
    finally:
        await server.execute(f'DROP ROLE IF EXISTS "{role}"')
        await server.close()


async def test_a_pool_busy_past_its_timeout_counts_as_the_database_away(registry_app: FastAPI) -> None:
    from shared.errors import database_away

    url = registry_app.state.engine.url.render_as_string(hide_password=False)
    engine = make_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        async with engine.connect():
            with pytest.raises(Exception) as waited:
                async with engine.connect():
                    pass
        assert database_away(waited.value)
    finally:
        await engine.dispose()


async def test_a_session_left_idle_in_a_transaction_is_ended_by_the_server(registry_app: FastAPI) -> None:
    # An open transaction holds back every producer's outbox feed (shared/outbox.py): ours end after a minute idle.
    async with registry_app.state.engine.connect() as connection:
        shown = (await connection.execute(text("SHOW idle_in_transaction_session_timeout"))).scalar_one()
    assert shown == "1min"
