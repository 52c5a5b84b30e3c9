"""The nightly screening snapshots and their difference, as events: worked out by hand on a small registry.

As of 2025-06-30, for 2025, default parameters:
- eA (渝中区, spun off 2024-11-19, revenue 25,000,000.00): M07b 1,000,000.00 (≥ 20,000,000, 第（七）条);
- eB (渝北区, spun off, revenue 19,999,999.99): nothing (below the threshold);
- eC (渝中区, not spun off) owns pC, an investment project verified at 12,345,678.95: M01 1,234,567.90 (10%, half-up);
- c1 (渝中区, grade A, tier 2): M03 6,000,000.00, paid to the district (no enterprise: never an event).
Then eA's revenue falls to 19,000,000.00, eB's rises to exactly 20,000,000.00 (达到…以上 includes it), eC organises
pD, an event with actual spend 100.05 (M13: 30% → 30.015 → 30.02), and c1 is re-graded B.
"""

from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.eligibility.screenings import snapshots
from services.eligibility.screenings.snapshots import SnapshotOutcome
from services.eligibility.tasks import Upstreams
from shared.clock import Clock
from shared.db import make_sessionmaker
from tests.eligibility.scenario import cluster, enterprise, project, year
from tests.eligibility_jobs.support import outbox, rows, wait_for

TODAY = date(2025, 6, 30)


async def take(app: FastAPI, upstreams: Upstreams, year_: int, keep: int = 30) -> SnapshotOutcome:
    """What the task snapshot_year does: the year's screening, stored, diffed, its events recorded."""
    screening = await snapshots.screen_year(upstreams.registry, await upstreams.parameters.get(), year_, TODAY)
    async with make_sessionmaker(app.state.engine).begin() as session:
        return await snapshots.store(session, screening, year_, TODAY, keep=keep)


async def entries(app: FastAPI, snapshot_id: int) -> set[tuple[str, str, str]]:
    async with app.state.engine.connect() as connection:
        result = await connection.execute(
            text(
                "SELECT measure_id, subject_id, amount_yuan::text FROM screening_snapshot_entries "
                "WHERE snapshot_id = :id"
            ),
            {"id": snapshot_id},
        )
        return {(row[0], row[1], row[2]) for row in result}


async def seed(registry: httpx.AsyncClient) -> dict[str, str]:
    e_a = await enterprise(registry, "500103", sector="supply_chain", spun_off=True)
    await year(registry, e_a, 2025, "25000000.00", top500=False)
    e_b = await enterprise(registry, "500112", sector="modern_logistics", spun_off=True)
    await year(registry, e_b, 2025, "19999999.99", top500=False)
    e_c = await enterprise(registry, "500103", sector="software_it", spun_off=False)
    await year(registry, e_c, 2025, "30000000.00", top500=False)
    p_c = await project(
        registry, kind="investment", owner_uscc=e_c, district_code="500103", year=2025,
        verified_investment_yuan="12345678.95",
    )  # fmt: skip
    c1 = await cluster(registry, "500103", e_c, "A", 2)
    return {"eA": e_a, "eB": e_b, "eC": e_c, "pC": p_c, "c1": c1}


async def change(registry: httpx.AsyncClient, s: dict[str, str]) -> None:
    await year(registry, s["eA"], 2025, "19000000.00", top500=False)
    await year(registry, s["eB"], 2025, "20000000.00", top500=False)
    s["pD"] = await project(
        registry, kind="event", owner_uscc=s["eC"], district_code="500103", year=2025, actual_spend_yuan="100.05"
    )
    response = await registry.put(f"/clusters/{s['c1']}/evaluations/2025", json={"grade": "B", "score": "70.00"})
    assert response.status_code in (200, 201), response.text


async def test_the_first_snapshot_is_a_baseline_and_the_next_reports_each_change_once(
    eligibility_app: FastAPI, registry: httpx.AsyncClient, upstreams: Upstreams, clock: Clock
) -> None:
    clock.hold(TODAY)
    s = await seed(registry)

    first = await take(eligibility_app, upstreams, 2025)
    assert first.baseline and (first.newly_eligible, first.no_longer_eligible) == (0, 0)
    assert await entries(eligibility_app, first.snapshot_id) == {
        ("M07b", s["eA"], "1000000.00"),
        ("M01", s["pC"], "1234567.90"),
        ("M03", s["c1"], "6000000.00"),
    }
    # Nothing to compare with: the eligible of the first snapshot are not announced as newly eligible.
    assert await outbox(eligibility_app) == []
    async with eligibility_app.state.engine.connect() as connection:
        stored = (
            await connection.execute(
                text("SELECT eligible_count, amount_yuan, baseline, events_recorded FROM screening_snapshots")
            )
        ).one()
    assert tuple(stored) == (3, Decimal("8234567.90"), True, 0)

    await change(registry, s)
    second = await take(eligibility_app, upstreams, 2025)
    assert not second.baseline
    assert (second.eligible, second.newly_eligible, second.no_longer_eligible) == (3, 2, 1)
    assert await entries(eligibility_app, second.snapshot_id) == {
        ("M07b", s["eB"], "1000000.00"),
        ("M01", s["pC"], "1234567.90"),
        ("M13", s["pD"], "30.02"),
    }
    events = await outbox(eligibility_app)
    found = {(e["type"], e["subject"], e["district_code"], e["data"]["measure_id"]) for e in events}
    assert found == {
        ("enterprise.newly_eligible", f"enterprise:{s['eB']}", "500112", "M07b"),
        ("enterprise.newly_eligible", f"enterprise:{s['eC']}", "500103", "M13"),  # its event, pD
        ("enterprise.no_longer_eligible", f"enterprise:{s['eA']}", "500103", "M07b"),
    }
    assert len(events) == 3  # pC unchanged: none; c1 (M03) concerns no enterprise: none
    by_measure = {(e["type"], e["data"]["measure_id"]): e["data"] for e in events}
    newly_b = by_measure[("enterprise.newly_eligible", "M07b")]
    assert newly_b == {
        "links": {"self": f"/api/v1/eligibility/enterprises/{s['eB']}/matches?year=2025"},
        "measure_id": "M07b",
        "subject_type": "enterprise",
        "year": 2025,
        "subject_id": s["eB"],
        "subject_name": newly_b["subject_name"],
        "enterprise_uscc": s["eB"],
        "recipient_kind": "enterprise",
        "recipient": s["eB"],
        "amount_yuan": "1000000.00",
        "as_of": "2025-06-30",
        "snapshot_id": second.snapshot_id,
    }
    event_d = by_measure[("enterprise.newly_eligible", "M13")]
    assert (event_d["subject_type"], event_d["subject_id"], event_d["amount_yuan"]) == ("project", s["pD"], "30.02")
    gone_a = by_measure[("enterprise.no_longer_eligible", "M07b")]
    assert (gone_a["subject_id"], gone_a["amount_yuan"]) == (s["eA"], "1000000.00")  # what it was eligible for

    third = await take(eligibility_app, upstreams, 2025)
    assert (third.baseline, third.newly_eligible, third.no_longer_eligible) == (False, 0, 0)
    assert len(await outbox(eligibility_app)) == 3


