"""Alembic, one environment per service: the shared body of each service's env.py, a programmatic upgrade and
downgrade, the lock that lets any number of replicas migrate at once, and the guard of destructive downgrades."""

import asyncio
import os
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.privileges import grant_runtime_privileges
from shared.queue_tables import is_queue_object
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


# The migration locks' own key space: pg_advisory_lock(int4, int4) with this first key, which no other lock of the
# project uses (eligibility's award locks take the one-bigint form), and the component's crc as the second.
MIGRATION_LOCK_CLASS = 0x13C0DE
# How long a replica waits for another's migration (then fails, naming the holder; the next start retries), and
# how long a migration's DDL waits for a table lock before failing, rather than queueing every query behind it.
LOCK_WAIT_ENV, LOCK_WAIT_DEFAULT = "MIGRATION_LOCK_WAIT_SECONDS", 600.0
DDL_LOCK_TIMEOUT_ENV, DDL_LOCK_TIMEOUT_DEFAULT = "MIGRATION_DDL_LOCK_TIMEOUT_SECONDS", 10.0
_LOCK_POLL_SECONDS = 0.5


class MigrationLockTimeout(RuntimeError):
    """Another migration of the component held the lock longer than MIGRATION_LOCK_WAIT_SECONDS."""


def migration_lock_key(script_location: str) -> tuple[int, int]:
    """The advisory lock of one component's migrations, (MIGRATION_LOCK_CLASS, a number from its directory's name:
    registry, gateway, …), the same in every replica and every release; both int4 as PostgreSQL takes them."""
    name = Path(script_location).parent.name
    crc = zlib.crc32(f"cq-producer-services:migrations:{name}".encode())
    return MIGRATION_LOCK_CLASS, crc - (1 << 32) if crc >= 1 << 31 else crc


def _seconds(variable: str, default: float) -> float:
    value = os.environ.get(variable, "")
    try:
        seconds = float(value) if value else default
    except ValueError:
        raise RuntimeError(f"{variable} must be a number of seconds, not {value!r}") from None
    if seconds <= 0:
        raise RuntimeError(f"{variable} must be positive, not {value!r}")
    return seconds


_TRY_LOCK = text("SELECT pg_try_advisory_lock(:classid, :objid)")
_UNLOCK = text("SELECT pg_advisory_unlock(:classid, :objid)")
_HOLDER = text(
    "SELECT a.pid, a.usename, a.client_addr::text AS client_addr, a.backend_start FROM pg_locks l "
    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :classid "
    "AND l.objid = CAST(CAST(:objid AS int4) AS oid) AND l.objsubid = 2 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def _acquire(connection: Connection, component: str, key: tuple[int, int], wait: float) -> None:
    """Take the component's lock, waiting at most `wait` seconds for the replica holding it: polled, not queued in
    pg_advisory_lock, so that the wait has a bound."""
    keys = {"classid": key[0], "objid": key[1]}
    if connection.execute(_TRY_LOCK, keys).scalar_one():
        return
    print(f"migrations: waiting for another migration of {component} to finish", file=sys.stderr, flush=True)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        connection.commit()  # no transaction (and no snapshot) held open while waiting
        time.sleep(_LOCK_POLL_SECONDS)
        if connection.execute(_TRY_LOCK, keys).scalar_one():
            return
    holder = connection.execute(_HOLDER, keys).mappings().first()
    who = (
        f"backend pid {holder['pid']} (role {holder['usename']}, from {holder['client_addr'] or 'local'}, "
        f"connected {holder['backend_start']})"
        if holder
        else "a session that has just let go"
    )
    raise MigrationLockTimeout(
        f"migrations of {component}: the migration lock was held for more than {wait:g} s ({LOCK_WAIT_ENV}) by {who}:"
        " a migration is running or stuck there (see pg_locks, locktype advisory). This start fails; the next retries"
    )


def _not_the_queues(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's comparison skips procrastinate's tables (shared/queue.py): its schema is created whole by a
    migration, not described by any service's metadata."""
    return not (type_ == "table" and is_queue_object(name))


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
    lock_wait = _seconds(LOCK_WAIT_ENV, LOCK_WAIT_DEFAULT)
    ddl_lock_timeout = _seconds(DDL_LOCK_TIMEOUT_ENV, DDL_LOCK_TIMEOUT_DEFAULT)

    def configure(connection: Connection) -> None:
        # Session-level, so it outlives the transactions below; committed at once, since alembic would not commit a
        # transaction it did not begin. A replica that has to wait says so: a long wait is a migration running (or
        # stuck) elsewhere, and past the bound this start fails rather than hang.
        _acquire(connection, component, lock, lock_wait)
        connection.execute(text(f"SET lock_timeout = {int(ddl_lock_timeout * 1000)}"))
        connection.commit()
        failed = True
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                compare_type=True,
                include_name=_not_the_queues,
            )
            with context.begin_transaction():
                context.run_migrations()
                if runtime_role:
                    grant_runtime_privileges(connection, component, runtime_role)
            failed = False
        finally:
            # The lock goes with the session anyway: a failing unlock (a broken connection) must not hide the
            # migration's own error.
            try:
                if failed and connection.in_transaction():
                    connection.rollback()
                connection.execute(_UNLOCK, {"classid": lock[0], "objid": lock[1]})
                connection.commit()
            except Exception as error:  # reported, never raised over the migration's own outcome
                print(f"migrations: could not release the lock of {component}: {error}", file=sys.stderr, flush=True)

    async def run_online() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(configure)
        await engine.dispose()

    asyncio.run(run_online())
