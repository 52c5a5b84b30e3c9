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
        """libpq's variables for the programs: the password out of every command line."""
        url = make_url(self.url)
        env = {**os.environ, "PGHOST": url.host or "127.0.0.1", "PGPORT": str(url.port or 5432)}
        env["PGUSER"] = url.username or "postgres"
        if url.password is not None:
            env["PGPASSWORD"] = str(url.password)
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
        connection = await asyncpg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password,
            database=url.database or "postgres",
        )
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


def take(server: Server, destination: Path, *, databases: list[str] | None = None, now: datetime | None = None) -> Path:
    """Take one backup under `destination`; return its directory."""
    taken_at = (now or datetime.now(UTC)).astimezone(UTC)
    version, present = asyncio.run(server.describe())
    chosen = present if databases is None else databases
    missing = sorted(set(chosen) - set(present))
    if missing:
        raise BackupError(f"no such database on the server: {', '.join(missing)}")
    previous = os.umask(PRIVATE_UMASK)
    try:
        destination.mkdir(parents=True, exist_ok=True)
        backup = destination / taken_at.strftime(STAMP_FORMAT)
        backup.mkdir()
        # -X stream: the WAL written during the copy comes along, so the base backup restores on its own.
        label = f"deploy.backup {backup.name}"
        server.run("pg_basebackup", "-D", str(backup / BASE_DIR), "-Ft", "-X", "stream", "-c", "fast", "-l", label)
        for name in chosen:
            server.run("pg_dump", "--format=custom", f"--file={backup / f'{name}.dump'}", f"--dbname={name}")
        manifest: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "taken_at": taken_at.isoformat(),
            "server_version": version,
            "databases": chosen,
            "files": {
                str(path.relative_to(backup)): {"sha256": _sha256(path), "bytes": path.stat().st_size}
                for path in _files(backup)
            },
        }
        (backup / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
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


def backups(destination: Path) -> list[Path]:
    """The backups under `destination`, oldest first: the directories with a manifest and a backup's name."""
    found = []
    for path in destination.iterdir() if destination.is_dir() else ():
        try:
            datetime.strptime(path.name, STAMP_FORMAT)
        except ValueError:
            continue
        if (path / MANIFEST).is_file():
            found.append(path)
    return sorted(found, key=lambda path: path.name)


def prune(destination: Path, *, keep: int, keep_days: float, now: datetime | None = None) -> list[Path]:
    """Remove the backups that are neither among the newest `keep` nor younger than `keep_days`; return them."""
    if keep < 1:
        raise BackupError("--keep must be at least 1: the newest backup always stays")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    present = backups(destination)
    kept = set(present[-keep:])
    removed = []
    for backup in present:
        taken = datetime.strptime(backup.name, STAMP_FORMAT).replace(tzinfo=UTC)
        if backup in kept or (keep_days > 0 and moment - taken < timedelta(days=keep_days)):
            continue
        shutil.rmtree(backup)
        removed.append(backup)
    return removed


def _extract(archive: Path, into: Path) -> None:
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")


def restore_base(
    backup: Path, data_dir: Path, *, restore_command: str | None = None, target_time: str | None = None
) -> None:
    """Unpack `backup`'s base backup into `data_dir` (absent or empty), ready for `pg_ctl start`: on its own it
    recovers to the end of the backup; with `restore_command` (fetching archived WAL) it replays on, up to
    `target_time` if given (point-in-time recovery), and a recovery.signal starts the recovery."""
    verify(backup)
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(f"{data_dir} is not empty: restore into a new data directory")
    previous = os.umask(PRIVATE_UMASK)
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        _extract(backup / BASE_DIR / "base.tar", data_dir)
        _extract(backup / BASE_DIR / "pg_wal.tar", data_dir / "pg_wal")
        if restore_command is not None:
            settings = [f"restore_command = '{restore_command.replace(chr(39), chr(39) * 2)}'"]
            if target_time is not None:
                settings += [f"recovery_target_time = '{target_time}'", "recovery_target_action = 'promote'"]
            with (data_dir / "postgresql.auto.conf").open("a") as conf:
                conf.write("\n# deploy.backup restore-base: point-in-time recovery\n" + "\n".join(settings) + "\n")
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
