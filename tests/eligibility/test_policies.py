"""The register of policies: document numbers in one canonical form, GET/POST /policies, and resolving the policy
an award names.

The register holds 渝发改规范〔2024〕7号 itself from the migration (policy 1, in force 2024-11-19 … 2027-12-31 by its
附则); these tests add other city policies and delete only what they add, so the migration's row survives.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.eligibility.policies import service
from services.eligibility.policies.models import Policy
from services.eligibility.policies.numbers import normalise_document_number
from services.eligibility.policies.schemas import PolicyAlreadyRegisteredProblem
from services.eligibility.rules.base import DOCUMENT
from shared.errors import InvalidInput
from tests.support import ANONYMOUS, AUDITOR, CITY, district

THIS = "渝发改规范〔2024〕7号"
# The migration's row, exactly as the API shows it.
SEEDED = {
    "id": 1,
    "document_number": THIS,
    "title": "重庆市支持现代生产性服务业高质量发展若干政策措施",
    "issuer": "重庆市发展和改革委员会、重庆市财政局",
    "effective_from": "2024-11-19",
    "effective_to": "2027-12-31",
    "created_at": "2024-11-19T00:00:00Z",
    "created_by": "migration",
}


async def remove_registered_by_tests(app: FastAPI) -> None:
    """Every policy but the migration's (the awards that could name one are emptied after each test)."""
    async with app.state.engine.begin() as connection:
        await connection.execute(text("DELETE FROM policies WHERE created_by <> 'migration'"))


@pytest.fixture(autouse=True)
async def _registered_by_tests_removed(eligibility_app: FastAPI) -> AsyncIterator[None]:
    await remove_registered_by_tests(eligibility_app)  # also what another module's tests may have left
    yield
    await remove_registered_by_tests(eligibility_app)


async def policy_rows(app: FastAPI) -> int:
    async with app.state.engine.connect() as connection:
        return int((await connection.execute(text("SELECT count(*) FROM policies"))).scalar_one())


def other_policy(document_number: Any = "渝经信发〔2023〕12号", **extra: Any) -> dict[str, Any]:
    return {
        "document_number": document_number,
        "title": "重庆市促进软件和信息服务业高质量发展若干政策",
        "issuer": "重庆市经济和信息化委员会",
        "effective_from": "2023-06-01",
        "effective_to": "2025-12-31",
        **extra,
    }


async def register(client, body: dict[str, Any], expected: int = 201) -> dict[str, Any]:
    response = await client.post("/policies", json=body)
    assert response.status_code == expected, response.text
    answer: dict[str, Any] = response.json()
    return answer


def named(problem: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in problem.get("errors", [])]


