"""POST /calculate and /calculate/batch: public, exact, explained, and strict about input."""

import json

import httpx
import pytest
from sqlalchemy import MetaData, func, select

from shared.auth import NONCE_HEADER, Principal, sign_principal
from shared.nonces import nonce_table
from tests.eligibility.test_policies import other_policy
from tests.support import ANONYMOUS, CITY, TEST_SECRET


async def test_calculate_explains_the_amount(client_for):
    # 第（一）条: 10% × 12,345,678.95 = 1,234,567.895 → half-up 1,234,567.90, below the 5,000,000 cap.
    body = {
        "measure_id": "M01",
        "as_of": "2025-06-30",
        "facts": {"verified_investment_yuan": "12345678.95", "special_major_approved": False},
    }
    response = await client_for(ANONYMOUS).post("/calculate", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["eligible"] is True and answer["amount_yuan"] == "1234567.90"
    assert answer["reasons"] == []
    assert answer["parameters_used"] == {"m01.ratio": "0.10", "m01.cap_yuan": "5000000.00"}
    assert {
        "step": "rounded half-up to the fen",
        "value": "1234567.90",
        "citation": "渝发改规范〔2024〕7号 第（一）条",
    } in (answer["trace"])


async def test_not_in_force_is_an_answer_not_an_error(client_for):
    body = {"measure_id": "M13", "as_of": "2028-01-01", "facts": {"actual_spend_yuan": "100000.00"}}
    response = await client_for(ANONYMOUS).post("/calculate", json=body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["eligible"] is False and answer["amount_yuan"] == "0.00"
    assert answer["reasons"][0]["code"] == "policy_not_in_force"


# 七、附则: the policy rewards the years 2024–2027 (policy.first_rewarded_year … last_rewarded_year). The same facts,
# on the same day the policy is in force, give nothing for a 2023 year and the full amount for 2025.
M03_TIER_1 = {"measure_id": "M03", "as_of": "2025-06-30", "facts": {"grade": "A", "tier": 1}}


async def test_a_year_the_policy_does_not_reward_is_not_eligible(client_for):
    response = await client_for(ANONYMOUS).post("/calculate", json={**M03_TIER_1, "year": 2023})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["eligible"] is False and answer["amount_yuan"] == "0.00"
    assert answer["reasons"] == [
        {"code": "year_not_covered", "message": "渝发改规范〔2024〕7号 rewards the years 2024–2027, not 2023"}
    ]
    assert answer["trace"][-1] == {
        "step": "year covered by the policy",
        "value": "no: 2023 is outside 2024–2027",
        "citation": answer["trace"][0]["citation"],
    }


async def test_a_year_the_policy_rewards_is_calculated(client_for):
    for year in (2025, None):  # no year: nothing to check beyond the validity on as_of
        body = {**M03_TIER_1, "year": year} if year else M03_TIER_1
        response = await client_for(ANONYMOUS).post("/calculate", json=body)
        assert response.status_code == 200, response.text
        answer = response.json()
        # 第（三）条 grade A, tier 1: m03.tier_amounts_yuan["1"] = 10,000,000 (within 200—1000万元).
        assert answer["eligible"] is True and answer["amount_yuan"] == "10000000.00"
        covered = [step for step in answer["trace"] if step["step"] == "year covered by the policy"]
        assert covered == ([{**covered[0], "value": "yes: 2025 is within 2024–2027"}] if year else [])


async def test_a_batch_item_takes_its_own_year(client_for):
    items = [{**M03_TIER_1, "year": 2024}, {**M03_TIER_1, "year": 2028}, {**_item(0), "year": 2025}]
    answers = (await client_for(ANONYMOUS).post("/calculate/batch", json=items)).json()["items"]
    # （三）tier 1 for 2024: 10,000,000; 2028 is not rewarded; （十三）30% × 1,000.00 = 300.00 for 2025.
    assert [(a["eligible"], a["amount_yuan"]) for a in answers] == [
        (True, "10000000.00"),
        (False, "0.00"),
        (True, "300.00"),
    ]
    assert answers[1]["reasons"][0]["code"] == "year_not_covered"


async def test_numbers_are_accepted_as_exact_json_numbers(client_for):
    body = {"measure_id": "M13", "as_of": "2025-01-01", "facts": {"actual_spend_yuan": 100.05}}
    response = await client_for(ANONYMOUS).post("/calculate", json=body)
    assert response.json()["amount_yuan"] == "30.02"  # 第（十三）条: 30% × 100.05 = 30.015 → 30.02


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"measure_id": "M99", "as_of": "2025-01-01", "facts": {}}, ["body", "measure_id"]),
        ({"measure_id": "M04", "as_of": "2025-01-01", "facts": {}}, ["body", "measure_id"]),
        # Not a string at all (was a 500: an object or a list cannot be looked up among the measures).
        ({"measure_id": {"$ne": None}, "as_of": "2025-01-01", "facts": {}}, ["body", "measure_id"]),
        ({"measure_id": [[[]]], "as_of": "2025-01-01", "facts": {}}, ["body", "measure_id"]),
        ({"measure_id": 13, "as_of": "2025-01-01", "facts": {}}, ["body", "measure_id"]),
        ({"measure_id": "M13", "as_of": "2025-02-30", "facts": {"actual_spend_yuan": "1.00"}}, ["body", "as_of"]),
        ({"measure_id": "M13", "as_of": "yesterday", "facts": {"actual_spend_yuan": "1.00"}}, ["body", "as_of"]),
        ({"measure_id": "M13", "facts": {"actual_spend_yuan": "1.00"}}, ["body", "as_of"]),
        ({"measure_id": "M13", "as_of": "2025-01-01", "facts": {}}, ["body", "facts", "actual_spend_yuan"]),
        (
            {"measure_id": "M13", "as_of": "2025-01-01", "facts": {"actual_spend_yuan": "-5.00"}},
            ["body", "facts", "actual_spend_yuan"],
        ),
        (
            {"measure_id": "M13", "as_of": "2025-01-01", "facts": {"actual_spend_yuan": "abc"}},
            ["body", "facts", "actual_spend_yuan"],
        ),
        (
            {"measure_id": "M13", "as_of": "2025-01-01", "facts": {"actual_spend_yuan": 0.1 + 0.2}},
            ["body", "facts", "actual_spend_yuan"],
        ),
        ({"measure_id": "M06", "as_of": "2025-01-01", "facts": {"rank": "first"}}, ["body", "facts", "rank"]),
        ({"measure_id": "M06", "as_of": "2025-01-01", "facts": {"rank": 1}, "year": 1999}, ["body", "year"]),
        ({"measure_id": "M06", "as_of": "2025-01-01", "facts": {"rank": 1}, "year": "last"}, ["body", "year"]),
        (
            {
                "measure_id": "M07b",
                "as_of": "2025-01-01",
                "facts": {"spun_off_from_manufacturer": True, "revenue_yuan": "1.00"},
            },
            ["body", "facts", "established_on"],
        ),
        (
            {
                "measure_id": "M07b",
                "as_of": "2025-01-01",
                "facts": {"spun_off_from_manufacturer": 1, "established_on": "2025-01-02", "revenue_yuan": "1.00"},
            },
            ["body", "facts", "spun_off_from_manufacturer"],
        ),
    ],
)
async def test_bad_input_is_a_422_problem_naming_the_field(client_for, body, loc):
    response = await client_for(ANONYMOUS).post("/calculate", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and problem["request_id"]
    assert loc in [error["loc"] for error in problem["errors"]], problem["errors"]


async def test_malformed_json_is_a_400_problem(client_for):
    response = await client_for(ANONYMOUS).post(
        "/calculate", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def _item(index: int) -> dict:
    # 第（十三）条: 30% of (index + 1) × 1,000.00, capped at 1,000,000.
    return {"measure_id": "M13", "as_of": "2025-01-01", "facts": {"actual_spend_yuan": f"{(index + 1) * 1000}.00"}}


async def test_batch_answers_in_order(client_for):
    items = [_item(0), {"measure_id": "M06", "as_of": "2025-01-01", "facts": {"rank": 7}}, _item(9999)]
    response = await client_for(ANONYMOUS).post("/calculate/batch", json=items)
    assert response.status_code == 200, response.text
    answers = response.json()["items"]
    assert [a["amount_yuan"] for a in answers] == ["300.00", "3000000.00", "1000000.00"]
    assert [a["measure_id"] for a in answers] == ["M13", "M06", "M13"]


async def test_batch_of_ten_thousand(client_for):
    items = [_item(index) for index in range(10_000)]
    response = await client_for(CITY).post("/calculate/batch", json=items)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 10_000
    assert body["items"][0]["amount_yuan"] == "300.00"
    assert body["items"][3332]["amount_yuan"] == "999900.00"  # 30% × 3,333,000
    assert body["items"][3333]["amount_yuan"] == "1000000.00"  # 30% × 3,334,000 = 1,000,200 → capped


async def test_batch_above_ten_thousand_is_refused(client_for):
    response = await client_for(ANONYMOUS).post("/calculate/batch", json=[_item(i) for i in range(10_001)])
    assert response.status_code == 422
    assert response.json()["errors"] == [{"loc": ["body"], "msg": "at most 10000 items"}]


async def test_batch_names_the_bad_item(client_for):
    items = [_item(0), {"measure_id": "M13", "as_of": "2025-01-01", "facts": {"actual_spend_yuan": "-1"}}]
    response = await client_for(ANONYMOUS).post("/calculate/batch", json=items)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", 1, "facts", "actual_spend_yuan"]


async def test_batch_must_be_a_list(client_for):
    response = await client_for(ANONYMOUS).post("/calculate/batch", json=_item(0))
    assert response.status_code == 422


async def test_batch_names_an_ill_formed_item_and_refuses_malformed_json(client_for):
    response = await client_for(ANONYMOUS).post("/calculate/batch", json=[_item(0), {"measure_id": "M13"}])
    assert response.status_code == 422
    assert ["body", 1, "as_of"] in [e["loc"] for e in response.json()["errors"]]
    malformed = await client_for(ANONYMOUS).post(
        "/calculate/batch", content=b"[{", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.headers["content-type"] == "application/problem+json"


async def test_batch_without_traces(client_for):
    response = await client_for(ANONYMOUS).post("/calculate/batch", params={"trace": "false"}, json=[_item(0)])
    answer = response.json()["items"][0]
    assert answer["trace"] == [] and answer["amount_yuan"] == "300.00"
    assert answer["parameters_used"] == {"m13.ratio": "0.30", "m13.cap_yuan": "1000000.00"}


async def test_a_calculation_spends_no_nonce_but_a_write_does(eligibility_app):
    """/calculate writes nothing, so replaying its signed headers is answered again, as a read would be; a write to
    the same service (a policy registered) is accepted once."""
    table = nonce_table(MetaData())

    async def replayed_twice(target: str, body: object, principal: Principal) -> tuple[list[int], bool]:
        """The two answers to the same signed request, and whether the service kept its nonce."""
        raw = json.dumps(body).encode()
        signed = sign_principal(
            TEST_SECRET, "POST", target, principal, audience="eligibility", body=raw, request_id="c" * 32
        )
        headers = {**signed, "content-type": "application/json"}
        transport = httpx.ASGITransport(app=eligibility_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://eligibility") as client:
            statuses = [(await client.post(target, content=raw, headers=headers)).status_code for _ in range(2)]
        async with eligibility_app.state.engine.connect() as connection:
            kept = select(func.count()).where(table.c.nonce == signed[NONCE_HEADER])
            return statuses, (await connection.execute(kept)).scalar_one() == 1

    calculation = {"measure_id": "M13", "as_of": "2025-06-30", "facts": {"actual_spend_yuan": "100000.00"}}
    assert await replayed_twice("/calculate", calculation, ANONYMOUS) == ([200, 200], False)
    assert await replayed_twice("/calculate/batch", [calculation], ANONYMOUS) == ([200, 200], False)
    assert await replayed_twice("/policies", other_policy(), CITY) == ([201, 401], True)
