"""deploy/backup.py on a throw-away server of the test's own: a base backup of two databases restores into an empty
data directory and reads back identically on another port, not archiving; one database's dump restores over the
changed database (`--clean`) and into an empty one; every file is the owner's alone (0600); the manifest catches a
changed file; a failed take leaves nothing, two in one second both succeed; the URL's TLS settings reach every
program; retention keeps the newest and the recent, and removes failed takes' leftovers."""

import asyncio
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from deploy.backup import (
    MANIFEST,
    PARTIAL_SUFFIX,
    STAMP_FORMAT,
    BackupError,
    Server,
    backups,
    prune,
    restore_base,
    restore_database,
    take,
    verify,
)
from deploy.local_postgres import BIN_DIR, LocalPostgres
from shared.settings import PROJECT_ROOT
from tests.pgcluster import PostgresCluster

pytestmark = pytest.mark.e2e

DATABASES = ("registry", "eligibility")
ROWS = {
    "registry": [(1, "重庆备份验证有限公司"), (2, "second enterprise"), (3, "第三")],
    "eligibility": [(10, "award 10"), (11, "award 11")],
}


async def _execute(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _show(url: str, setting: str) -> str:
    connection = await asyncpg.connect(url)
    try:
        return str(await connection.fetchval(f"SHOW {setting}"))
    finally:
        await connection.close()


async def _read(url: str) -> list[tuple[int, str]]:
    connection = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await connection.fetch("SELECT id, name FROM items ORDER BY id")]
    finally:
        await connection.close()


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    made = PostgresCluster()
    made.create()
    try:
        made.create_databases(list(DATABASES))
        for name in DATABASES:
            values = ", ".join(f"({id_}, '{text}')" for id_, text in ROWS[name])
            asyncio.run(
                _execute(
                    made.url(name),
                    "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)",
                    f"INSERT INTO items VALUES {values}",
                )
            )
        yield made
    finally:
        made.destroy()


def _assert_private(backup: Path) -> None:
    paths = [backup, *backup.rglob("*")]
    assert len(paths) > 2 + len(DATABASES)
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_a_base_backup_restores_every_database_identically_and_a_dump_restores_one(cluster, tmp_path):
    server = Server(cluster.url(), bin_dir=BIN_DIR)
    # Production archives its WAL: the setting is in the base backup (postgresql.auto.conf); the copy must not.
    asyncio.run(
        _execute(cluster.url(), "ALTER SYSTEM SET archive_mode = on", "ALTER SYSTEM SET archive_command = '/bin/false'")
    )
    backup = take(server, tmp_path / "backups")
    assert not list((tmp_path / "backups").glob(f"*{PARTIAL_SUFFIX}"))
    _assert_private(backup)
    manifest = verify(backup)
    assert set(DATABASES) <= set(manifest["databases"])
    assert {f"{name}.dump" for name in DATABASES} <= set(manifest["files"])
    assert {"base/base.tar", "base/pg_wal.tar", "base/backup_manifest"} <= set(manifest["files"])
    # Written after the backup: in neither restore below.
    asyncio.run(_execute(cluster.url("registry"), "INSERT INTO items VALUES (4, 'after the backup')"))
    asyncio.run(_execute(cluster.url("registry"), "DELETE FROM items WHERE id = 1"))

    restored = LocalPostgres(cluster.root / "restored", durable=False, protected=False)
    try:
        restored.data_dir.mkdir(mode=0o755, parents=True)  # an existing empty directory, as mkdir leaves it
        restored.data_dir.chmod(0o755)
        restore_base(backup, restored.data_dir)
        assert stat.S_IMODE(restored.data_dir.stat().st_mode) == 0o700
        restored.start()
        assert restored.port != cluster.port
        for name in DATABASES:
            assert asyncio.run(_read(restored.url(name))) == ROWS[name]
        assert asyncio.run(_show(restored.url(), "archive_mode")) == "off"
    finally:
        restored.destroy()
    # Point-in-time recovery settings are quoted as postgresql.conf strings, whatever the operator typed.
    pitr = tmp_path / "pitr"
    restore_base(backup, pitr, restore_command="cp '/wal archive/%f' %p", target_time="2026-12-01 17:00:00+08' x")
    settings = (pitr / "postgresql.auto.conf").read_text().splitlines()
    assert settings[-4:] == [
        "archive_mode = off",
        "restore_command = 'cp ''/wal archive/%f'' %p'",
        "recovery_target_time = '2026-12-01 17:00:00+08'' x'",
        "recovery_target_action = 'promote'",
    ]
    assert (pitr / "recovery.signal").is_file()

    # One database over itself, changed since: --clean drops what is there first.
    restore_database(server, backup, "registry", clean=True)
    assert asyncio.run(_read(cluster.url("registry"))) == ROWS["registry"]
    # And into an empty database.
    cluster.create_databases(["registry_copy"])
    restore_database(server, backup, "registry", into="registry_copy")
    assert asyncio.run(_read(cluster.url("registry_copy"))) == ROWS["registry"]
    # Without --clean, over existing objects, it stops at the first error and changes nothing.
    with pytest.raises(BackupError, match="already exists"):
        restore_database(server, backup, "eligibility")
    assert asyncio.run(_read(cluster.url("eligibility"))) == ROWS["eligibility"]

    with (backup / "registry.dump").open("ab") as dump:
        dump.write(b"\0")
    with pytest.raises(BackupError, match=r"registry\.dump does not match its checksum"):
        verify(backup)