# ---- document numbers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "渝发改规范〔2024〕7号",  # canonical (GB/T 9704-2012: 〔〕, no 第, no leading zeros)
        "渝发改规范〔2024〕7 号",  # as the policy's own header prints it
        "渝发改规范[2024]7号",
        "渝发改规范［2024］7号",  # full-width square brackets
        "渝发改规范(2024)7号",
        "渝发改规范（2024）7号",
        "渝发改规范（2024）第07號",
        "渝发改规范【２０２４】７号",  # full-width digits
        "渝发改规范【2024】7号",
        "渝发改规范〖2024〗7号",
        "渝发改规范{2024}7号",
        "渝发改规范｛2024｝7号",
        "渝发改规范﹝2024﹞7号",  # small tortoise-shell brackets
        "渝发改规范〘2024〙7号",
        "渝发改规范[2024〕7号",  # a mismatched pair still names the document
        "渝发改规范〔2024〕第7号",
        "渝发改规范〔2024〕第7號",
        "渝发改规范〔2024〕7號",
        "渝发改规范〔2024〕07号",
        "渝发改规范〔2024〕0007号",
        "渝发改规范〔2024〕第０００７號",
        "渝发改规范〔2024〕7",  # no 号
        "渝发改规范[2024]07",
        "渝发改规范\u3000〔2024〕\u30007\u3000号",  # ideographic spaces
        "渝发改规范\u00a0〔2024〕7\u00a0号",  # no-break spaces
        "渝发改规范\u2002〔2024〕\u2009\u202f7号",  # en space, thin space, narrow no-break space
        " 渝 发 改 规 范 〔 2 0 2 4 〕 7 号 ",
        "\t渝发改规范〔2024〕\n7号\r\n",
        "渝发改\u200b规范〔2024〕7\ufeff号",  # zero-width space, byte-order mark
        "渝發改規範〔2024〕7號",  # traditional characters
        "渝发改规范〔２０２４〕第０７号",
    ],
)
def test_every_spelling_of_this_policy_has_one_canonical_form(spelling):
    assert normalise_document_number(spelling) == THIS


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("渝府发〔2024〕18号", "渝府发〔2024〕18号"),  # the action plan
        ("渝府发[2024]18 号", "渝府发〔2024〕18号"),
        ("渝经信发（2023）第012號", "渝经信发〔2023〕12号"),
        ("渝财建〔2023〕0100号", "渝财建〔2023〕100号"),  # only the leading zeros go
        ("国发〔2024〕10号", "国发〔2024〕10号"),
        ("cq发〔2024〕3号", "CQ发〔2024〕3号"),  # Latin letters of a prefix in capitals
        ("ＣＱ发【2024】３", "CQ发〔2024〕3号"),
    ],
)
def test_other_documents_normalise_to_their_own_form(spelling, canonical):
    assert normalise_document_number(spelling) == canonical
    assert normalise_document_number(canonical) == canonical  # idempotent


def test_different_documents_stay_different():
    forms = {
        normalise_document_number(number)
        for number in (
            "渝发改规范〔2024〕7号",
            "渝发改规范〔2024〕17号",
            "渝发改规范〔2024〕70号",
            "渝发改规范〔2023〕7号",
            "渝发改〔2024〕7号",
        )
    }
    assert len(forms) == 5


@pytest.mark.parametrize(
    "text_",
    [
        "",
        "   ",
        "渝发改规范",  # no year, no serial
        "渝发改规范7号",
        "渝发改规范2024年7号",  # the year without brackets
        "渝发改规范 2024 7号",
        "〔2024〕7号",  # no issuer prefix
        "渝发改规范〔24〕7号",  # a two-digit year
        "渝发改规范〔20245〕7号",
        "渝发改规范〔1800〕7号",  # not a year of a document
        "渝发改规范〔2024〕号",  # no serial
        "渝发改规范〔2024〕第号",
        "渝发改规范〔2024〕0号",
        "渝发改规范〔2024〕000号",
        "渝发改规范〔2024〕1234567号",  # above 999999
        "渝发改规范〔2024〕7号文",
        "渝发改规范〔2024〕7号号",
        "渝发改规范〔2024〕第第7号",
        "渝发改规范〔2024〕7-1号",
        "《渝发改规范〔2024〕7号》",
        "渝发改-规范〔2024〕7号",  # punctuation in the prefix
        "渝发改规范〔2024〕〔2025〕7号",
        "渝发改规范〈2024〉7号",  # angle brackets are not used around a year
        "渝发改规范〔二〇二四〕七号",  # numerals in Chinese
        "渝" * 41 + "〔2024〕7号",  # a prefix of more than 40 characters
    ],
)
def test_a_text_not_of_the_shape_is_refused_saying_what_is_expected(text_):
    with pytest.raises(ValueError, match="<issuer prefix>〔YYYY〕N号"):
        normalise_document_number(text_)


def test_this_policys_number_is_the_rules_document():
    assert service.THIS_POLICY_NUMBER == DOCUMENT == THIS


# ---- reading the register ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("principal", [ANONYMOUS, CITY, AUDITOR, district("500103")], ids=str)
async def test_the_register_is_public_and_holds_this_policy(client_for, principal):
    async with client_for(principal) as client:
        listed = await client.get("/policies")
        one = await client.get("/policies/1")
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"items": [SEEDED], "next_cursor": None}
    assert one.status_code == 200 and one.json() == SEEDED


async def test_an_unsigned_request_is_refused(client_for):
    async with client_for(None) as client:
        assert (await client.get("/policies")).status_code == 401
        assert (await client.get("/policies/1")).status_code == 401


