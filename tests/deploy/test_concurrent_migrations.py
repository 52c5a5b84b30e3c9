"""Migrations once: replicas that start together each run `python -m deploy.migrate`, and all of them succeed.

Three processes are held at the component's migration lock (the test holds it first, so that all three are surely
there at once), then let go together: each exits 0, and the database is at head with one version row. The waits
are bounded: a lock held too long, or a table lock the DDL cannot get, fails the start with a clear error.
"""

import asyncio
import os
import sys
import time

import asyncpg
import pytest
from alembic.script import ScriptDirectory

from deploy.migrate import COMPONENTS, component_dir
from shared.migrations import alembic_config, migration_lock_key
from shared.settings import PROJECT_ROOT
from tests.support import TestDatabase

pytestmark = pytest.mark.e2e

REPLICAS = 3


async def _said_it_waits(process: asyncio.subprocess.Process, component: str) -> bytes:
    """Read the replica's stderr up to its line saying it waits for the lock (what it printed so far)."""
    assert process.stderr is not None
    said = b""
    while b"waiting for another migration of " + component.encode() not in said:
        line = await process.stderr.readline()
        assert line, f"the replica ended before it waited for the lock: {said.decode()}"
        said += line
    return said


async def _holders(connection: asyncpg.Connection, key: tuple[int, int]) -> int:
    """Sessions holding the migration lock (two-int form: objsubid 2; the second key as an unsigned oid)."""
    value = await connection.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 2",
        key[0], key[1] & 0xFFFFFFFF,
    )  # fmt: skip
    return int(value)


@pytest.mark.parametrize("component", COMPONENTS)
async def test_three_replicas_migrating_at_once_all_succeed(component):
    database = TestDatabase(f"{component}_concurrent", component_dir(component))
    await asyncio.to_thread(database._admin_execute, f'CREATE DATABASE "{database.name}"')
    config = alembic_config(component_dir(component), database.url)
    key = migration_lock_key(config.get_main_option("script_location") or "")
    head = ScriptDirectory.from_config(config).get_current_head()
    holder = await asyncpg.connect(database.url.replace("postgresql+asyncpg", "postgresql"))
    processes: list[asyncio.subprocess.Process] = []
    try:
        assert await holder.fetchval("SELECT pg_try_advisory_lock($1, $2)", *key)
        env = {**os.environ, f"{component.upper()}_DATABASE_URL": database.url}
        pipe = asyncio.subprocess.PIPE
        for _ in range(REPLICAS):
            command = (sys.executable, "-m", "deploy.migrate", component)
            processes.append(
                await asyncio.create_subprocess_exec(*command, cwd=PROJECT_ROOT, env=env, stdout=pipe, stderr=pipe)
            )
        said = await asyncio.wait_for(asyncio.gather(*(_said_it_waits(p, component) for p in processes)), 60)
        assert all(process.returncode is None for process in processes), "a replica ended before the lock was free"
        # The lock is the component's own: the one-bigint form of the same number is another lock.
        assert await holder.fetchval("SELECT pg_try_advisory_xact_lock($1::bigint)", key[1])
        await holder.execute("SELECT pg_advisory_unlock($1, $2)", *key)
        results = await asyncio.wait_for(asyncio.gather(*(process.communicate() for process in processes)), 120)
        for process, before, (_, stderr) in zip(processes, said, results, strict=True):
            assert process.returncode == 0, (before + stderr).decode()
            assert f"{component}: migrated to head" in stderr.decode()
        versions = await holder.fetch("SELECT version_num FROM alembic_version")
        assert [row["version_num"] for row in versions] == [head]
        assert await _holders(holder, key) == 0
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await holder.close()
        await asyncio.to_thread(database.drop)


async def _migrate(component: str, url: str, **extra: str) -> tuple[int, str]:
    env = {**os.environ, f"{component.upper()}_DATABASE_URL": url, **extra}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deploy.migrate", component,
        cwd=PROJECT_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


async def test_a_lock_held_too_long_fails_the_start_naming_the_holder():
    database = TestDatabase("ranking_lock_wait", component_dir("ranking"))
    await asyncio.to_thread(database._admin_execute, f'CREATE DATABASE "{database.name}"')
    key = migration_lock_key(str(component_dir("ranking") / "migrations"))
    holder = await asyncpg.connect(database.url.replace("postgresql+asyncpg", "postgresql"))
    try:
        assert await holder.fetchval("SELECT pg_try_advisory_lock($1, $2)", *key)
        pid = await holder.fetchval("SELECT pg_backend_pid()")
        started = time.monotonic()
        code, stderr = await _migrate("ranking", database.url, MIGRATION_LOCK_WAIT_SECONDS="1")
        assert code == 2, stderr
        assert time.monotonic() - started < 60
        assert "held for more than 1 s (MIGRATION_LOCK_WAIT_SECONDS)" in stderr
        assert f"backend pid {pid}" in stderr and "Traceback" not in stderr
        assert await holder.fetchval("SELECT to_regclass('alembic_version')") is None
    finally:
        await holder.close()
        await asyncio.to_thread(database.drop)


async def test_a_migration_that_cannot_get_a_table_lock_fails_instead_of_queueing_everyone():
    database = TestDatabase("ranking_ddl_lock", component_dir("ranking"))
    await asyncio.to_thread(database._admin_execute, f'CREATE DATABASE "{database.name}"')
    holder = await asyncpg.connect(database.url.replace("postgresql+asyncpg", "postgresql"))
    try:
        assert (await _migrate("ranking", database.url))[0] == 0
        # A long transaction holding a lock the migration needs (here: the version table, which every run reads).
        async with holder.transaction():
            await holder.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
            code, stderr = await _migrate("ranking", database.url, MIGRATION_DDL_LOCK_TIMEOUT_SECONDS="1")
        assert code != 0
        assert "lock timeout" in stderr and "could not release the lock" not in stderr
        # The advisory lock went with the failed run: the next start migrates.
        assert (await _migrate("ranking", database.url))[0] == 0
    finally:
        await holder.close()
        await asyncio.to_thread(database.drop)
