"""Running key operations outside the gateway process (the CLI and the local launcher)."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from gateway import GATEWAY_DIR
from shared.db import make_engine, make_sessionmaker
from shared.migrations import upgrade

T = TypeVar("T")


def run_in_session(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Migrate the gateway's database to head, then run `work` in one committed transaction."""
    upgrade(GATEWAY_DIR, database_url)

    async def run() -> T:
        engine = make_engine(database_url)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())
