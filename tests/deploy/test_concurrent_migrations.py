"""Migrations once: replicas that start together each run `python -m deploy.migrate`, and all of them succeed.

Three processes are held at the component's migration lock (the test holds it first, so that all three are surely
there at once), then let go together: each exits 0, and the database is at head with one version row.
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


async def _waiting_for(connection: asyncpg.Connection, key: int) -> int:
    value = await connection.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted", key
    )
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
        await holder.execute("SELECT pg_advisory_lock($1)", key)
        env = {**os.environ, f"{component.upper()}_DATABASE_URL": database.url}
        pipe = asyncio.subprocess.PIPE
        for _ in range(REPLICAS):
            command = (sys.executable, "-m", "deploy.migrate", component)
            processes.append(
                await asyncio.create_subprocess_exec(*command, cwd=PROJECT_ROOT, env=env, stdout=pipe, stderr=pipe)
            )
        deadline = time.monotonic() + 60
        while await _waiting_for(holder, key) < REPLICAS:
            assert all(process.returncode is None for process in processes), "a replica ended before the lock was free"
            assert time.monotonic() < deadline, "the replicas never all waited for the migration lock"
            await asyncio.sleep(0.1)
        await holder.execute("SELECT pg_advisory_unlock($1)", key)
        results = await asyncio.wait_for(asyncio.gather(*(process.communicate() for process in processes)), 120)
        for process, (_, stderr) in zip(processes, results, strict=True):
            assert process.returncode == 0, stderr.decode()
            assert f"{component}: migrated to head" in stderr.decode()
            assert f"waiting for another migration of {component} to finish" in stderr.decode()
        versions = await holder.fetch("SELECT version_num FROM alembic_version")
        assert [row["version_num"] for row in versions] == [head]
        assert await _waiting_for(holder, key) == 0
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await holder.close()
        await asyncio.to_thread(database.drop)
