"""Backups of one PostgreSQL server holding every component's database: `python -m deploy.backup take …`.

`take` writes one directory per backup under DEST (named by its UTC time), every file mode 0600:
- `base/`: a physical base backup (pg_basebackup, tar format, with the WAL it needs): every database at one and the
  same moment, the consistent point a whole-server restore starts from; with WAL archiving on (docs/operations.md)
  it is the start of a point-in-time recovery.
- `<database>.dump`: a logical dump of each database (pg_dump custom format), for restoring one database alone,
  into an empty database or over an existing one (`restore-db --clean`). Each dump is consistent in itself; only the
  base backup is consistent across databases.
- `MANIFEST.json`: when, from which server, and the SHA-256 and size of every file; `verify` checks them.
Then older backups beyond the retention (`--keep` newest, and any younger than `--keep-days`) are removed.

`restore-base BACKUP --data-dir DIR` unpacks the base backup into an empty data directory (optionally set up for
point-in-time recovery from a WAL archive); `restore-db BACKUP DATABASE` restores one dump with pg_restore.

The server is `--url` (or BACKUP_DATABASE_URL): a superuser or a role with REPLICATION and read access to every
database; its password, if any, reaches the PostgreSQL programs through the environment, never their command line.
"""

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

MANIFEST = "MANIFEST.json"
MANIFEST_FORMAT = 1
BASE_DIR = "base"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
# A take in progress (or one that failed): renamed to its final name once its manifest is written. `prune` removes
# those older than this.
PARTIAL_SUFFIX = ".partial"
STALE_PARTIAL = timedelta(days=1)
# libpq's URL query parameters and the environment variables the PostgreSQL programs read them from.
LIBPQ_PARAMETERS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "sslcompression": "PGSSLCOMPRESSION",
    "sslsni": "PGSSLSNI",
    "sslnegotiation": "PGSSLNEGOTIATION",
    "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
    "channel_binding": "PGCHANNELBINDING",
    "gssencmode": "PGGSSENCMODE",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "options": "PGOPTIONS",
}
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# Files and directories of a backup: the owner's alone (they hold every row and the roles' password hashes).
PRIVATE_UMASK = 0o077


class BackupError(RuntimeError):
    """A step of a backup or restore failed, or a backup does not match its manifest."""


