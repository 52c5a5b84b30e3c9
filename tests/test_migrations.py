"""Every component's migrations: from nothing to head with no drift from the models, then back and up again."""

import pytest
from alembic import command

from deploy.migrate import COMPONENTS, component_dir
from shared.migrations import alembic_config
from tests.support import TestDatabase


@pytest.mark.parametrize("component", COMPONENTS)
def test_migrations_match_the_models_and_are_reversible(component):
    database = TestDatabase(f"{component}_migrations", component_dir(component))
    database.create()  # upgrade to head
    try:
        config = alembic_config(component_dir(component), database.url)
        # `alembic check` fails if autogenerate would find any difference between the models and the database.
        command.check(config)
        command.downgrade(config, "base")
        command.upgrade(config, "head")
        command.check(config)
    finally:
        database.drop()