async def test_an_unknown_policy_is_a_404_and_a_bad_id_a_422(city):
    async with city:
        missing = await city.get("/policies/999999")
        zero = await city.get("/policies/0")
        word = await city.get("/policies/abc")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert zero.status_code == 422 and ["path", "policy_id"] in named(zero.json())
    assert word.status_code == 422 and ["path", "policy_id"] in named(word.json())


@pytest.mark.parametrize(
    "q",
    [
        "渝发改规范〔2024〕7号",
        "渝发改规范[2024]7 号",
        "渝发改规范（２０２４）第０７號",
        "渝發改規範【2024】7",
        " 渝发改规范〔2024〕007号 ",
    ],
)
async def test_q_finds_this_policy_in_any_spelling(client_for, eligibility_app, q):
    async with client_for(CITY) as city:
        await register(city, other_policy())
    async with client_for(ANONYMOUS) as anonymous:
        response = await anonymous.get("/policies", params={"q": q})
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [SEEDED], "next_cursor": None}


async def test_q_finds_another_policy_in_odd_spellings_and_nothing_unregistered(city):
    async with city:
        created = await register(city, other_policy("渝经信发〔2023〕12号"))
        found = await city.get("/policies", params={"q": "渝经信发（2023）第012號"})
        spaced = await city.get("/policies", params={"q": "渝经信发\u3000[２０２３]\u00a012"})
        unregistered = await city.get("/policies", params={"q": "渝经信发〔2023〕13号"})
    assert found.status_code == 200 and [item["id"] for item in found.json()["items"]] == [created["id"]]
    assert spaced.status_code == 200 and [item["id"] for item in spaced.json()["items"]] == [created["id"]]
    assert unregistered.status_code == 200 and unregistered.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("q", ["渝发改规范", "2024", "%", "渝发改规范〔2024〕0号", "x" * 101])
async def test_a_q_that_is_not_a_document_number_is_a_422_naming_q(city, q):
    async with city:
        response = await city.get("/policies", params={"q": q})
    assert response.status_code == 422, response.text
    assert ["query", "q"] in named(response.json())


async def test_pages_follow_the_cursor_in_the_order_registered(city):
    async with city:
        created = [(await register(city, other_policy(f"渝测试发〔2025〕{n}号")))["id"] for n in range(1, 6)]
        seen: list[int] = []
        pages = 0
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            response = await city.get("/policies", params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            pages += 1
            assert len(page["items"]) <= 2
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    # 1 (the migration's) + 5 registered = 6 rows, 2 a page: exactly 3 pages, each row once, oldest first.
    assert pages == 3
    assert seen == [1, *created] and created == sorted(created)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "Im5vIg"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
    ],
)
async def test_a_bad_page_request_is_a_422_naming_the_field(city, params, field):
    async with city:
        response = await city.get("/policies", params=params)
    assert response.status_code == 422, response.text
    assert ["query", field] in named(response.json())


# ---- registering a policy ------------------------------------------------------------------------------------


async def test_the_city_registers_a_policy_under_its_canonical_number(city, eligibility_app):
    async with city:
        created = await register(city, other_policy("渝经信发（2023）第012號"))
        read = await city.get(f"/policies/{created['id']}")
    assert created["document_number"] == "渝经信发〔2023〕12号"
    assert {key: created[key] for key in ("title", "issuer", "effective_from", "effective_to", "created_by")} == {
        "title": "重庆市促进软件和信息服务业高质量发展若干政策",
        "issuer": "重庆市经济和信息化委员会",
        "effective_from": "2023-06-01",
        "effective_to": "2025-12-31",
        "created_by": "city",
    }
    assert created["id"] > 1
    assert read.status_code == 200 and read.json() == created
    assert await policy_rows(eligibility_app) == 2


