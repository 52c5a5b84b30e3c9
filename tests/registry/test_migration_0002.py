"""Migration 0002 on a registry holding the old shape (revision 0001): verification backfilled from the audit log,
the year's district from the enterprise, duplicate projects marked, clusters belonging to their district; and back.
"""

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from services.registry import SERVICE_DIR
from shared.migrations import alembic_config
from shared.uscc import make_uscc
from tests.support import TestDatabase

T0, T1, T2, T3, T4 = (datetime(2025, 3, day, 8, 0, tzinfo=UTC) for day in (1, 2, 3, 4, 5))
E1, E2, E3 = (make_uscc(f"91{code}{serial:09d}") for code, serial in (("500103", 1), ("500103", 2), ("500105", 3)))
OWNER = E1

_meta = sa.MetaData()
ENTERPRISES = sa.Table(
    "enterprises",
    _meta,
    *(sa.Column(name) for name in ("uscc", "name", "district_code", "sector", "established_on")),
    *(sa.Column(name) for name in ("spun_off_from_manufacturer", "version", "created_at", "updated_at")),
)
YEARS = sa.Table(
    "enterprise_years",
    _meta,
    *(sa.Column(name) for name in ("uscc", "year", "revenue_yuan", "employees", "above_scale", "top500_service")),
    sa.Column("updated_at"),
)
CLUSTERS = sa.Table(
    "clusters", _meta, *(sa.Column(name) for name in ("id", "name", "district_code", "manager_uscc", "created_at"))
)
EVALUATIONS = sa.Table(
    "cluster_evaluations",
    _meta,
    *(sa.Column(n) for n in ("cluster_id", "year", "grade", "score", "tier", "updated_at")),
)
BUILDINGS = sa.Table(
    "buildings", _meta, *(sa.Column(n) for n in ("id", "name", "district_code", "stars", "operator_uscc", "created_at"))
)
BUILDING_YEARS = sa.Table(
    "building_years", _meta, *(sa.Column(n) for n in ("building_id", "year", "revenue_yuan", "updated_at"))
)
PROJECTS = sa.Table(
    "projects",
    _meta,
    *(sa.Column(n) for n in ("id", "kind", "owner_uscc", "district_code", "name", "year", "platform_domain")),
    *(sa.Column(n) for n in ("verified_investment_yuan", "actual_spend_yuan", "special_major_approved", "created_at")),
)
AUDIT = sa.Table(
    "audit_log",
    _meta,
    *(sa.Column(n) for n in ("occurred_at", "actor_role", "actor_district", "action", "entity_type", "entity_id")),
    sa.Column("district_code"),
    sa.Column("before", sa.JSON()),
    sa.Column("after", sa.JSON()),
)


def _enterprise(uscc: str, district_code: str) -> dict[str, Any]:
    return {
        "uscc": uscc,
        "name": "重庆旧数据有限公司",
        "district_code": district_code,
        "sector": "software_it",
        "established_on": datetime(2015, 1, 1).date(),
        "spun_off_from_manufacturer": False,
        "version": 1,
        "created_at": T0,
        "updated_at": T0,
    }


def _year(uscc: str, year: int) -> dict[str, Any]:
    return {
        "uscc": uscc,
        "year": year,
        "revenue_yuan": 25_000_000,
        "employees": 50,
        "above_scale": True,
        "top500_service": False,
        "updated_at": T0,
    }


def _entry(
    at: datetime, role: str, district: str | None, entity_type: str, entity_id: str, **kw: Any
) -> dict[str, Any]:
    return {
        "occurred_at": at,
        "actor_role": role,
        "actor_district": district,
        "action": kw.get("action", "upsert"),
        "entity_type": entity_type,
        "entity_id": entity_id,
        "district_code": "500103",
        "before": None,
        "after": kw.get("after", {}),
    }


def _project(project_id: int, name: str, **kw: Any) -> dict[str, Any]:
    return {
        "id": project_id,
        "kind": "investment",
        "owner_uscc": OWNER,
        "district_code": "500103",
        "name": name,
        "year": 2025,
        "platform_domain": None,
        "verified_investment_yuan": 80_000_000,
        "actual_spend_yuan": None,
        "special_major_approved": False,
        "created_at": T0,
    } | kw


