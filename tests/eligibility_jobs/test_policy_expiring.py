"""policy.expiring: one event per registered policy whose validity ends within the notice period (30 days by
default, ELIGIBILITY_POLICY_EXPIRY_NOTICE_DAYS), once, whatever the number of runs."""

from datetime import date
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.eligibility.reminders import service as reminders
from shared.clock import Clock
from shared.db import make_sessionmaker
from tests.eligibility_jobs.support import outbox, rows, wait_for
from tests.support import CITY

TODAY = date(2025, 6, 30)


async def register(client: httpx.AsyncClient, number: str, effective_to: str | None) -> int:
    body = {
        "document_number": number,
        "title": "某项政策",
        "issuer": "重庆市人民政府办公厅",
        "effective_from": "2023-01-01",
        "effective_to": effective_to,
    }
    response = await client.post("/policies", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def run(app: FastAPI, today: date, days: int = 30) -> list[int]:
    async with make_sessionmaker(app.state.engine).begin() as session:
        return [reminder.policy_id for reminder in await reminders.remind_expiring(session, today, days)]


async def expiring_events(app: FastAPI) -> list[dict[str, Any]]:
    return [event for event in await outbox(app) if event["type"] == "policy.expiring"]


async def test_a_policy_ending_within_the_period_gets_one_event_once(eligibility_app: FastAPI, client_for: Any) -> None:
    city = client_for(CITY)
    soon = await register(city, "渝府办发〔2024〕3号", "2025-07-30")  # 30 days after TODAY: within
    later = await register(city, "渝财规〔2022〕5号", "2025-07-31")  # 31 days: not yet
    await register(city, "渝经信发〔2023〕12号", "2025-06-29")  # ended yesterday: never
    await register(city, "渝人社发〔2023〕8号", None)  # no end: never
    # 渝发改规范〔2024〕7号 itself (the migration's) ends 2027-12-31: far away.

    assert await run(eligibility_app, TODAY) == [soon]
    assert await run(eligibility_app, TODAY) == []  # the same day again: nothing more
    events = await expiring_events(eligibility_app)
    assert len(events) == 1
    (event,) = events
    assert (event["subject"], event["district_code"]) == (f"policy:{soon}", None)
    assert event["data"] == {
        "links": {"self": f"/api/v1/eligibility/policies/{soon}"},
        "policy_id": soon,
        "document_number": "渝府办发〔2024〕3号",
        "title": "某项政策",
        "issuer": "重庆市人民政府办公厅",
        "effective_from": "2023-01-01",
        "effective_to": "2025-07-30",
        "days_left": 30,
        "notice_days": 30,
    }

    # A day later the second enters the period; the first is not reminded of again, to its end and after.
    assert await run(eligibility_app, date(2025, 7, 1)) == [later]
    assert await run(eligibility_app, date(2025, 7, 30)) == []
    assert [e["subject"] for e in await expiring_events(eligibility_app)] == [f"policy:{soon}", f"policy:{later}"]
    assert await rows(eligibility_app, "policy_expiry_notices") == 2


async def test_the_notices_are_append_only(eligibility_app: FastAPI, client_for: Any) -> None:
    await register(client_for(CITY), "渝府办发〔2024〕3号", "2025-07-01")
    await run(eligibility_app, TODAY)
    async with eligibility_app.state.engine.connect() as connection:
        try:
            await connection.execute(text("DELETE FROM policy_expiry_notices"))
        except Exception as error:  # the trigger refuses it
            assert "append-only" in str(error)
        else:  # pragma: no cover
            raise AssertionError("a notice was deleted")


async def test_the_daily_task_runs_through_the_worker(
    eligibility_app: FastAPI, client_for: Any, clock: Clock, worker: Any
) -> None:
    clock.hold(TODAY)
    policy = await register(client_for(CITY), "渝府办发〔2024〕3号", "2025-07-10")
    async with worker(policy_expiry_cron="* * * * *", policy_expiry_notice_days=10):
        assert await wait_for(lambda: rows(eligibility_app, "policy_expiry_notices"), 1) == 1
    events = await expiring_events(eligibility_app)
    assert [(e["subject"], e["data"]["days_left"], e["data"]["notice_days"]) for e in events] == [
        (f"policy:{policy}", 10, 10)
    ]