async def test_each_year_has_its_own_baseline_and_old_snapshots_are_pruned(
    eligibility_app: FastAPI, registry: httpx.AsyncClient, upstreams: Upstreams, clock: Clock
) -> None:
    clock.hold(TODAY)
    s = await seed(registry)
    assert (await take(eligibility_app, upstreams, 2025, keep=2)).baseline
    assert (await take(eligibility_app, upstreams, 2024, keep=2)).baseline  # 2024: a first snapshot of its own
    await change(registry, s)
    second = await take(eligibility_app, upstreams, 2025, keep=2)
    assert not second.baseline and second.pruned == 0
    third = await take(eligibility_app, upstreams, 2025, keep=2)
    assert third.pruned == 1  # the baseline of 2025 goes, its entries with it
    async with eligibility_app.state.engine.connect() as connection:
        kept = (
            await connection.execute(text("SELECT year, count(*) FROM screening_snapshots GROUP BY year ORDER BY year"))
        ).all()
        orphans = (
            await connection.execute(
                text(
                    "SELECT count(*) FROM screening_snapshot_entries e "
                    "WHERE NOT EXISTS (SELECT 1 FROM screening_snapshots s WHERE s.id = e.snapshot_id)"
                )
            )
        ).scalar_one()
    assert [tuple(row) for row in kept] == [(2024, 1), (2025, 2)]
    assert orphans == 0
    assert len(await outbox(eligibility_app)) == 3  # the 2025 changes, once


def test_the_years_in_force_are_the_rewarded_years_up_to_today_while_the_policy_is_in_force(
    eligibility_app: FastAPI,
) -> None:
    parameters = eligibility_app.state.parameter_store.base
    assert snapshots.years_in_force(parameters, date(2024, 11, 18)) == []  # before the policy
    assert snapshots.years_in_force(parameters, date(2024, 11, 19)) == [2024]
    assert snapshots.years_in_force(parameters, TODAY) == [2024, 2025]
    assert snapshots.years_in_force(parameters, date(2027, 12, 31)) == [2024, 2025, 2026, 2027]
    # After its end every subject would be "not in force": no snapshot, or all would be reported no longer eligible.
    assert snapshots.years_in_force(parameters, date(2028, 1, 1)) == []


async def test_the_nightly_task_snapshots_every_year_in_force_through_the_worker(
    eligibility_app: FastAPI, registry: httpx.AsyncClient, clock: Clock, worker: Any
) -> None:
    clock.hold(TODAY)
    s = await seed(registry)
    # A cron of every minute: the worker defers the periodic task of the last minute as it starts.
    async with worker(snapshot_cron="* * * * *"):
        assert await wait_for(lambda: rows(eligibility_app, "screening_snapshots"), 2) == 2
        await change(registry, s)
        await _defer(eligibility_app, "eligibility:take_snapshots", {"timestamp": 0})
        assert await wait_for(lambda: rows(eligibility_app, "screening_snapshots"), 4) == 4
    async with eligibility_app.state.engine.connect() as connection:
        years = (await connection.execute(text("SELECT year, baseline FROM screening_snapshots ORDER BY id"))).all()
    assert sorted(tuple(row) for row in years) == [(2024, False), (2024, True), (2025, False), (2025, True)]
    assert sorted((e["type"], e["data"]["measure_id"]) for e in await outbox(eligibility_app)) == [
        ("enterprise.newly_eligible", "M07b"),
        ("enterprise.newly_eligible", "M13"),
        ("enterprise.no_longer_eligible", "M07b"),
    ]


async def _defer(app: FastAPI, task: str, args: dict[str, Any]) -> None:
    from shared.queue import enqueue

    async with make_sessionmaker(app.state.engine).begin() as session:
        await enqueue(session, task, args)
