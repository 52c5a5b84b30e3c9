"""Alembic, one environment per service: the shared body of each service's env.py and a programmatic upgrade."""

import asyncio
from collections.abc import Callable
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.settings import ServiceSettings


def alembic_config(service_dir: Path, database_url: str) -> Config:
    config = Config(str(service_dir / "alembic.ini"))
    config.set_main_option("script_location", str(service_dir / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def upgrade(service_dir: Path, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service_dir, database_url), revision)


def run_env(target_metadata: MetaData, settings: Callable[[], ServiceSettings] | None = None) -> None:
    """The body of a service's migrations/env.py.

    The URL is the one `alembic_config` set, or, when alembic is run from the command line, the service's own
    setting (`settings().database_url`).
    """
    url = context.config.get_main_option("sqlalchemy.url") or (settings().database_url if settings else None)
    if not url:
        raise RuntimeError("No database URL: set the service's <SERVICE>_DATABASE_URL")

    def configure(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    async def run_online() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(configure)
        await engine.dispose()

    asyncio.run(run_online())