@dataclass(frozen=True)
class Server:
    url: str
    bin_dir: Path | None = None

    def program(self, name: str) -> str:
        if self.bin_dir is not None:
            return str(self.bin_dir / name)
        found = shutil.which(name)
        if found is None:
            raise BackupError(
                f"{name} not found: install the PostgreSQL client of the server's version or give --bin-dir"
            )
        return found

    def environment(self) -> dict[str, str]:
        """libpq's variables for the programs: the password out of every command line, and the URL's query
        parameters (sslmode, sslrootcert, …) as their variables, so TLS settings reach every program."""
        url = make_url(self.url)
        env = {**os.environ, "PGHOST": url.host or "127.0.0.1", "PGPORT": str(url.port or 5432)}
        env["PGUSER"] = url.username or "postgres"
        if url.password is not None:
            env["PGPASSWORD"] = str(url.password)
        for parameter, value in url.query.items():
            if parameter not in LIBPQ_PARAMETERS:
                raise BackupError(
                    f"--url: unknown parameter {parameter} (known: {', '.join(sorted(LIBPQ_PARAMETERS))})"
                )
            if not isinstance(value, str):
                raise BackupError(f"--url: {parameter} given more than once")
            env[LIBPQ_PARAMETERS[parameter]] = value
        return env

    def run(self, name: str, *arguments: str) -> None:
        result = subprocess.run(  # noqa: S603 (a PostgreSQL program, its arguments a list, no shell)
            [self.program(name), *arguments],
            env=self.environment(),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BackupError(f"{name} failed ({result.returncode}): {result.stderr.strip()}")

    async def describe(self) -> tuple[str, list[str]]:
        """The server's version and its databases (templates aside)."""
        url = make_url(self.url)
        # asyncpg reads the same PGSSLMODE, PGSSLROOTCERT, … as the programs.
        tls = {name: value for name, value in self.environment().items() if name in LIBPQ_PARAMETERS.values()}
        saved = {name: os.environ.get(name) for name in tls}
        os.environ.update(tls)
        try:
            connection = await asyncpg.connect(
                host=url.host or "127.0.0.1",
                port=url.port or 5432,
                user=url.username or "postgres",
                password=url.password,
                database=url.database or "postgres",
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as failed:
            raise BackupError(f"cannot connect to {url.render_as_string(hide_password=True)}: {failed}") from None
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        try:
            version = await connection.fetchval("SHOW server_version")
            rows = await connection.fetch(
                "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname"
            )
        finally:
            await connection.close()
        return str(version), [row["datname"] for row in rows]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _files(backup: Path) -> list[Path]:
    return sorted(path for path in backup.rglob("*") if path.is_file() and path.name != MANIFEST)


def _new_backup_dir(destination: Path, taken_at: datetime) -> tuple[Path, Path]:
    """A fresh `<time>.partial/` (made here, so no other take has it) and the name it gets once complete: two
    takes in the same second get `<time>`, `<time>-2`, …"""
    stamp = taken_at.strftime(STAMP_FORMAT)
    for attempt in range(1, 1000):
        name = stamp if attempt == 1 else f"{stamp}-{attempt}"
        final, partial = destination / name, destination / f"{name}{PARTIAL_SUFFIX}"
        if final.exists():
            continue
        try:
            partial.mkdir()
        except FileExistsError:
            continue
        return partial, final
    raise BackupError(f"{destination}: too many backups named {stamp}")


def take(server: Server, destination: Path, *, databases: list[str] | None = None, now: datetime | None = None) -> Path:
    """Take one backup under `destination`; return its directory. It is written as `<time>.partial/` and renamed
    when complete, so a failed take never looks like a backup (it is removed; `prune` removes any left over)."""
    taken_at = (now or datetime.now(UTC)).astimezone(UTC)
    version, present = asyncio.run(server.describe())
    chosen = present if databases is None else databases
    missing = sorted(set(chosen) - set(present))
    if missing:
        raise BackupError(f"no such database on the server: {', '.join(missing)}")
    previous = os.umask(PRIVATE_UMASK)
    try:
        destination.mkdir(parents=True, exist_ok=True)
        partial, backup = _new_backup_dir(destination, taken_at)
        try:
            # -X stream: the WAL written during the copy comes along, so the base backup restores on its own.
            label = f"deploy.backup {backup.name}"
            server.run("pg_basebackup", "-D", str(partial / BASE_DIR), "-Ft", "-X", "stream", "-c", "fast", "-l", label)
            for name in chosen:
                server.run("pg_dump", "--format=custom", f"--file={partial / f'{name}.dump'}", f"--dbname={name}")
            manifest: dict[str, Any] = {
                "format": MANIFEST_FORMAT,
                "taken_at": taken_at.isoformat(),
                "server_version": version,
                "databases": chosen,
                "files": {
                    str(path.relative_to(partial)): {"sha256": _sha256(path), "bytes": path.stat().st_size}
                    for path in _files(partial)
                },
            }
            (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
            partial.rename(backup)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    finally:
        os.umask(previous)
    return backup


def verify(backup: Path) -> dict[str, Any]:
    """Check every file of `backup` against its manifest (none missing, none added, none changed)."""
    manifest: dict[str, Any] = json.loads((backup / MANIFEST).read_text())
    found = {str(path.relative_to(backup)) for path in _files(backup)}
    listed = set(manifest["files"])
    if found != listed:
        raise BackupError(f"{backup}: files differ from the manifest: {sorted(found ^ listed)}")
    for name, expected in manifest["files"].items():
        if _sha256(backup / name) != expected["sha256"]:
            raise BackupError(f"{backup}: {name} does not match its checksum")
    return manifest


def _taken(name: str) -> datetime | None:
    """The time a backup's directory name says (`<time>`, `<time>-N`, with or without `.partial`), or None."""
    stamp = name.removesuffix(PARTIAL_SUFFIX).split("-", 1)[0]
    try:
        return datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _order(path: Path) -> tuple[str, int]:
    stamp, _, attempt = path.name.partition("-")
    return stamp, int(attempt) if attempt.isdigit() else 1


def backups(destination: Path) -> list[Path]:
    """The backups under `destination`, oldest first: the directories with a manifest and a backup's name."""
    found = [
        path
        for path in (destination.iterdir() if destination.is_dir() else ())
        if not path.name.endswith(PARTIAL_SUFFIX) and _taken(path.name) and (path / MANIFEST).is_file()
    ]
    return sorted(found, key=_order)


def prune(destination: Path, *, keep: int, keep_days: float, now: datetime | None = None) -> list[Path]:
    """Remove the backups that are neither among the newest `keep` nor younger than `keep_days`, and the
    `.partial` directories of takes that failed (older than STALE_PARTIAL: a younger one may be a take running
    now); return them."""
    if keep < 1:
        raise BackupError("--keep must be at least 1: the newest backup always stays")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    present = backups(destination)
    kept = set(present[-keep:])
    removed = []
    for backup in present:
        taken = _taken(backup.name)
        assert taken is not None  # backups() lists only names with a time
        if backup in kept or (keep_days > 0 and moment - taken < timedelta(days=keep_days)):
            continue
        shutil.rmtree(backup)
        removed.append(backup)
    for partial in sorted(destination.glob(f"*{PARTIAL_SUFFIX}")) if destination.is_dir() else ():
        started = _taken(partial.name)
        if partial.is_dir() and started is not None and moment - started > STALE_PARTIAL:
            shutil.rmtree(partial)
            removed.append(partial)
    return removed


def _extract(archive: Path, into: Path) -> None:
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")


def _conf_string(value: str) -> str:
    """A postgresql.conf string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def restore_base(
    backup: Path, data_dir: Path, *, restore_command: str | None = None, target_time: str | None = None
) -> None:
    """Unpack `backup`'s base backup into `data_dir` (absent or empty), ready for `pg_ctl start`: on its own it
    recovers to the end of the backup; with `restore_command` (fetching archived WAL) it replays on, up to
    `target_time` if given (point-in-time recovery), and a recovery.signal starts the recovery.

    The copy never archives: `archive_mode = off` is written, whatever the backed-up server had, so that a restore
    (a drill, a fork) does not write its WAL and timeline history into the production server's archive. Turn
    archiving on again (with an archive of its own) once the copy is to be the production server."""
    verify(backup)
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(f"{data_dir} is not empty: restore into a new data directory")
    previous = os.umask(PRIVATE_UMASK)
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        data_dir.chmod(0o700)  # an existing empty directory too: postgres refuses a data directory others can read
        _extract(backup / BASE_DIR / "base.tar", data_dir)
        _extract(backup / BASE_DIR / "pg_wal.tar", data_dir / "pg_wal")
        settings = ["archive_mode = off"]
        if restore_command is not None:
            settings.append(f"restore_command = {_conf_string(restore_command)}")
            if target_time is not None:
                settings += [
                    f"recovery_target_time = {_conf_string(target_time)}",
                    "recovery_target_action = 'promote'",
                ]
        with (data_dir / "postgresql.auto.conf").open("a") as conf:
            conf.write("\n# deploy.backup restore-base: a restored copy, not archiving\n" + "\n".join(settings) + "\n")
        if restore_command is not None:
            (data_dir / "recovery.signal").touch()
    finally:
        os.umask(previous)


def restore_database(
    server: Server,
    backup: Path,
    database: str,
    *,
    into: str | None = None,
    clean: bool = False,
    role: str | None = None,
) -> None:
    """Restore `database`'s dump of `backup` into the existing database `into` (the same name by default): empty,
    or with `clean` over what is there (its objects dropped first). With `role` (the component's owner role), the
    restored objects are that role's; run `python -m deploy.migrate NAME` afterwards to grant the runtime role."""
    verify(backup)
    dump = backup / f"{database}.dump"
    if not dump.is_file():
        raise BackupError(f"{backup} holds no dump of {database}")
    arguments = ["--no-owner", "--exit-on-error", "--single-transaction", f"--dbname={into or database}"]
    if role is not None:
        arguments.append(f"--role={role}")
    if clean:
        arguments += ["--clean", "--if-exists"]
    server.run("pg_restore", *arguments, str(dump))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("BACKUP_DATABASE_URL", DEFAULT_URL), help="the server")
    parser.add_argument("--bin-dir", type=Path, help="where pg_basebackup, pg_dump, pg_restore are (default: PATH)")
    commands = parser.add_subparsers(dest="command", required=True)
    taking = commands.add_parser("take", help="take a backup, then apply the retention")
    taking.add_argument("destination", type=Path)
    taking.add_argument("--database", action="append", help="dump only these (default: every database)")
    taking.add_argument("--keep", type=int, default=7, help="keep the newest N backups (default 7)")
    taking.add_argument("--keep-days", type=float, default=0, help="and every backup younger than D days")
    checking = commands.add_parser("verify", help="check a backup against its manifest")
    checking.add_argument("backup", type=Path)
    base = commands.add_parser("restore-base", help="unpack the base backup into a new data directory")
    base.add_argument("backup", type=Path)
    base.add_argument("--data-dir", type=Path, required=True)
    base.add_argument("--restore-command", help="fetch archived WAL (point-in-time recovery), e.g. 'cp /a/%%f %%p'")
    base.add_argument("--target-time", help="recover up to this time, e.g. '2026-12-01 17:00:00+08'")
    one = commands.add_parser("restore-db", help="restore one database's dump")
    one.add_argument("backup", type=Path)
    one.add_argument("database")
    one.add_argument("--into", help="the existing database to restore into (default: the same name)")
    one.add_argument("--clean", action="store_true", help="drop the objects there first (--clean --if-exists)")
    one.add_argument("--role", help="the owner role the restored objects belong to, e.g. registry_owner")
    arguments = parser.parse_args(argv)
    server = Server(arguments.url, arguments.bin_dir)
    try:
        if arguments.command == "take":
            made = take(server, arguments.destination, databases=arguments.database)
            print(f"backup: {made}", file=sys.stderr)
            for removed in prune(arguments.destination, keep=arguments.keep, keep_days=arguments.keep_days):
                print(f"backup: removed {removed} (retention)", file=sys.stderr)
        elif arguments.command == "verify":
            manifest = verify(arguments.backup)
            print(f"backup: {arguments.backup} matches its manifest ({len(manifest['files'])} files)", file=sys.stderr)
        elif arguments.command == "restore-base":
            restore_base(
                arguments.backup,
                arguments.data_dir,
                restore_command=arguments.restore_command,
                target_time=arguments.target_time,
            )
            print(f"backup: base backup unpacked into {arguments.data_dir}", file=sys.stderr)
        else:
            restore_database(
                server,
                arguments.backup,
                arguments.database,
                into=arguments.into,
                clean=arguments.clean,
                role=arguments.role,
            )
            print(f"backup: {arguments.database} restored", file=sys.stderr)
    except BackupError as failed:
        print(f"backup: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