async def _fill(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(
            ENTERPRISES.insert(), [_enterprise(E1, "500103"), _enterprise(E2, "500103"), _enterprise(E3, "500105")]
        )
        await connection.execute(
            YEARS.insert(), [_year(E1, 2024), _year(E1, 2025), _year(E2, 2024), _year(E2, 2025), _year(E3, 2024)]
        )
        await connection.execute(
            CLUSTERS.insert(),
            [{"id": 1, "name": "渝北集聚区", "district_code": "500112", "manager_uscc": None, "created_at": T0}],
        )
        await connection.execute(
            EVALUATIONS.insert(),
            [{"cluster_id": 1, "year": 2024, "grade": "A", "score": 90, "tier": 1, "updated_at": T0}],
        )
        await connection.execute(
            BUILDINGS.insert(),
            [
                {
                    "id": 1,
                    "name": "解放碑大厦",
                    "district_code": "500103",
                    "stars": 5,
                    "operator_uscc": E1,
                    "created_at": T0,
                }
            ],
        )
        await connection.execute(
            BUILDING_YEARS.insert(), [{"building_id": 1, "year": 2024, "revenue_yuan": 1, "updated_at": T0}]
        )
        await connection.execute(
            PROJECTS.insert(),
            [
                _project(1, "数字 经济项目2025"),
                _project(2, "数字经济项目2025"),  # the same once whitespace is removed: a duplicate of 1
                _project(3, "另一个项目"),
                _project(4, "数字经济项目２０２５"),  # full-width digits: NFKC makes it the same as 1
                _project(5, "数字经济项目2025", year=2024),  # another year: its own project
            ],
        )
        await connection.execute(
            AUDIT.insert(),
            [
                _entry(T0, "district", "500103", "enterprise_year", f"{E2}/2025"),
                _entry(T1, "city", None, "enterprise_year", f"{E1}/2024"),
                _entry(T1, "city", None, "enterprise_year", f"{E1}/2025"),
                _entry(T2, "district", "500103", "enterprise_year", f"{E1}/2025"),
                _entry(T3, "district", "500103", "enterprise", E2, action="import", after={"years": {"2024": {}}}),
                _entry(T4, "city", None, "enterprise", E2, action="import", after={"years": {"2025": {}}}),
                _entry(T1, "city", None, "enterprise", E3, action="create", after={"uscc": E3}),
                _entry(T2, "city", None, "cluster_evaluation", "1/2024"),
                _entry(T3, "district", "500103", "building", "1", action="create"),
                _entry(T1, "city", None, "project", "1", action="create"),
                _entry(T2, "district", "500103", "project", "2", action="create"),
            ],
        )
    await engine.dispose()


DUPLICATE = (
    "INSERT INTO projects (kind, owner_uscc, district_code, name, name_key, year, special_major_approved, created_at, "
    "verification_status, submitted_by, submitted_at) VALUES ('investment', :owner, '500103', 'x', '数字经济项目2025', "
    "2025, false, now(), 'submitted', 'city', now())"
)


async def _read(url: str) -> dict[str, list[dict[str, Any]]]:
    engine = create_async_engine(url)
    queries = {
        "years": "SELECT uscc, year, district_code, verification_status, submitted_by, submitted_at, verified_by, "
        "verified_at FROM enterprise_years ORDER BY uscc, year",
        "evaluations": "SELECT verification_status, submitted_by, verified_by FROM cluster_evaluations",
        "buildings": "SELECT verification_status, submitted_by, submitted_at FROM buildings",
        "building_years": "SELECT verification_status, submitted_by FROM building_years",
        "projects": "SELECT id, name_key, duplicate_of_id, project_code, verification_status, submitted_by "
        "FROM projects ORDER BY id",
        "clusters": "SELECT belongs_to_kind, belongs_to_district, belongs_to_department FROM clusters",
        "enterprises": "SELECT parent_uscc, spun_off_on FROM enterprises",
    }
    async with engine.connect() as connection:
        found = {
            name: [dict(row._mapping) for row in await connection.execute(sa.text(sql))]
            for name, sql in queries.items()
        }
        try:
            await connection.execute(sa.text(DUPLICATE), {"owner": OWNER})
        except sa.exc.IntegrityError:
            found["duplicate_refused"] = [{"refused": True}]
        else:
            found["duplicate_refused"] = [{"refused": False}]
    await engine.dispose()
    return found


def _at(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


@pytest.fixture
def old_registry():  # type: ignore[no-untyped-def]
    database = TestDatabase("registry_0002", SERVICE_DIR)
    database._admin_execute(f'CREATE DATABASE "{database.name}"')
    try:
        config = alembic_config(SERVICE_DIR, database.url, allow_data_loss=True)
        command.upgrade(config, "0001")
        yield database, config
    finally:
        database.drop()


def test_upgrade_backfills_the_old_shape_and_downgrades(old_registry):
    database, config = old_registry
    asyncio.run(_fill(database.url))
    command.upgrade(config, "head")
    found = asyncio.run(_read(database.url))

    years = {(row["uscc"], row["year"]): row for row in found["years"]}
    # The year's district: the enterprise's district when the migration runs.
    assert {key: row["district_code"] for key, row in years.items()} == {
        (E1, 2024): "500103",
        (E1, 2025): "500103",
        (E2, 2024): "500103",
        (E2, 2025): "500103",
        (E3, 2024): "500105",
    }
    # The latest audit entry of each year decides: the city → verified by "city" then; a district → submitted by it;
    # none → submitted by "migration". E2's years were written by imports (entity "enterprise", the years in `after`).
    summary = {key: (row["verification_status"], row["submitted_by"], row["verified_by"]) for key, row in years.items()}
    assert summary == {
        (E1, 2024): ("verified", "city", "city"),
        (E1, 2025): ("submitted", "district:500103", None),
        (E2, 2024): ("submitted", "district:500103", None),
        (E2, 2025): ("verified", "city", "city"),
        (E3, 2024): ("submitted", "migration", None),
    }
    assert _at(years[(E1, 2024)]["submitted_at"]) == T1 and _at(years[(E1, 2024)]["verified_at"]) == T1
    assert _at(years[(E1, 2025)]["submitted_at"]) == T2 and years[(E1, 2025)]["verified_at"] is None
    assert _at(years[(E2, 2024)]["submitted_at"]) == T3
    assert _at(years[(E2, 2025)]["submitted_at"]) == T4 and _at(years[(E2, 2025)]["verified_at"]) == T4

    assert found["evaluations"] == [{"verification_status": "verified", "submitted_by": "city", "verified_by": "city"}]
    assert [(row["verification_status"], row["submitted_by"]) for row in found["buildings"]] == [
        ("submitted", "district:500103")
    ]
    assert _at(found["buildings"][0]["submitted_at"]) == T3
    assert found["building_years"] == [{"verification_status": "submitted", "submitted_by": "migration"}]

    # Projects: 2 and 4 are the same as 1 (the lowest id stands), 3 and 5 are their own; the unique index holds.
    assert [(row["id"], row["name_key"], row["duplicate_of_id"], row["project_code"]) for row in found["projects"]] == [
        (1, "数字经济项目2025", None, None),
        (2, "数字经济项目2025", 1, None),
        (3, "另一个项目", None, None),
        (4, "数字经济项目2025", 1, None),
        (5, "数字经济项目2025", None, None),
    ]
    assert [(row["verification_status"], row["submitted_by"]) for row in found["projects"]] == [
        ("verified", "city"),
        ("submitted", "district:500103"),
        ("submitted", "migration"),
        ("submitted", "migration"),
        ("submitted", "migration"),
    ]
    assert found["duplicate_refused"] == [{"refused": True}]
    assert found["clusters"] == [
        {"belongs_to_kind": "district", "belongs_to_district": "500112", "belongs_to_department": None}
    ]
    assert found["enterprises"] == [{"parent_uscc": None, "spun_off_on": None}] * 3

    # And back: 0001's shape with every row kept.
    command.downgrade(config, "0001")

    async def count() -> tuple[int, ...]:
        engine = create_async_engine(database.url)
        async with engine.connect() as connection:
            numbers = [
                (await connection.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one()
                for table in ("enterprise_years", "projects", "audit_log")
            ]
            columns = (
                await connection.execute(
                    sa.text("SELECT count(*) FROM information_schema.columns WHERE column_name = 'verification_status'")
                )
            ).scalar_one()
        await engine.dispose()
        return (*numbers, columns)

    # 5 enterprise years, 5 projects, 11 audit entries; no verification column left.
    assert asyncio.run(count()) == (5, 5, 11, 0)
    command.upgrade(config, "head")
