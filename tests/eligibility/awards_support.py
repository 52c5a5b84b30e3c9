"""Helpers of the award ledger's tests: proposing, stepping through the workflow, counting rows, a ranking."""

from datetime import date, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.eligibility.rules.base import DOCUMENT
from shared.clock import Clock

# Another city policy of the same kind, whose awards are recorded into the ledger so that 就高不重复 sees them.
OTHER_POLICY = "渝经信发〔2023〕12号"
THIS_POLICY = DOCUMENT
# The day the award tests' clock is held at (a Monday; the Dragon Boat Festival holiday, 2025-05-31 … 06-02).
TODAY = date(2025, 6, 2)


async def register_other_policy(client: httpx.AsyncClient) -> dict[str, Any]:
    """Register OTHER_POLICY (as the city): an award names a registered policy."""
    body = {
        "document_number": OTHER_POLICY,
        "title": "重庆市支持软件和信息服务业发展若干政策",
        "issuer": "重庆市经济和信息化委员会",
        "effective_from": "2023-06-01",
        "effective_to": "2026-12-31",
    }
    response = await client.post("/policies", json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def rows(app: FastAPI, table: str) -> int:
    async with app.state.engine.connect() as connection:
        return int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def written(app: FastAPI) -> tuple[int, int]:
    """(awards, award events): what a refused request must leave unchanged."""
    return await rows(app, "awards"), await rows(app, "award_events")


def other_policy(subject_type: str, subject_id: str, amount: str, **extra: Any) -> dict[str, Any]:
    """An award under another city policy: recorded without a formula; the subject's district is the registry's."""
    body = {
        "policy": OTHER_POLICY,
        "measure_id": "第五条",
        "subject_type": subject_type,
        "subject_id": subject_id,
        "amount_yuan": amount,
        **extra,
    }
    if subject_type == "enterprise":
        body.setdefault("recipient_kind", "enterprise")
    return body


async def propose(client: httpx.AsyncClient, body: dict[str, Any], expected: int = 201) -> dict[str, Any]:
    response = await client.post("/awards", json=body)
    assert response.status_code == expected, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def step(
    client: httpx.AsyncClient,
    award_id: int,
    action: str,
    *,
    on: str | None = None,
    reason: str | None = None,
    expected: int = 200,
) -> dict[str, Any]:
    body: dict[str, Any] = {"action": action}
    if on is not None:
        body["on"] = on
    if reason is not None:
        body["reason"] = reason
    response = await client.post(f"/awards/{award_id}/transitions", json=body)
    assert response.status_code == expected, response.text
    answer: dict[str, Any] = response.json()
    return answer


# A notice published on Monday 2025-06-02 (the last day of the Dragon Boat Festival holiday; the first day does not
# count anyway) runs five working days, Tuesday 3 to Monday 9 June; payment from the 10th.
PUBLICISED_ON = "2025-06-02"
NOTICE_ENDS_ON = "2025-06-09"
PAID_ON = "2025-06-10"


async def pay(client: httpx.AsyncClient, clock: Clock, award_id: int) -> dict[str, Any]:
    """approve → publicise today → pay on the day after the notice window, the clock moved there."""
    await step(client, award_id, "approve")
    publicised = await step(client, award_id, "publicise")
    clock.hold(date.fromisoformat(publicised["notice_ends_on"]) + timedelta(days=1))
    return await step(client, award_id, "pay")


async def award(client: httpx.AsyncClient, award_id: int) -> dict[str, Any]:
    response = await client.get(f"/awards/{award_id}")
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def ranking_rows(leader: str, others: list[str], serial: int) -> dict[int, list[dict[str, Any]]]:
    """Registry import rows that rank `leader` first for 2025 and leave `others` equal just behind it.

    `leader`: two enterprises above size in 2024 and 2025 (20,000,000 → 22,000,000 each) and three new ones above
    size in 2025: the highest new count (3) and net increase (3) of the 38. Each district of `others`: one
    enterprise above size in both years at 20,000,000: no new one, no net increase, no growth, so all of them score
    the same; they have above-size enterprises, so they may take award places (第（六）条), and the methodology's
    last tie-break, the district code, orders them. Growth on fewer than 5 comparable enterprises is capped at the
    median of the districts that meet the base (none do: 0), so no growth counts anywhere.
    """
    from shared.uscc import make_uscc

    def enterprise(district_code: str, index: int) -> dict[str, Any]:
        uscc = make_uscc(f"91{district_code}{serial + index:09d}")
        return {
            "uscc": uscc,
            "name": f"排名企业{uscc[-6:]}",
            "district_code": district_code,
            "sector": "software_it",
            "established_on": "2018-03-01",
            "spun_off_from_manufacturer": False,
        }

    def figures(year: int, revenue: str) -> dict[str, Any]:
        return {"year": year, "revenue_yuan": revenue, "employees": 50, "above_scale": True, "top500_service": False}

    comparable = [enterprise(leader, index) for index in range(2)]
    new = [enterprise(leader, index) for index in range(2, 5)]
    steady = [enterprise(code, 10 + index) for index, code in enumerate(others)]
    return {
        2024: [{**e, **figures(2024, "20000000.00")} for e in comparable + steady],
        2025: [{**e, **figures(2025, "22000000.00")} for e in comparable]
        + [{**e, **figures(2025, "25000000.00")} for e in new]
        + [{**e, **figures(2025, "20000000.00")} for e in steady],
    }
