"""API keys: the operator's CLI, hashes only, constant-time verification, revocation."""

import asyncio
import hashlib
import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.authn import KeyAuthenticator
from gateway.keys.service import KeyProblem, check_role, create_key, find_key, matches, revoke_key, split_key
from gateway.models import ApiKey
from shared.auth import Role
from shared.db import make_engine, make_sessionmaker
from shared.errors import DatabaseUnavailable
from shared.settings import PROJECT_ROOT
from tests.support import TestDatabase


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "gateway.keys", *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_create_list_revoke(gateway_db: TestDatabase) -> None:
    made = cli(gateway_db.url, "create", "--role", "district", "--district", "500103", "--label", "渝中区 IT")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("cqk_") and len(key) > 50
    assert "not shown again" in made.stderr
    key_id = split_key(key)
    assert key_id is not None

    listed = cli(gateway_db.url, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert key not in listed.stdout and key.split("_", 2)[2] not in listed.stdout
    row = next(item for item in json.loads(listed.stdout) if item["key_id"] == key_id)
    assert row["role"] == "district" and row["district_code"] == "500103" and row["label"] == "渝中区 IT"
    assert row["revoked_at"] is None
    table = cli(gateway_db.url, "list")
    assert key_id in table.stdout and key not in table.stdout

    revoked = cli(gateway_db.url, "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    again = cli(gateway_db.url, "revoke", key_id)
    assert again.returncode == 2 and "already revoked" in again.stderr
    active = json.loads(cli(gateway_db.url, "list", "--json", "--active").stdout)
    assert key_id not in {item["key_id"] for item in active}


def test_cli_create_json_and_refusals(gateway_db: TestDatabase) -> None:
    made = cli(gateway_db.url, "create", "--role", "city", "--json")
    assert made.returncode == 0, made.stderr
    body = json.loads(made.stdout)
    assert body["role"] == "city" and body["district_code"] is None and body["key"].startswith("cqk_")

    for args, message in [
        (("create", "--role", "district"), "needs --district"),
        (("create", "--role", "district", "--district", "500199"), "not one of Chongqing"),
        (("create", "--role", "auditor", "--district", "500103"), "leave --district out"),
        (("revoke", "nosuchkeyid0"), "no key with id"),
    ]:
        result = cli(gateway_db.url, *args)
        assert result.returncode == 2, args
        assert message in result.stderr, result.stderr
    bad_role = cli(gateway_db.url, "create", "--role", "service")
    assert bad_role.returncode == 2 and "invalid choice" in bad_role.stderr


@pytest.mark.parametrize(
    ("role", "district", "message"),
    [("service", None, "not 'service'"), ("anonymous", None, "not 'anonymous'"), ("mayor", None, "unknown role")],
)
def test_only_caller_roles_get_keys(role: str, district: str | None, message: str) -> None:
    with pytest.raises(KeyProblem, match=message):
        check_role(role, district)


async def test_only_the_hash_is_stored_and_verification_is_exact(gateway_db: TestDatabase) -> None:
    engine = make_engine(gateway_db.url)
    try:
        sessionmaker = make_sessionmaker(engine)
        async with sessionmaker() as session, session.begin():
            key, record = await create_key(session, "auditor", label="audit office")
        async with sessionmaker() as session:
            row = (await session.execute(select(ApiKey).where(ApiKey.key_id == record.key_id))).scalar_one()
            stored = await find_key(session, record.key_id)
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        secret_part = key.split("_", 2)[2]
        assert all(secret_part not in str(value) for value in (row.key_id, row.key_hash, row.label, row.role))
        assert stored is not None and matches(key, stored)
        assert not matches(key + "x", stored)
        assert stored.record.principal.role is Role.AUDITOR

        authenticator = KeyAuthenticator(sessionmaker, cache_seconds=0)
        assert (await authenticator.authenticate(key)) == record
        assert await authenticator.authenticate(key[:-2]) is None
        assert await authenticator.authenticate("cqk_" + record.key_id + "_" + "x" * 43) is None
        assert await authenticator.authenticate("") is None
    finally:
        await engine.dispose()


async def test_the_cache_keeps_a_revocation_out_for_at_most_its_ttl(gateway_db: TestDatabase) -> None:
    engine = make_engine(gateway_db.url)
    try:
        sessionmaker = make_sessionmaker(engine)
        async with sessionmaker() as session, session.begin():
            key, record = await create_key(session, "city")
        cached = KeyAuthenticator(sessionmaker, cache_seconds=3600)
        uncached = KeyAuthenticator(sessionmaker, cache_seconds=0)
        assert await cached.authenticate(key) == record
        async with sessionmaker() as session, session.begin():
            row = (await session.execute(select(ApiKey).where(ApiKey.key_id == record.key_id))).scalar_one()
            row.revoked_at = row.created_at
        assert await uncached.authenticate(key) is None
        assert await cached.authenticate(key) == record  # still inside its cache time
        cached.forget()
        assert await cached.authenticate(key) is None
    finally:
        await engine.dispose()


async def test_unknown_ids_are_answered_from_the_table_in_memory(gateway_db: TestDatabase) -> None:
    """The time of a lookup must not tell which ids exist: an unknown id goes to the database no more than a known
    one does (once per cache time, for the whole table), and both compare one digest."""
    engine = make_engine(gateway_db.url)
    try:
        sessionmaker = make_sessionmaker(engine)
        async with sessionmaker() as session, session.begin():
            key, record = await create_key(session, "city")
        reads = 0

        def counting() -> AsyncSession:
            nonlocal reads
            reads += 1
            return sessionmaker()

        authenticator = KeyAuthenticator(counting, cache_seconds=3600)  # type: ignore[arg-type]
        for n in range(200):
            unknown = f"cqk_{n:012d}_{'y' * 43}"
            assert await authenticator.authenticate(unknown) is None
        assert await authenticator.authenticate(key) == record
        assert reads == 1
    finally:
        await engine.dispose()


async def test_a_revocation_reaches_the_table_within_its_cache_time(gateway_db: TestDatabase) -> None:
    engine = make_engine(gateway_db.url)
    try:
        sessionmaker = make_sessionmaker(engine)
        async with sessionmaker() as session, session.begin():
            key, record = await create_key(session, "district", "500103")
        authenticator = KeyAuthenticator(sessionmaker, cache_seconds=0.5)
        assert await authenticator.authenticate(key) == record
        async with sessionmaker() as session, session.begin():
            await revoke_key(session, record.key_id)
        await asyncio.sleep(0.6)
        assert await authenticator.authenticate(key) is None
        # A key made after the table was read works once it is read again.
        async with sessionmaker() as session, session.begin():
            later, later_record = await create_key(session, "auditor")
        await asyncio.sleep(0.6)
        assert await authenticator.authenticate(later) == later_record
    finally:
        await engine.dispose()


async def test_an_unreachable_database_is_asked_once_and_the_waiting_callers_told_at_once() -> None:
    """With the key table unreadable, the next read waits a second: 20 callers at once cost one attempt, each gets
    the 503 problem (not a queue behind a database that is not there)."""
    engine = make_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none")  # nothing listens on port 1
    try:
        sessionmaker = make_sessionmaker(engine)
        attempts = 0

        def counting() -> AsyncSession:
            nonlocal attempts
            attempts += 1
            return sessionmaker()

        authenticator = KeyAuthenticator(counting, cache_seconds=5)  # type: ignore[arg-type]
        outcomes = await asyncio.gather(
            *(authenticator.authenticate(f"cqk_{n:012d}_{'z' * 43}") for n in range(20)), return_exceptions=True
        )
        assert all(isinstance(outcome, DatabaseUnavailable) for outcome in outcomes), outcomes
        assert attempts == 1
    finally:
        await engine.dispose()
