"""Eligibility's migration 0005 on a ledger of the old shape: awards move to the new identity, nothing is lost.

Old shape (revision 0004): the policy as free text, a stacking key of the subject plus any year the caller gave,
one key for M07a and M07b. Each expectation is worked out by hand from the rows below.
"""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.eligibility import SERVICE_DIR as ELIGIBILITY_DIR
from shared.migrations import upgrade
from tests.support import TestDatabase

OTHER = "渝经信发〔2023〕12号"
E = "91500103MA5U0RKX48"
_COLUMNS = (
    "id, policy, measure_id, subject_type, subject_id, subject_name, recipient, year, stacking_key, district_code, "
    "amount_yuan, payable_yuan, tops_up_award_id, status, is_standing, superseded_by_id, created_at, created_by, "
    "updated_at"
)
# id, policy as typed, measure, subject type, subject id, recipient, year, old key, district, amount, payable,
# tops up, status, standing.
OLD_AWARDS: list[tuple[Any, ...]] = [
    # This policy disguised by a space, and another policy naming a year on the same one-off project: both stood.
    (1, "渝发改规范〔2024〕7 号", "M01", "project", "5", "91500103MA5U7XXX00", None, "project:5", "500103",
     "1000000.00", "1000000.00", None, "proposed", True),
    (2, OTHER, "第五条", "project", "5", None, 2025, "project:5:2025", "500103",
     "2000000.00", "2000000.00", None, "approved", True),
    # M07b paid 1,000,000, then M07a of 5,000,000 made a "top-up" of it paying 4,000,000.
    (3, "渝发改规范〔2024〕7号", "M07b", "enterprise", E, E, None, f"enterprise:{E}", "500103",
     "1000000.00", "1000000.00", None, "paid", False),
    (4, "渝发改规范〔2024〕7号", "M07a", "enterprise", E, "500103", None, f"enterprise:{E}", "500103",
     "5000000.00", "4000000.00", 3, "proposed", True),
    # Another policy's cluster award without a year (recorded in 2025) beside this policy's M03 for 2025.
    (5, "渝经信发[2023]第12号", "第三条", "cluster", "7", None, None, "cluster:7", "500112",
     "3000000.00", "3000000.00", None, "proposed", True),
    (6, "渝发改规范〔2024〕7号", "M03", "cluster", "7", "91500112MA5U7XXX01", 2025, "cluster:7:2025", "500112",
     "6000000.00", "6000000.00", None, "proposed", True),
]  # fmt: skip


@pytest.fixture
def database() -> Iterator[TestDatabase]:
    made = TestDatabase("eligibility_upgrade", ELIGIBILITY_DIR)
    made._admin_execute(f'CREATE DATABASE "{made.name}"')
    try:
        yield made
    finally:
        made.drop()


async def _rows(url: str, query: str) -> list[dict[str, Any]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return [dict(row) for row in (await connection.execute(text(query))).mappings().all()]
    finally:
        await engine.dispose()


async def test_old_awards_move_to_the_new_identity(database):
    # Alembic runs its own event loop: in a thread of its own.
    await asyncio.to_thread(upgrade, ELIGIBILITY_DIR, database.url, "0004")
    recorded = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)
    engine = create_async_engine(database.url)
    async with engine.begin() as connection:
        for row in OLD_AWARDS:
            values = dict(zip(
                ("id", "policy", "measure_id", "subject_type", "subject_id", "recipient", "year", "stacking_key",
                 "district_code", "amount_yuan", "payable_yuan", "tops_up_award_id", "status", "is_standing"),
                row, strict=True,
            ))  # fmt: skip
            await connection.execute(
                text(
                    f"INSERT INTO awards ({_COLUMNS}) VALUES (:id, :policy, :measure_id, :subject_type, :subject_id, "
                    "NULL, :recipient, :year, :stacking_key, :district_code, CAST(:amount_yuan AS numeric), "
                    "CAST(:payable_yuan AS numeric), :tops_up_award_id, :status, :is_standing, NULL, :at, 'city', :at)"
                ),
                {**values, "at": recorded},
            )
            await connection.execute(
                text(
                    "INSERT INTO award_events (award_id, event, from_status, to_status, effective_on, actor_role, at) "
                    "VALUES (:id, 'propose', NULL, 'proposed', '2025-06-02', 'city', :at)"
                ),
                {"id": values["id"], "at": recorded},
            )
    await engine.dispose()

    await asyncio.to_thread(upgrade, ELIGIBILITY_DIR, database.url, "head")

    policies = await _rows(database.url, "SELECT id, document_number, created_by FROM policies ORDER BY id")
    assert [(p["document_number"], p["created_by"]) for p in policies] == [
        ("渝发改规范〔2024〕7号", "migration"),
        (OTHER, "migration"),  # both spellings of the other policy are one document
    ]
    other_id = policies[1]["id"]
    awards = {
        row["id"]: row
        for row in await _rows(
            database.url,
            "SELECT id, policy, policy_id, recipient_kind, recipient, year, stacking_key, status, is_standing, "
            "superseded_by_id, tops_up_award_id, payable_yuan FROM awards",
        )
    }
    shape = {
        award_id: (
            row["policy_id"], row["recipient_kind"], row["recipient"], row["year"], row["stacking_key"],
            row["status"], row["is_standing"], row["superseded_by_id"], row["tops_up_award_id"], f"{row['payable_yuan']:.2f}",
        )
        for award_id, row in awards.items()
    }  # fmt: skip
    assert shape == {
        # The project: one subject. 2,000,000 (another policy) stands; this policy's 1,000,000 is superseded.
        1: (1, "enterprise", "91500103MA5U7XXX00", None, "project:5", "superseded", False, 2, None, "1000000.00"),
        2: (other_id, "enterprise", None, None, "project:5", "approved", True, None, None, "2000000.00"),
        # （七）: M07b (the enterprise) and M07a (the district) are different supports: each pays in full.
        3: (1, "enterprise", E, None, f"enterprise:{E}:enterprise", "paid", True, None, None, "1000000.00"),
        4: (1, "district", "500103", None, f"enterprise:{E}:district", "proposed", True, None, None, "5000000.00"),
        # The cluster: the year recorded (2025) joins this policy's M03 of 2025; 6,000,000 stands. （三）pays the
        # cluster's district government.
        5: (other_id, "district", "500112", 2025, "cluster:7:2025", "superseded", False, 6, None, "3000000.00"),
        6: (1, "district", "500112", 2025, "cluster:7:2025", "proposed", True, None, None, "6000000.00"),
    }
    events = await _rows(database.url, "SELECT award_id, event, to_status, reason FROM award_events ORDER BY id")
    migrated = [(e["award_id"], e["to_status"]) for e in events if e["event"] == "migrate"]
    assert sorted(migrated) == sorted(
        [
            (1, "proposed"),  # policy spelling
            (1, "superseded"),  # superseded by 2
            (2, "approved"),  # the year dropped
            (3, "paid"),  # stands again
            (4, "proposed"),  # the recipient is the district
            (4, "proposed"),  # no longer a top-up
            (5, "proposed"),  # policy spelling
            (5, "proposed"),  # the recipient is the district
            (5, "proposed"),  # the year recorded
            (5, "superseded"),  # superseded by 6
            (6, "proposed"),  # the recipient is the district, not the manager
        ]
    )
    # Nothing of the history is lost: every old event is still there.
    assert sum(1 for e in events if e["event"] == "propose") == len(OLD_AWARDS)