async def test_a_policy_may_be_open_ended_or_in_force_for_one_day(city, eligibility_app):
    body = other_policy("渝府办发〔2024〕3号")
    del body["effective_to"]
    async with city:
        open_ended = await register(city, body)
        one_day = await register(
            city, other_policy("渝府办发〔2024〕4号", effective_from="2025-03-01", effective_to="2025-03-01")
        )
    assert open_ended["effective_to"] is None
    assert (one_day["effective_from"], one_day["effective_to"]) == ("2025-03-01", "2025-03-01")
    assert await policy_rows(eligibility_app) == 3


@pytest.mark.parametrize(
    "spelling",
    [
        "渝发改规范〔2024〕7号",
        "渝发改规范〔2024〕7 号",
        "渝发改规范[2024]7号",
        "渝发改规范（2024）第07號",
        "渝发改规范【２０２４】７号",
    ],
)
async def test_this_policy_cannot_be_registered_again_as_another(city, eligibility_app, spelling):
    async with city:
        response = await city.post("/policies", json=other_policy(spelling))
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["existing_policy_id"] == 1
    assert named(problem) == [["body", "document_number"]]
    assert await policy_rows(eligibility_app) == 1


async def test_a_registered_number_in_another_spelling_is_a_409_naming_the_existing_policy(city, eligibility_app):
    async with city:
        created = await register(city, other_policy("渝经信发〔2023〕12号"))
        again = await city.post("/policies", json=other_policy("渝经信发 [２０２３] 第0012 號", title="另一个标题"))
    assert again.status_code == 409, again.text
    assert again.json()["existing_policy_id"] == created["id"]
    assert PolicyAlreadyRegisteredProblem.model_validate(again.json()).existing_policy_id == created["id"]
    assert again.json()["type"] == "/problems/policy-already-registered"
    assert str(created["id"]) in again.json()["detail"]
    assert await policy_rows(eligibility_app) == 2


async def test_concurrent_registrations_of_one_number_in_different_spellings_leave_one_record(
    client_for, eligibility_app
):
    spellings = [
        "渝商务发〔2024〕9号",
        "渝商务发[2024]9号",
        "渝商务发（2024）第09號",
        "渝商务发【２０２４】９",
        "渝商务发〔2024〕 9 号",
        "渝商务发(2024)009号",
    ]
    clients = [client_for(CITY) for _ in spellings]
    try:
        answers = await asyncio.gather(
            *(client.post("/policies", json=other_policy(s)) for client, s in zip(clients, spellings, strict=True))
        )
    finally:
        for client in clients:
            await client.aclose()
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * 5, [answer.text for answer in answers]
    winner = next(answer.json() for answer in answers if answer.status_code == 201)
    assert winner["document_number"] == "渝商务发〔2024〕9号"
    assert all(answer.json()["existing_policy_id"] == winner["id"] for answer in answers if answer.status_code == 409)
    assert await policy_rows(eligibility_app) == 2


