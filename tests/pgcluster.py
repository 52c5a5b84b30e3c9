"""A PostgreSQL server of the tests' own, on a free port, that a fault test may stop, crash and restart without
touching the machine's server (which every other test uses). Made with the installed server's initdb and pg_ctl;
run as the `postgres` user when the tests run as root, since PostgreSQL refuses to run as root."""

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support import free_port

SERVER_BIN_ROOT = Path("/usr/lib/postgresql")


def server_bin() -> Path | None:
    """The newest installed server's bin directory, or None when no server is installed."""
    versions = sorted(
        (path for path in SERVER_BIN_ROOT.glob("*/bin") if (path / "pg_ctl").is_file()),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    return versions[-1] if versions else None


class PostgresCluster:
    def __init__(self) -> None:
        bin_dir = server_bin()
        if bin_dir is None:
            raise RuntimeError(f"no PostgreSQL server under {SERVER_BIN_ROOT}")
        self.bin = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="pgcluster-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120)

    def create(self) -> None:
        if self.as_user:
            shutil.chown(self.root, user="postgres")
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale",
            "C.UTF-8",
            "--no-sync",
        )
        self.start()

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._pg_ctl("-o", options, "-l", str(self.log), "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session cleanly; `immediate` is a crash, recovered from the WAL at the next start."""
        self._pg_ctl("-m", mode, "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
