"""Running key operations outside the gateway process (the CLI and the local launcher)."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from deploy.migrate import runtime_role
from gateway import GATEWAY_DIR
from gateway.settings import GatewaySettings
from shared.db import make_engine, make_sessionmaker
from shared.migrations import upgrade

T = TypeVar("T")


def _in_one_transaction(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = make_engine(database_url)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def run_in_session(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Migrate the gateway's database to head, then run `work` in one committed transaction (one role)."""
    upgrade(GATEWAY_DIR, database_url)
    return _in_one_transaction(database_url, work)


def run_as_configured(settings: GatewaySettings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """What `python -m deploy.migrate gateway` does (as the owner role, granting the runtime role its privileges),
    then `work` in one committed transaction as the runtime role, the one the gateway itself connects as."""
    upgrade(GATEWAY_DIR, settings.migration_database_url, runtime_role=runtime_role(settings))
    return _in_one_transaction(settings.database_url, work)
