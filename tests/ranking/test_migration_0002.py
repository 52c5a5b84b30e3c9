"""Migration 0002 on a database holding the old shape: every existing version gets max_unreported_share 0.05."""

import asyncio
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from services.ranking import SERVICE_DIR
from shared.migrations import alembic_config, upgrade
from tests.support import TestDatabase


async def _execute(url: str, *statements: str) -> list[list[tuple[object, ...]]]:
    engine = create_async_engine(url)
    try:
        results: list[list[tuple[object, ...]]] = []
        async with engine.begin() as connection:
            for statement in statements:
                result = await connection.execute(sa.text(statement))
                results.append([tuple(row) for row in result] if result.returns_rows else [])
        return results
    finally:
        await engine.dispose()


def execute(url: str, *statements: str) -> list[list[tuple[object, ...]]]:
    return asyncio.run(_execute(url, *statements))


# Before 0002 (the old shape): the seeded default and a version the city made, and a run citing it.
OLD_VERSION = (
    "INSERT INTO methodologies (version, weight_new_count, weight_net_increase, weight_revenue_growth, normalisation, "
    "growth_basis, min_base, winsorise, tie_break, description, is_default, created_at, created_by) VALUES "
    "('2025.1', 0.5, 0.5, 0, 'rank', 'comparable', 3, NULL, '[\"net_increase\"]', 'counts only', FALSE, "
    "'2025-03-01T00:00:00+00:00', 'city')"
)


def test_the_upgrade_keeps_every_version_and_gives_it_the_threshold_0_05():
    database = TestDatabase("ranking_0002", SERVICE_DIR)
    database._admin_execute(f'CREATE DATABASE "{database.name}"')
    try:
        upgrade(SERVICE_DIR, database.url, "0001")
        execute(database.url, OLD_VERSION)
        upgrade(SERVICE_DIR, database.url, "head")
        (rows,) = execute(
            database.url, "SELECT version, max_unreported_share, min_base FROM methodologies ORDER BY version"
        )
        assert rows == [("2024.1", Decimal("0.050000"), 5), ("2025.1", Decimal("0.050000"), 3)]
        # Still immutable: the threshold of a version is what its runs cite.
        with pytest.raises(sa.exc.DBAPIError, match="immutable"):
            execute(database.url, "UPDATE methodologies SET max_unreported_share = 0.5 WHERE version = '2025.1'")
        # The check constraint holds the gate's threshold within 0 … 1, and a new version must name one.
        with pytest.raises(sa.exc.IntegrityError):
            execute(database.url, OLD_VERSION.replace("'2025.1'", "'2025.2'"))
        above_one = OLD_VERSION.replace("created_by)", "created_by, max_unreported_share)").replace(
            "'city')", "'city', 1.5)"
        )
        with pytest.raises(sa.exc.IntegrityError, match="max_unreported_share"):
            execute(database.url, above_one.replace("'2025.1'", "'2025.3'"))
        # Back to the old shape and up again, the versions intact.
        command.downgrade(alembic_config(SERVICE_DIR, database.url, allow_data_loss=True), "0001")
        (columns,) = execute(
            database.url,
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'methodologies' "
            "AND column_name = 'max_unreported_share'",
        )
        assert columns == []
        upgrade(SERVICE_DIR, database.url, "head")
        (count,) = execute(database.url, "SELECT count(*) FROM methodologies")
        assert count == [(2,)]
    finally:
        database.drop()
