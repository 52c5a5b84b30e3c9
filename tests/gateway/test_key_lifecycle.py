"""Keys with a life cycle: expiry, rotation with a grace period, the last use written behind the requests, and
key_events, the append-only record of who issued, rotated and revoked which key."""

import asyncio
import getpass
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import GATEWAY_DIR
from gateway.authn import KeyAuthenticator
from gateway.keys.service import (
    KeyEventKind,
    KeyProblem,
    create_key,
    key_events,
    record_uses,
    revoke_key,
    rotate_key,
)
from gateway.models import ApiKey
from shared.db import make_engine, make_sessionmaker
from shared.migrations import downgrade, upgrade
from shared.settings import PROJECT_ROOT
from tests.gateway.helpers import bearer
from tests.support import TestDatabase

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def sessions(gateway_db: TestDatabase) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(gateway_db.url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def _row(sessions: async_sessionmaker[AsyncSession], key_id: str) -> ApiKey:
    async with sessions() as session:
        return (await session.execute(select(ApiKey).where(ApiKey.key_id == key_id))).scalar_one()


def cli(
    database_url: str, *args: str, user: str | None = None, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url, **(extra or {})}
    if user is not None:
        env |= {"USER": user, "LOGNAME": user}
    return subprocess.run(
        [sys.executable, "-m", "gateway.keys", *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# ---- expiry ---------------------------------------------------------------------------------------------------------


async def test_a_key_is_valid_until_its_expiry_and_refused_like_an_unknown_one_after(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        key, record = await create_key(session, "city", expires_at=T0 + timedelta(days=90), now=T0)
    clock = FakeClock(T0)
    # A cache of an hour: the expiry takes effect at its time, not at the next read of the table.
    authenticator = KeyAuthenticator(sessions, cache_seconds=3600, clock=clock)
    assert await authenticator.authenticate(key) == record
    clock.now = T0 + timedelta(days=90) - timedelta(seconds=1)
    assert await authenticator.authenticate(key) == record
    clock.now = T0 + timedelta(days=90)
    assert await authenticator.authenticate(key) is None
    assert await authenticator.authenticate(f"cqk_{'0' * 12}_{'x' * 43}") is None
    await authenticator.close()


async def test_an_expiry_must_lie_ahead(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        with pytest.raises(KeyProblem, match="not in the future"):
            await create_key(session, "city", expires_at=T0, now=T0)


async def test_over_http_an_expired_key_gets_the_answer_an_unknown_key_gets(
    gw: tuple[FastAPI, httpx.AsyncClient], sessions: async_sessionmaker[AsyncSession]
) -> None:
    app, client = gw
    long_ago = datetime.now(UTC) - timedelta(days=30)
    async with sessions() as session, session.begin():
        expired, _ = await create_key(
            session, "city", expires_at=long_ago + timedelta(days=1), now=long_ago, operator="test"
        )
        valid, _ = await create_key(session, "city", expires_at=long_ago + timedelta(days=60), operator="test")
    unknown = f"cqk_{'1' * 12}_{'y' * 43}"
    answers = [await client.get("/api/v1/registry/anything", headers=bearer(k)) for k in (expired, unknown)]
    assert [a.status_code for a in answers] == [401, 401]
    bodies = [{k: v for k, v in a.json().items() if k != "request_id"} for a in answers]
    assert bodies[0] == bodies[1]
    assert {a.headers["content-type"] for a in answers} == {"application/problem+json"}
    ok = await client.get("/api/v1/registry/anything", headers=bearer(valid))
    assert ok.status_code == 200
    await app.state.gateway.authenticator.close()


# ---- rotation -------------------------------------------------------------------------------------------------------


async def test_rotation_keeps_both_keys_valid_for_the_grace_period_and_only_the_new_one_after(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        old_key, old = await create_key(session, "district", "500103", "渝中区 IT", now=T0, operator="alice")
    rotated_at = T0 + timedelta(days=100)
    async with sessions() as session, session.begin():
        new_key, new, old_after = await rotate_key(
            session, old.key_id, timedelta(days=7), operator="bob", now=rotated_at
        )
    assert (new.role, new.district_code, new.label) == (old.role, old.district_code, old.label)
    assert new.key_id != old.key_id and new_key != old_key
    assert new.expires_at is None  # the old key had no expiry: nor has its successor
    assert old_after.expires_at == rotated_at + timedelta(days=7)

    clock = FakeClock(rotated_at)
    authenticator = KeyAuthenticator(sessions, cache_seconds=3600, clock=clock)
    for moment in (rotated_at, rotated_at + timedelta(days=7) - timedelta(seconds=1)):
        clock.now = moment
        assert await authenticator.authenticate(old_key) == old_after
        assert await authenticator.authenticate(new_key) == new
    for moment in (rotated_at + timedelta(days=7), rotated_at + timedelta(days=400)):
        clock.now = moment
        assert await authenticator.authenticate(old_key) is None
        assert await authenticator.authenticate(new_key) == new
    await authenticator.close()

    async with sessions() as session:
        trail = await key_events(session, old.key_id) + await key_events(session, new.key_id)
    assert [(e.key_id, e.event, e.operator, e.related_key_id, e.expires_at) for e in trail] == [
        (old.key_id, KeyEventKind.ISSUED, "alice", None, None),
        (old.key_id, KeyEventKind.ROTATED, "bob", new.key_id, rotated_at + timedelta(days=7)),
        (new.key_id, KeyEventKind.ISSUED, "bob", old.key_id, None),
    ]
    # The server's times, not the `now` given: the rotation's two events share its transaction's.
    issued, rotated, successor_issued = (e.at for e in trail)
    assert T0 < issued <= rotated == successor_issued <= datetime.now(UTC)
    assert {(e.db_role, e.os_user) for e in trail} == {("postgres", getpass.getuser())}


async def test_a_successor_gets_the_old_keys_lifetime_and_a_grace_never_extends_an_expiry(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        _, old = await create_key(session, "auditor", expires_at=T0 + timedelta(days=90), now=T0)
    rotated_at = T0 + timedelta(days=88)
    async with sessions() as session, session.begin():
        _, new, old_after = await rotate_key(session, old.key_id, timedelta(days=7), now=rotated_at)
    assert new.expires_at == rotated_at + timedelta(days=90)
    assert old_after.expires_at == T0 + timedelta(days=90)  # two days left, not seven
    async with sessions() as session, session.begin():
        _, explicit = await create_key(session, "city", now=T0)
        _, successor, _ = await rotate_key(
            session, explicit.key_id, timedelta(0), expires_at=T0 + timedelta(days=30), now=T0
        )
    assert successor.expires_at == T0 + timedelta(days=30)


async def test_what_cannot_be_rotated(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        _, revoked = await create_key(session, "city")
        await revoke_key(session, revoked.key_id, operator="carol")
        _, expired = await create_key(session, "city", expires_at=T0 + timedelta(days=1), now=T0)
        _, once = await create_key(session, "city", now=T0)
        _, successor, _ = await rotate_key(session, once.key_id, timedelta(days=1), now=T0)
    for key_id, grace, later, message in [
        ("nosuchkey000", timedelta(days=1), timedelta(hours=1), "no key with id"),
        (revoked.key_id, timedelta(days=1), timedelta(hours=1), "was revoked"),
        (expired.key_id, timedelta(days=1), timedelta(days=1), "expired at"),
        (once.key_id, timedelta(days=1), timedelta(hours=1), f"already rotated to '{successor.key_id}'"),
        (successor.key_id, timedelta(seconds=-1), timedelta(hours=1), "cannot be negative"),
    ]:
        async with sessions() as session, session.begin():
            with pytest.raises(KeyProblem, match=message):
                await rotate_key(session, key_id, grace, now=T0 + later)
    async with sessions() as session:
        assert [e.event for e in await key_events(session, once.key_id)] == ["issued", "rotated"]


async def test_times_are_the_databases(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Without a `now`, a key's creation, expiry and events take the database's clock (one transaction, one time)."""
    async with sessions() as session, session.begin():
        database_now = (await session.execute(text("SELECT now()"))).scalar_one()
        _, record = await create_key(session, "city", expires_in=timedelta(days=90), operator="ops")
        _, successor, old = await rotate_key(session, record.key_id, timedelta(hours=1))
    assert record.created_at == database_now and record.expires_at == database_now + timedelta(days=90)
    assert successor.created_at == database_now and successor.expires_at == database_now + timedelta(days=90)
    assert old.expires_at == database_now + timedelta(hours=1)
    async with sessions() as session:
        trail = await key_events(session, record.key_id) + await key_events(session, successor.key_id)
    assert [e.at for e in trail] == [database_now] * 3
    async with sessions() as session, session.begin():
        with pytest.raises(KeyProblem, match="not both"):
            await create_key(session, "city", expires_at=T0, expires_in=timedelta(days=1))
        with pytest.raises(KeyProblem, match="not in the future"):
            await create_key(session, "city", expires_in=timedelta(0))


# ---- last use -------------------------------------------------------------------------------------------------------


async def test_the_last_use_is_written_behind_the_requests_at_most_once_an_interval(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        key, record = await create_key(session, "city", now=T0)
    assert (await _row(sessions, record.key_id)).last_used_at is None
    clock = FakeClock(T0 + timedelta(hours=1))
    authenticator = KeyAuthenticator(sessions, cache_seconds=3600, use_record_seconds=3600, clock=clock)
    assert await authenticator.authenticate(key) == record
    await authenticator.close()
    assert (await _row(sessions, record.key_id)).last_used_at == T0 + timedelta(hours=1)
    clock.now = T0 + timedelta(hours=2)
    assert await authenticator.authenticate(key) == record  # within the interval: nothing written
    await authenticator.close()
    assert (await _row(sessions, record.key_id)).last_used_at == T0 + timedelta(hours=1)

    every_use = KeyAuthenticator(sessions, cache_seconds=3600, use_record_seconds=0, clock=clock)
    assert await every_use.authenticate(key) == record
    await every_use.close()
    assert (await _row(sessions, record.key_id)).last_used_at == T0 + timedelta(hours=2)
    # Another gateway's older use does not move it back.
    async with sessions() as session, session.begin():
        await record_uses(session, {record.key_id: T0})
    assert (await _row(sessions, record.key_id)).last_used_at == T0 + timedelta(hours=2)


async def test_a_last_use_that_cannot_be_written_fails_no_request(
    sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    async with sessions() as session, session.begin():
        key, record = await create_key(session, "city", now=T0)
    nowhere = make_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none")  # nothing listens on port 1
    calls = 0

    def first_reads_then_fails() -> AsyncSession:
        nonlocal calls
        calls += 1
        return sessions() if calls == 1 else make_sessionmaker(nowhere)()

    clock = FakeClock(T0 + timedelta(hours=3))
    authenticator = KeyAuthenticator(first_reads_then_fails, cache_seconds=3600, use_record_seconds=0, clock=clock)  # type: ignore[arg-type]
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.authn"):
            assert [await authenticator.authenticate(key) for _ in range(3)] == [record] * 3
            await authenticator.close()
    finally:
        await nowhere.dispose()
    assert any("could not record the last use" in r.getMessage() for r in caplog.records)
    assert (await _row(sessions, record.key_id)).last_used_at is None


async def test_a_gateway_records_the_last_use_of_the_keys_it_lets_through(
    gw: tuple[FastAPI, httpx.AsyncClient], sessions: async_sessionmaker[AsyncSession]
) -> None:
    app, client = gw
    async with sessions() as session, session.begin():
        key, record = await create_key(session, "city")
    before = datetime.now(UTC)
    assert (await client.get("/api/v1/registry/anything", headers=bearer(key))).status_code == 200
    await app.state.gateway.authenticator.close()
    used = (await _row(sessions, record.key_id)).last_used_at
    assert used is not None and before <= used <= datetime.now(UTC)


# ---- the audit table ------------------------------------------------------------------------------------------------


async def test_key_events_are_append_only(gateway_db: TestDatabase, sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        _, record = await create_key(session, "city", operator="dave")
    connection = await asyncpg.connect(gateway_db.url.replace("postgresql+asyncpg", "postgresql"))
    try:
        for statement in (
            f"UPDATE key_events SET operator = 'mallory' WHERE key_id = '{record.key_id}'",
            f"DELETE FROM key_events WHERE key_id = '{record.key_id}'",
            "TRUNCATE key_events",
        ):
            with pytest.raises(asyncpg.RaiseError, match="key_events is append-only"):
                await connection.execute(statement)
    finally:
        await connection.close()
    async with sessions() as session:
        assert [(e.event, e.operator) for e in await key_events(session, record.key_id)] == [("issued", "dave")]


async def test_revocation_is_recorded_with_its_operator(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        key, record = await create_key(session, "city", operator="erin")
        await revoke_key(session, key, operator="frank")  # the whole key pasted: its id is taken
    async with sessions() as session:
        trail = await key_events(session, record.key_id)
    assert [(e.event, e.operator) for e in trail] == [("issued", "erin"), ("revoked", "frank")]


def test_keys_made_before_the_audit_table_get_their_events() -> None:
    database = TestDatabase("gateway_backfill", GATEWAY_DIR)
    database.create()
    try:
        downgrade(GATEWAY_DIR, database.url, "0001", allow_data_loss=True)

        async def at_0001() -> None:
            engine = make_engine(database.url)
            try:
                async with engine.begin() as connection:
                    for key_id, revoked in (("aaaaaaaaaaaa", None), ("bbbbbbbbbbbb", T0 + timedelta(days=1))):
                        await connection.execute(
                            text(
                                "INSERT INTO api_keys (key_id, key_hash, role, label, created_at, revoked_at) "
                                "VALUES (:key_id, :hash, 'city', '', :created, :revoked)"
                            ),
                            {"key_id": key_id, "hash": "0" * 64, "created": T0, "revoked": revoked},
                        )
            finally:
                await engine.dispose()

        async def events_after() -> list[tuple[str, str, datetime, str, str | None]]:
            engine = make_engine(database.url)
            try:
                async with make_sessionmaker(engine)() as session:
                    return [(e.key_id, e.event, e.at, e.db_role, e.os_user) for e in await key_events(session)]
            finally:
                await engine.dispose()

        asyncio.run(at_0001())
        upgrade(GATEWAY_DIR, database.url)
        # Their own times (the server's stamp applies from this revision on), written by the migrating role.
        assert asyncio.run(events_after()) == [
            ("aaaaaaaaaaaa", "issued", T0, "postgres", None),
            ("bbbbbbbbbbbb", "issued", T0, "postgres", None),
            ("bbbbbbbbbbbb", "revoked", T0 + timedelta(days=1), "postgres", None),
        ]
    finally:
        database.drop()


# ---- the CLI, as an operator runs it --------------------------------------------------------------------------------


def test_cli_create_with_expiry_rotate_list_events_revoke(gateway_db: TestDatabase) -> None:
    made = cli(gateway_db.url, "create", "--role", "city", "--label", "财政局", "--expires-in", "90d", "--json",
               "--operator", "alice")  # fmt: skip
    assert made.returncode == 0, made.stderr
    first = json.loads(made.stdout)
    expires = datetime.fromisoformat(first["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=1)
    assert first["last_used_at"] is None

    # A grace longer than a CLI call takes to start (about 2 s here): the second rotation below must find the old key
    # rotated, not expired.
    rotated = cli(gateway_db.url, "rotate", first["key_id"], "--grace", "10s", "--json", user="bob")
    assert rotated.returncode == 0, rotated.stderr
    second = json.loads(rotated.stdout)
    assert second["key"].startswith("cqk_") and second["key"] != first["key"]
    assert (second["role"], second["label"]) == ("city", "财政局")
    assert second["replaces"]["key_id"] == first["key_id"]
    old_ends = datetime.fromisoformat(second["replaces"]["expires_at"])
    assert abs(old_ends - (datetime.now(UTC) + timedelta(seconds=10))) < timedelta(seconds=30)
    # The successor's lifetime is the old key's: 90 days from the rotation.
    assert abs(datetime.fromisoformat(second["expires_at"]) - (datetime.now(UTC) + timedelta(days=90))) < timedelta(
        minutes=1
    )
    again = cli(gateway_db.url, "rotate", first["key_id"])
    assert again.returncode == 2 and "already rotated" in again.stderr

    async def check_both_then_only_the_new() -> None:
        engine = make_engine(gateway_db.url)
        try:
            authenticator = KeyAuthenticator(make_sessionmaker(engine), cache_seconds=0)
            assert await authenticator.authenticate(first["key"]) is not None
            assert await authenticator.authenticate(second["key"]) is not None
            deadline = old_ends - datetime.now(UTC)
            await asyncio.sleep(max(deadline.total_seconds(), 0) + 0.2)
            assert await authenticator.authenticate(first["key"]) is None
            assert await authenticator.authenticate(second["key"]) is not None
            await authenticator.close()
        finally:
            await engine.dispose()

    asyncio.run(check_both_then_only_the_new())

    listed = {row["key_id"]: row for row in json.loads(cli(gateway_db.url, "list", "--json").stdout)}
    assert listed[first["key_id"]]["expires_at"] == second["replaces"]["expires_at"]
    assert listed[first["key_id"]]["last_used_at"] is not None and listed[second["key_id"]]["last_used_at"]
    active = {row["key_id"] for row in json.loads(cli(gateway_db.url, "list", "--active", "--json").stdout)}
    assert second["key_id"] in active and first["key_id"] not in active
    table = cli(gateway_db.url, "list").stdout
    assert "expires_at" in table and "last_used_at" in table and second["key"] not in table

    revoked = cli(gateway_db.url, "revoke", second["key_id"], "--operator", "carol")
    assert revoked.returncode == 0, revoked.stderr
    trail = [json.loads(cli(gateway_db.url, "events", k, "--json").stdout) for k in (first["key_id"], second["key_id"])]
    assert [(e["event"], e["operator"], e["related_key_id"]) for e in trail[0]] == [
        ("issued", "alice", None),
        ("rotated", "bob", second["key_id"]),
    ]
    assert [(e["event"], e["operator"], e["related_key_id"]) for e in trail[1]] == [
        ("issued", "bob", first["key_id"]),
        ("revoked", "carol", None),
    ]
    # `--operator` is what the operator declares; the OS user and the database role are recorded beside it.
    assert [(e["os_user"], e["db_role"]) for e in trail[0] + trail[1]] == [
        (getpass.getuser(), "postgres"),
        ("bob", "postgres"),
        ("bob", "postgres"),
        (getpass.getuser(), "postgres"),
    ]
    every = cli(gateway_db.url, "events")
    assert every.returncode == 0 and first["key_id"] in every.stdout and "rotated" in every.stdout


def test_cli_operator_defaults_to_the_os_user_and_refusals(gateway_db: TestDatabase) -> None:
    made = cli(gateway_db.url, "create", "--role", "auditor", "--json")
    assert made.returncode == 0, made.stderr
    key_id = json.loads(made.stdout)["key_id"]
    events = json.loads(cli(gateway_db.url, "events", key_id, "--json").stdout)
    assert [(e["operator"], e["os_user"], e["db_role"]) for e in events] == [(getpass.getuser(),) * 2 + ("postgres",)]
    for args, message in [
        (("create", "--role", "city", "--expires-in", "90 days"), "is not a duration"),
        (("create", "--role", "city", "--expires-at", "tomorrow"), "is not an ISO 8601 time"),
        (("create", "--role", "city", "--expires-at", "2020-01-01T00:00:00"), "not in the future"),
        (("create", "--role", "city", "--expires-in", "1d", "--expires-at", "2030-01-01"), "not allowed with"),
        (("rotate", "nosuchkey000"), "no key with id"),
    ]:
        result = cli(gateway_db.url, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, result.stderr
    at = cli(gateway_db.url, "create", "--role", "city", "--expires-at", "2030-01-01T08:00:00+08:00", "--json")
    assert json.loads(at.stdout)["expires_at"] == "2030-01-01T00:00:00+00:00"


def test_the_cli_never_migrates_and_refuses_a_database_not_at_its_head() -> None:
    database = TestDatabase("gateway_behind", GATEWAY_DIR)
    database.create()
    try:
        downgrade(GATEWAY_DIR, database.url, "0001", allow_data_loss=True)
        for args in (("list",), ("events",), ("create", "--role", "city"), ("revoke", "aaaaaaaaaaaa")):
            result = cli(database.url, *args)
            assert result.returncode == 2, (args, result.stderr)
            assert "is at revision 0001" in result.stderr and "python -m deploy.migrate gateway" in result.stderr
        empty = cli(database.url.rsplit("/", 1)[0] + "/postgres", "list")  # a database without the gateway's schema
        assert empty.returncode == 2 and "none (empty)" in empty.stderr, empty.stderr

        async def revision() -> str:
            connection = await asyncpg.connect(database.url.replace("postgresql+asyncpg", "postgresql"))
            try:
                return str(await connection.fetchval("SELECT version_num FROM alembic_version"))
            finally:
                await connection.close()

        assert asyncio.run(revision()) == "0001"
    finally:
        database.drop()


# ---- as deployed: an owner role and a runtime role ------------------------------------------------------------------


class Roles:
    """A gateway database owned by one role and used by another, migrated as `python -m deploy.migrate` does."""

    def __init__(self, admin_url: str) -> None:
        prefix = f"kl{uuid.uuid4().hex[:6]}"
        self.owner, self.runtime, self.database = f"{prefix}_owner", prefix, f"{prefix}_gateway"
        self.admin = make_url(admin_url)

    def url(self, role: str, driver: str = "postgresql+asyncpg") -> str:
        return str(self.admin.set(drivername=driver, username=role, password=None, database=self.database))

    def admin_run(self, *statements: str) -> None:
        async def run() -> None:
            connection = await asyncpg.connect(str(self.admin.set(drivername="postgresql")))
            try:
                for statement in statements:
                    await connection.execute(statement)
            finally:
                await connection.close()

        asyncio.run(run())

    @property
    def owner_env(self) -> dict[str, str]:
        return {"GATEWAY_MIGRATION_DATABASE_URL": self.url(self.owner)}


@pytest.fixture(scope="module")
def roles(gateway_db: TestDatabase) -> Iterator[Roles]:
    made = Roles(gateway_db.admin_url)
    made.admin_run(
        f'CREATE ROLE "{made.owner}" LOGIN',
        f'CREATE ROLE "{made.runtime}" LOGIN',
        f'CREATE DATABASE "{made.database}" OWNER "{made.owner}"',
        f'REVOKE ALL ON DATABASE "{made.database}" FROM PUBLIC',
        f'GRANT CONNECT ON DATABASE "{made.database}" TO "{made.runtime}"',
    )
    try:
        migrated = subprocess.run(
            [sys.executable, "-m", "deploy.migrate", "gateway"],
            env={**os.environ, "GATEWAY_DATABASE_URL": made.url(made.runtime), **made.owner_env},
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert migrated.returncode == 0, migrated.stderr
        yield made
    finally:
        made.admin_run(
            f'DROP DATABASE IF EXISTS "{made.database}" WITH (FORCE)',
            f'DROP ROLE IF EXISTS "{made.runtime}"',
            f'DROP ROLE IF EXISTS "{made.owner}"',
        )


async def _refused(url: str, statements: Sequence[str], error: type[Exception], match: str) -> None:
    """Each statement, in its own transaction, fails with `error` matching `match`."""
    connection = await asyncpg.connect(url)
    try:
        for statement in statements:
            with pytest.raises(error, match=match):
                async with connection.transaction():
                    await connection.execute(statement)
    finally:
        await connection.close()


def test_cli_writes_as_the_owner_and_reads_as_the_runtime_role(roles: Roles) -> None:
    runtime_only = cli(roles.url(roles.runtime), "create", "--role", "city")
    assert runtime_only.returncode == 2
    assert f"role {roles.runtime} may not issue" in runtime_only.stderr
    assert "GATEWAY_MIGRATION_DATABASE_URL" in runtime_only.stderr

    made = cli(roles.url(roles.runtime), "create", "--role", "city", "--json", "--operator", "ops",
               extra=roles.owner_env)  # fmt: skip
    assert made.returncode == 0, made.stderr
    key_id = json.loads(made.stdout)["key_id"]
    rotated = cli(roles.url(roles.runtime), "rotate", key_id, "--grace", "1h", "--json", extra=roles.owner_env)
    assert rotated.returncode == 0, rotated.stderr
    revoked = cli(roles.url(roles.runtime), "revoke", json.loads(rotated.stdout)["key_id"], extra=roles.owner_env)
    assert revoked.returncode == 0, revoked.stderr
    for command in ("rotate", "revoke"):
        refused = cli(roles.url(roles.runtime), command, key_id)
        assert refused.returncode == 2 and "may not issue, rotate or revoke" in refused.stderr, refused.stderr
    # Reads need only the runtime URL (the gateway's own container); the events name the role that wrote them.
    events = json.loads(cli(roles.url(roles.runtime), "events", "--json").stdout)
    assert [(e["event"], e["db_role"]) for e in events] == [
        ("issued", roles.owner),
        ("issued", roles.owner),
        ("rotated", roles.owner),
        ("revoked", roles.owner),
    ]
    assert len(json.loads(cli(roles.url(roles.runtime), "list", "--json").stdout)) == 2


def test_the_runtime_role_only_reads_keys_and_notes_their_last_use(roles: Roles) -> None:
    made = cli(roles.url(roles.runtime), "create", "--role", "city", "--json", extra=roles.owner_env)
    assert made.returncode == 0, made.stderr
    key_id = json.loads(made.stdout)["key_id"]
    runtime = roles.url(roles.runtime, "postgresql")
    asyncio.run(
        _refused(
            runtime,
            [
                "INSERT INTO api_keys (key_id, key_hash, role, label, created_at) "
                "VALUES ('mmmmmmmmmmmm', repeat('0', 64), 'city', '', now())",
                f"UPDATE api_keys SET key_hash = repeat('1', 64) WHERE key_id = '{key_id}'",
                f"UPDATE api_keys SET revoked_at = NULL, expires_at = NULL WHERE key_id = '{key_id}'",
                f"DELETE FROM api_keys WHERE key_id = '{key_id}'",
                f"INSERT INTO key_events (key_id, event, operator) VALUES ('{key_id}', 'revoked', 'mallory')",
                "UPDATE key_events SET operator = 'mallory'",
                "DELETE FROM key_events",
                "TRUNCATE key_events",
                "ALTER TABLE key_events DISABLE TRIGGER key_events_append_only",
                "ALTER TABLE api_keys DISABLE TRIGGER api_keys_guard",
            ],
            asyncpg.InsufficientPrivilegeError,
            "permission denied|must be owner",
        )
    )

    async def notes_a_use() -> None:
        connection = await asyncpg.connect(runtime)
        try:
            status = await connection.execute(f"UPDATE api_keys SET last_used_at = now() WHERE key_id = '{key_id}'")
            assert status == "UPDATE 1"
            assert await connection.fetchval("SELECT count(*) FROM key_events") >= 1
        finally:
            await connection.close()

    asyncio.run(notes_a_use())


def test_the_triggers_bind_the_owner_too(roles: Roles) -> None:
    """What the owner's own connection (the keys CLI's) cannot do to a key or its record."""
    made = cli(roles.url(roles.runtime), "create", "--role", "district", "--district", "500103", "--json",
               "--expires-in", "30d", extra=roles.owner_env)  # fmt: skip
    assert made.returncode == 0, made.stderr
    key_id = json.loads(made.stdout)["key_id"]
    revoked_made = cli(roles.url(roles.runtime), "create", "--role", "city", "--json", extra=roles.owner_env)
    revoked_id = json.loads(revoked_made.stdout)["key_id"]
    assert cli(roles.url(roles.runtime), "revoke", revoked_id, extra=roles.owner_env).returncode == 0
    owner = roles.url(roles.owner, "postgresql")
    where = f"WHERE key_id = '{key_id}'"
    identity = [
        f"UPDATE api_keys SET key_id = 'nnnnnnnnnnnn' {where}",
        f"UPDATE api_keys SET key_hash = repeat('1', 64) {where}",
        f"UPDATE api_keys SET role = 'city', district_code = NULL {where}",
        f"UPDATE api_keys SET district_code = '500101' {where}",
        f"UPDATE api_keys SET label = 'someone else' {where}",
        f"UPDATE api_keys SET created_at = created_at - interval '1 day' {where}",
        f"UPDATE api_keys SET id = id + 1000 {where}",
    ]
    asyncio.run(_refused(owner, identity, asyncpg.RaiseError, "never change"))
    asyncio.run(
        _refused(
            owner,
            [
                f"UPDATE api_keys SET expires_at = expires_at + interval '1 second' {where}",
                f"UPDATE api_keys SET expires_at = NULL {where}",
            ],
            asyncpg.RaiseError,
            "never extended or cleared",
        )
    )
    asyncio.run(
        _refused(
            owner,
            [
                f"UPDATE api_keys SET revoked_at = NULL WHERE key_id = '{revoked_id}'",
                f"UPDATE api_keys SET revoked_at = revoked_at + interval '1 day' WHERE key_id = '{revoked_id}'",
            ],
            asyncpg.RaiseError,
            "a revocation is final",
        )
    )
    # A key without its issued event in the same transaction is refused at commit.
    asyncio.run(
        _refused(
            owner,
            [
                "INSERT INTO api_keys (key_id, key_hash, role, label, created_at) "
                "VALUES ('oooooooooooo', repeat('0', 64), 'city', '', now())"
            ],
            asyncpg.RaiseError,
            "issued with its issued event",
        )
    )

    async def what_the_owner_may_do() -> None:
        connection = await asyncpg.connect(owner)
        try:
            # Bring an expiry forward, revoke, note a use: allowed.
            await connection.execute(f"UPDATE api_keys SET expires_at = expires_at - interval '1 day' {where}")
            await connection.execute(f"UPDATE api_keys SET last_used_at = now(), revoked_at = now() {where}")
            # A key with its issued event in one transaction; the event's time and role are the server's.
            async with connection.transaction():
                await connection.execute(
                    "INSERT INTO api_keys (key_id, key_hash, role, label, created_at) "
                    "VALUES ('pppppppppppp', repeat('0', 64), 'city', '', now())"
                )
                await connection.execute(
                    "INSERT INTO key_events (key_id, event, operator, at, db_role) "
                    "VALUES ('pppppppppppp', 'issued', 'ops', '2000-01-01T00:00:00Z', 'someone')"
                )
                now = await connection.fetchval("SELECT now()")
            stamped = await connection.fetchrow("SELECT at, db_role FROM key_events WHERE key_id = 'pppppppppppp'")
            assert (stamped["at"], stamped["db_role"]) == (now, roles.owner)
        finally:
            await connection.close()

    asyncio.run(what_the_owner_may_do())
