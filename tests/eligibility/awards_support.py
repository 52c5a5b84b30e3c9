"""Helpers of the award ledger's tests: proposing, stepping through the workflow, counting rows, a ranking."""

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.eligibility.rules.base import DOCUMENT
from tests.support import truncate

AWARD_TABLES = ("award_events", "awards")
# Another city policy of the same kind, whose awards are recorded into the ledger so that 就高不重复 sees them.
OTHER_POLICY = "渝经信发〔2023〕12号"
THIS_POLICY = DOCUMENT


async def clean(app: FastAPI) -> None:
    await truncate(app, AWARD_TABLES)


async def rows(app: FastAPI, table: str) -> int:
    async with app.state.engine.connect() as connection:
        return int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def written(app: FastAPI) -> tuple[int, int]:
    """(awards, award events): what a refused request must leave unchanged."""
    return await rows(app, "awards"), await rows(app, "award_events")


def other_policy(subject_type: str, subject_id: str, amount: str, district_code: str, **extra: Any) -> dict[str, Any]:
    """An award under another city policy: recorded without a formula, its district named by the caller."""
    return {
        "policy": OTHER_POLICY,
        "measure_id": "第五条",
        "subject_type": subject_type,
        "subject_id": subject_id,
        "amount_yuan": amount,
        "district_code": district_code,
        **extra,
    }


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


# A notice published on Monday 2025-06-02 runs five working days, Tuesday 3 to Monday 9 June; payment from the 10th.
PUBLICISED_ON = "2025-06-02"
NOTICE_ENDS_ON = "2025-06-09"
PAID_ON = "2025-06-10"


async def pay(client: httpx.AsyncClient, award_id: int) -> dict[str, Any]:
    """approve → publicise on PUBLICISED_ON → pay on PAID_ON."""
    await step(client, award_id, "approve")
    await step(client, award_id, "publicise", on=PUBLICISED_ON)
    return await step(client, award_id, "pay", on=PAID_ON)


async def award(client: httpx.AsyncClient, award_id: int) -> dict[str, Any]:
    response = await client.get(f"/awards/{award_id}")
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def district_rows(district_code: str, serial: int) -> dict[int, list[dict[str, Any]]]:
    """Registry import rows that rank `district_code` first for 2025 and leave the other 37 equal.

    Two enterprises above size in 2024 and 2025 (20,000,000 → 22,000,000 each: growth 10%) and three new ones
    above size in 2025: the district has the highest new count (3) and net increase (3) of the 38; every other
    district has none of either and no comparable growth, so all 37 score the same and are ordered by the
    methodology's last tie-break, the district code.
    """
    from shared.uscc import make_uscc

    def enterprise(index: int) -> dict[str, Any]:
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

    comparable = [enterprise(index) for index in range(2)]
    new = [enterprise(index) for index in range(2, 5)]
    return {
        2024: [{**e, **figures(2024, "20000000.00")} for e in comparable],
        2025: [{**e, **figures(2025, "22000000.00")} for e in comparable]
        + [{**e, **figures(2025, "25000000.00")} for e in new],
    }
