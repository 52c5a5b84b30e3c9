"""Alembic, one environment per service: the shared body of each service's env.py, a programmatic upgrade and
downgrade, the lock that lets any number of replicas migrate at once, and the guard of destructive downgrades."""

import asyncio
import os
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.privileges import grant_runtime_privileges
from shared.settings import ServiceSettings

# The operator's consent to a downgrade that destroys data: `ALLOW_DATA_LOSS=1`, alembic's `-x allow-data-loss=true`
# or `downgrade(..., allow_data_loss=True)` (`python -m deploy.migrate NAME --downgrade REV --allow-data-loss`).
ALLOW_DATA_LOSS_ENV = "ALLOW_DATA_LOSS"
_ALLOW_DATA_LOSS_ATTRIBUTE = "allow_data_loss"
_RUNTIME_ROLE_ATTRIBUTE = "runtime_role"


class DataLossRefused(RuntimeError):
    """A downgrade that would destroy data, run without the operator's explicit consent."""


def alembic_config(
    service_dir: Path, database_url: str, *, allow_data_loss: bool = False, runtime_role: str | None = None
) -> Config:
    """`runtime_role`: the role the app connects as, granted its privileges after every upgrade (shared.privileges);
    None when the app connects as the owner (one role, development)."""
    config = Config(str(service_dir / "alembic.ini"))
    config.set_main_option("script_location", str(service_dir / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    config.attributes[_ALLOW_DATA_LOSS_ATTRIBUTE] = allow_data_loss
    config.attributes[_RUNTIME_ROLE_ATTRIBUTE] = runtime_role
    return config


def upgrade(service_dir: Path, database_url: str, revision: str = "head", *, runtime_role: str | None = None) -> None:
    command.upgrade(alembic_config(service_dir, database_url, runtime_role=runtime_role), revision)


def downgrade(service_dir: Path, database_url: str, revision: str, *, allow_data_loss: bool = False) -> None:
    command.downgrade(alembic_config(service_dir, database_url, allow_data_loss=allow_data_loss), revision)


def data_loss_allowed() -> bool:
    """Whether the running migration may destroy data (see ALLOW_DATA_LOSS_ENV)."""
    if context.config.attributes.get(_ALLOW_DATA_LOSS_ATTRIBUTE):
        return True
    if os.environ.get(ALLOW_DATA_LOSS_ENV) == "1":
        return True
    given = context.get_x_argument(as_dictionary=True).get("allow-data-loss", "")
    return given.lower() in {"1", "true", "yes"}


def refuse_data_loss(what: str) -> None:
    """First call of every downgrade that drops a table or a column holding data: refuses unless the operator
    consented. `what` says, in a sentence, what would be destroyed."""
    if not data_loss_allowed():
        raise DataLossRefused(
            f"refusing a destructive downgrade: it {what}. Take a backup first (docs/operations.md), then run it "
            f"with --allow-data-loss (python -m deploy.migrate), -x allow-data-loss=true (alembic) or "
            f"{ALLOW_DATA_LOSS_ENV}=1"
        )


def migration_lock_key(script_location: str) -> int:
    """The advisory lock of one component's migrations: a number from its directory's name (registry, gateway, …),
    the same in every replica and every release."""
    name = Path(script_location).parent.name
    return zlib.crc32(f"cq-producer-services:migrations:{name}".encode())


def run_env(target_metadata: MetaData, settings: Callable[[], ServiceSettings] | None = None) -> None:
    """The body of a service's migrations/env.py.

    The URL is the one `alembic_config` set, or, when alembic is run from the command line, the service's own
    setting (`settings().migration_database_url`: the owner role). Online, the whole run holds a session advisory
    lock of the component: replicas that start at once migrate one after the other, and the later ones find the
    database at head already. The runtime role's privileges are granted in the same transaction as the upgrade.
    """
    url = context.config.get_main_option("sqlalchemy.url") or (settings().migration_database_url if settings else None)
    if not url:
        raise RuntimeError("No database URL: set the service's <SERVICE>_MIGRATION_DATABASE_URL or _DATABASE_URL")

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    runtime_role = context.config.attributes.get(_RUNTIME_ROLE_ATTRIBUTE)
    script_location = context.config.get_main_option("script_location") or ""
    component, lock = Path(script_location).parent.name, migration_lock_key(script_location)

    def configure(connection: Connection) -> None:
        # Session-level, so it outlives the transactions below; committed at once, since alembic would not commit a
        # transaction it did not begin. A replica that has to wait says so: a long wait is a migration running (or
        # stuck) elsewhere.
        if not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": lock}).scalar_one():
            print(f"migrations: waiting for another migration of {component} to finish", file=sys.stderr, flush=True)
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": lock})
        connection.commit()
        try:
            context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
            with context.begin_transaction():
                context.run_migrations()
                if runtime_role:
                    grant_runtime_privileges(connection, runtime_role)
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": lock})
            connection.commit()

    async def run_online() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(configure)
        await engine.dispose()

    asyncio.run(run_online())