def test_the_command_takes_a_backup_and_keeps_the_newest(cluster, tmp_path):
    destination = tmp_path / "backups"
    old = destination / (datetime.now(UTC) - timedelta(days=30)).strftime(STAMP_FORMAT)
    old.mkdir(parents=True)
    (old / MANIFEST).write_text("{}")
    command = [sys.executable, "-m", "deploy.backup", "--url", cluster.url(), "--bin-dir", str(BIN_DIR)]
    result = subprocess.run(
        [*command, "take", str(destination), "--keep", "1", "--database", "registry"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"removed {old}" in result.stderr
    (made,) = sorted(destination.iterdir())
    assert verify(made)["databases"] == ["registry"]
    _assert_private(made)
    checked = subprocess.run(
        [*command, "verify", str(made)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert checked.returncode == 0 and "matches its manifest" in checked.stderr


def test_a_failed_take_leaves_nothing_and_two_takes_in_one_second_both_succeed(cluster, tmp_path):
    destination = tmp_path / "backups"
    # A pg_dump that fails halfway (after the base backup): the real programs otherwise.
    programs = tmp_path / "bin"
    programs.mkdir()
    for program in ("pg_basebackup", "pg_restore"):
        (programs / program).symlink_to(BIN_DIR / program)
    failing = programs / "pg_dump"
    failing.write_text("#!/bin/sh\necho 'pg_dump: error: connection lost' >&2\nexit 1\n")
    failing.chmod(0o755)
    with pytest.raises(BackupError, match="pg_dump failed"):
        take(Server(cluster.url(), bin_dir=programs), destination, databases=["registry"])
    assert list(destination.iterdir()) == []

    server = Server(cluster.url(), bin_dir=BIN_DIR)
    moment = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    first = take(server, destination, databases=["registry"], now=moment)
    second = take(server, destination, databases=["registry"], now=moment)
    stamp = moment.strftime(STAMP_FORMAT)
    assert (first.name, second.name) == (stamp, f"{stamp}-2")
    assert backups(destination) == [first, second]
    verify(second)


def test_the_url_s_tls_settings_reach_every_program(cluster):
    env = Server(
        "postgresql://backup:pw@db.example:6543/postgres?sslmode=verify-full&sslrootcert=/etc/ca.pem"
    ).environment()
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGPASSWORD"]) == ("db.example", "6543", "backup", "pw")
    assert (env["PGSSLMODE"], env["PGSSLROOTCERT"]) == ("verify-full", "/etc/ca.pem")
    with pytest.raises(BackupError, match="unknown parameter sslmod"):
        Server("postgresql://backup@db.example/postgres?sslmod=require").environment()
    # The test's server has no TLS: required, every step refuses (the connection check and the programs).
    server = Server(f"{cluster.url()}?sslmode=require", bin_dir=BIN_DIR)
    with pytest.raises(BackupError, match="SSL"):
        asyncio.run(server.describe())
    with pytest.raises(BackupError, match="SSL"):
        server.run("pg_dump", "--schema-only", "--file=/dev/null", "--dbname=registry")
    assert asyncio.run(Server(f"{cluster.url()}?sslmode=disable", bin_dir=BIN_DIR).describe())[1]


def test_retention_keeps_the_newest_n_and_those_younger_than_the_days(tmp_path):
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    made = []
    for days_ago in (40, 20, 10, 5, 1):
        backup = tmp_path / (now - timedelta(days=days_ago)).strftime(STAMP_FORMAT)
        backup.mkdir()
        (backup / MANIFEST).write_text("{}")
        made.append(backup)
    (tmp_path / "not-a-backup").mkdir()
    # Left by failed takes: the one of two days ago goes, the one of an hour ago may still be running.
    stale = tmp_path / f"{(now - timedelta(days=2)).strftime(STAMP_FORMAT)}{PARTIAL_SUFFIX}"
    running = tmp_path / f"{(now - timedelta(hours=1)).strftime(STAMP_FORMAT)}{PARTIAL_SUFFIX}"
    for partial in (stale, running):
        (partial / "base").mkdir(parents=True)
    removed = prune(tmp_path, keep=2, keep_days=14, now=now)
    assert removed == [*made[:2], stale]  # 40 and 20 days old; 10 days is within 14
    names = [*(p.name for p in made[2:]), "not-a-backup", running.name]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(names)
    assert prune(tmp_path, keep=1, keep_days=0, now=now) == made[2:4]
    with pytest.raises(BackupError):
        prune(tmp_path, keep=0, keep_days=0, now=now)
