"""Every component's migrations: from nothing to head with no drift from the models, then back (with the operator's
consent to lose data) and up again; without that consent, every destructive downgrade refuses and changes nothing."""

import argparse
import os
import subprocess
import sys

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from deploy.migrate import COMPONENTS, component_dir
from shared.migrations import ALLOW_DATA_LOSS_ENV, DataLossRefused, alembic_config, downgrade
from shared.settings import PROJECT_ROOT
from tests.support import TestDatabase

# Downgrades that destroy nothing lasting, so run without consent: the nonces a signed write leaves are kept for
# seconds (shared.nonces), and dropping their table loses no record.
NOT_DESTRUCTIVE = {("ranking", "0003")}


def _head(component: str) -> str:
    head = ScriptDirectory.from_config(
        alembic_config(component_dir(component), "postgresql://unused")
    ).get_current_head()
    assert head is not None
    return head


def _current(database: TestDatabase) -> str | None:
    url = make_url(database.url)
    result = subprocess.run(
        ["psql", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres",
         "-d", database.name, "-Atc", "SELECT version_num FROM alembic_version"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return result.stdout.strip() or None


@pytest.mark.parametrize("component", COMPONENTS)
def test_migrations_match_the_models_and_are_reversible(component):
    database = TestDatabase(f"{component}_migrations", component_dir(component))
    database.create()  # upgrade to head
    try:
        config = alembic_config(component_dir(component), database.url, allow_data_loss=True)
        # `alembic check` fails if autogenerate would find any difference between the models and the database.
        command.check(config)
        command.downgrade(config, "base")
        command.upgrade(config, "head")
        command.check(config)
    finally:
        database.drop()


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_destructive_downgrade_refuses_without_consent(component, monkeypatch):
    monkeypatch.delenv(ALLOW_DATA_LOSS_ENV, raising=False)
    database = TestDatabase(f"{component}_refusal", component_dir(component))
    database.create()
    try:
        script = ScriptDirectory.from_config(alembic_config(component_dir(component), database.url))
        # Each revision's own downgrade, newest first.
        for revision in script.walk_revisions():
            target = revision.down_revision or "base"
            assert isinstance(target, str)
            if (component, revision.revision) in NOT_DESTRUCTIVE:
                downgrade(component_dir(component), database.url, target)
                continue
            with pytest.raises(DataLossRefused, match="refusing a destructive downgrade: it drops"):
                downgrade(component_dir(component), database.url, target)
            assert _current(database) == revision.revision  # refused before any change, the transaction undone
            downgrade(component_dir(component), database.url, target, allow_data_loss=True)
        assert _current(database) is None
    finally:
        database.drop()


@pytest.mark.parametrize("consent", ["alembic -x", "environment"])
def test_consent_by_alembic_s_x_argument_or_the_environment(consent, monkeypatch):
    monkeypatch.delenv(ALLOW_DATA_LOSS_ENV, raising=False)
    database = TestDatabase("registry_consent", component_dir("registry"))
    database.create()
    try:
        config = alembic_config(component_dir("registry"), database.url)
        if consent == "alembic -x":
            config.cmd_opts = argparse.Namespace(x=["allow-data-loss=true"])
        else:
            monkeypatch.setenv(ALLOW_DATA_LOSS_ENV, "1")
        command.downgrade(config, "0003")
        assert _current(database) == "0003"
    finally:
        database.drop()


def test_the_migrate_command_refuses_then_downgrades_with_the_flag():
    database = TestDatabase("registry_cli_downgrade", component_dir("registry"))
    database.create()
    env = {key: value for key, value in os.environ.items() if key != ALLOW_DATA_LOSS_ENV}
    env |= {"REGISTRY_DATABASE_URL": database.url}
    try:

        def run(*arguments: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "deploy.migrate", "registry", "--downgrade", "0003", *arguments],
                cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip

        refused = run()
        assert refused.returncode == 2, refused.stderr
        # The first downgrade step refuses: the newest migration's, which names what it would drop.
        assert "drops table jobs and the job queue" in refused.stderr and "--allow-data-loss" in refused.stderr
        assert _current(database) == _head("registry")
        allowed = run("--allow-data-loss")
        assert allowed.returncode == 0, allowed.stderr
        assert _current(database) == "0003"
    finally:
        database.drop()