def _without(field: str) -> dict[str, Any]:
    body = other_policy()
    del body[field]
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (other_policy("渝经信发2023年12号"), "document_number"),
        (other_policy("渝经信发〔2023〕0号"), "document_number"),
        (other_policy(""), "document_number"),
        (other_policy("渝经信发〔2023〕12号" + "x" * 100), "document_number"),
        (other_policy(12), "document_number"),
        (other_policy("渝经信发〔2023〕\x0012号"), "document_number"),
        (_without("document_number"), "document_number"),
        (_without("title"), "title"),
        (other_policy(title=""), "title"),
        (other_policy(title="   "), "title"),
        (other_policy(title="长" * 201), "title"),
        (other_policy(title="line\nbreak"), "title"),
        (_without("issuer"), "issuer"),
        (other_policy(issuer=None), "issuer"),
        (_without("effective_from"), "effective_from"),
        (other_policy(effective_from="2023-02-30"), "effective_from"),
        (other_policy(effective_from=None), "effective_from"),
        (other_policy(effective_to="31/12/2025"), "effective_to"),
        (other_policy(effective_from="2023-06-01", effective_to="2023-05-31"), "effective_to"),  # before it starts
        (other_policy(policy_id=3), "policy_id"),  # no other field is taken
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(city, eligibility_app, body, field):
    async with city:
        response = await city.post("/policies", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert ["body", field] in named(response.json()), response.text
    assert await policy_rows(eligibility_app) == 1


async def test_a_malformed_number_says_what_shape_is_expected(city):
    async with city:
        response = await city.post("/policies", json=other_policy("渝经信发2023年12号"))
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["loc"] == ["body", "document_number"] and "<issuer prefix>〔YYYY〕N号" in error["msg"]


async def test_malformed_json_is_a_400_and_writes_nothing(city, eligibility_app):
    async with city:
        response = await city.post(
            "/policies", content=b'{"document_number": ', headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400, response.text
    assert await policy_rows(eligibility_app) == 1


@pytest.mark.parametrize(
    ("principal", "expected"),
    [(district("500103"), 403), (AUDITOR, 403), (ANONYMOUS, 401), (None, 401)],
    ids=["district", "auditor", "anonymous", "unsigned"],
)
async def test_only_the_city_registers_a_policy(client_for, eligibility_app, principal, expected):
    async with client_for(principal) as client:
        response = await client.post("/policies", json=other_policy())
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await policy_rows(eligibility_app) == 1


# ---- resolving the policy an award names (the award ledger calls these) ------------------------------------------


async def resolve(app: FastAPI, policy_id: int | None, document_number: str | None) -> Policy:
    async with app.state.sessionmaker() as session:
        return await service.resolve(session, policy_id=policy_id, document_number=document_number)


@pytest.mark.parametrize(
    ("policy_id", "number"),
    [
        (1, None),
        (None, THIS),
        (None, "渝发改规范〔2024〕7 号"),
        (None, "渝发改规范[2024]7号"),
        (1, "渝发改规范（2024）第07號"),
    ],
)
async def test_this_policy_is_resolved_by_id_or_by_any_spelling(eligibility_app, policy_id, number):
    policy = await resolve(eligibility_app, policy_id, number)
    assert policy.id == 1 and policy.document_number == THIS
    assert service.is_this_policy(policy)


async def test_another_registered_policy_is_resolved_and_is_not_this_one(city, eligibility_app):
    async with city:
        created = await register(city, other_policy("渝经信发〔2023〕12号"))
    policy = await resolve(eligibility_app, None, "渝经信发[2023]第12號")
    assert policy.id == created["id"] and not service.is_this_policy(policy)
    assert (await resolve(eligibility_app, created["id"], None)).id == created["id"]


@pytest.mark.parametrize(
    ("policy_id", "number", "fields"),
    [
        (None, "渝经信发〔2023〕13号", [["body", "policy"]]),  # well formed, not registered
        (None, "渝发改规范2024年7号", [["body", "policy"]]),  # malformed
        (999999, None, [["body", "policy_id"]]),
        (999999, THIS, [["body", "policy_id"]]),
        (None, None, [["body", "policy"]]),
    ],
)
async def test_an_unknown_or_malformed_policy_is_a_422_saying_how_to_register_one(
    eligibility_app, policy_id, number, fields
):
    with pytest.raises(InvalidInput) as caught:
        await resolve(eligibility_app, policy_id, number)
    assert caught.value.status == 422
    assert [error["loc"] for error in caught.value.errors or []] == fields
    assert "POST /policies" in caught.value.detail


async def test_an_id_and_a_number_that_disagree_are_a_422_naming_both(city, eligibility_app):
    async with city:
        created = await register(city, other_policy("渝经信发〔2023〕12号"))
    with pytest.raises(InvalidInput) as caught:
        await resolve(eligibility_app, created["id"], "渝发改规范[2024]7号")
    assert [error["loc"] for error in caught.value.errors or []] == [["body", "policy_id"], ["body", "policy"]]


async def test_this_policy_is_in_force_from_2024_11_19_to_2027_12_31(eligibility_app):
    async with eligibility_app.state.sessionmaker() as session:
        policy = await service.this_policy(session)
    # 附则: 自2024年11月19日起施行，有效期至2027年12月31日.
    assert [service.in_force_on(policy, day) for day in (date(2024, 11, 18), date(2024, 11, 19))] == [False, True]
    assert [service.in_force_on(policy, day) for day in (date(2027, 12, 31), date(2028, 1, 1))] == [True, False]
