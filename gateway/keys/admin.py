"""Running key operations outside the gateway process (the CLI and the local launcher).

The CLI never changes the schema: an operator's checkout may be newer (or older) than the deployed release, and
upgrading production from it would break the expand/contract order of a rollout. It refuses unless the database
is at its code's head. Key writes run as the owner role (`GATEWAY_MIGRATION_DATABASE_URL`; in development the same
URL as `GATEWAY_DATABASE_URL`): the gateway's runtime role may only read keys and note their last use, so a
compromised gateway cannot mint, re-key or revive one. Reads run as the runtime role.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import GATEWAY_DIR
from gateway.settings import GatewaySettings
from shared.db import make_engine, make_sessionmaker
from shared.migrations import upgrade

T = TypeVar("T")
Check = Callable[[AsyncSession], Awaitable[None]]

MIGRATE_COMMAND = "python -m deploy.migrate gateway"
OWNER_URL_VARIABLE = "GATEWAY_MIGRATION_DATABASE_URL"


class CannotRun(RuntimeError):
    """The database, or the role connected to it, is not one this command may work on; nothing was done."""


def code_head() -> str | None:
    """The newest revision of the gateway's migrations in this checkout."""
    config = Config()
    config.set_main_option("script_location", str(GATEWAY_DIR / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


async def check_at_head(session: AsyncSession) -> None:
    head = code_head()
    current = None
    if (await session.execute(text("SELECT to_regclass('alembic_version')"))).scalar_one() is not None:
        current = (await session.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
    if current != head:
        raise CannotRun(
            f"the gateway's database is at revision {current or 'none (empty)'} and this code expects {head}; the "
            f"keys command never changes the schema: run `{MIGRATE_COMMAND}` (as the owner role) first, or use the "
            f"keys command of the release that is deployed"
        )


async def check_may_write(session: AsyncSession) -> None:
    writable = await session.execute(
        text(
            "SELECT session_user, "
            "has_table_privilege('api_keys', 'INSERT') AND has_table_privilege('key_events', 'INSERT')"
        )
    )
    role, may = writable.one()
    if not may:
        raise CannotRun(
            f"role {role} may not issue, rotate or revoke keys (the gateway's runtime role only reads them): run "
            f"this command with {OWNER_URL_VARIABLE} set to the gateway database's owner role"
        )


def _in_one_transaction(database_url: str, work: Callable[[AsyncSession], Awaitable[T]], *checks: Check) -> T:
    async def run() -> T:
        engine = make_engine(database_url)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                for check in checks:
                    await check(session)
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def run_in_session(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Migrate the gateway's database to head, then run `work` in one committed transaction (one role: the local
    launcher, the tests and the benchmarks, which own their databases)."""
    upgrade(GATEWAY_DIR, database_url)
    return _in_one_transaction(database_url, work)


def run_reading(settings: GatewaySettings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`work` in one transaction as the runtime role, once the database is found at this code's head."""
    return _in_one_transaction(settings.database_url, work, check_at_head)


def run_writing(settings: GatewaySettings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`work` in one committed transaction as the owner role, once the database is found at this code's head."""
    return _in_one_transaction(settings.migration_database_url, work, check_at_head, check_may_write)
