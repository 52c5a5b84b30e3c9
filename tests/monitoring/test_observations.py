"""Observations: recorded by the city with their source, corrected as new revisions, refused when wrong."""

from fastapi import FastAPI
from sqlalchemy import text

from tests.support import AUDITOR, district

LOGISTICS = "modern_logistics.logistics_cost_share_of_gdp"  # percent, 第（十三）条
ENGINEERS = "engineering_technical.registered_survey_design_staff"  # persons, 第（六）条
PATH = f"/indicators/{LOGISTICS}/observations"


def body(value: str = "14.4", **extra: object) -> dict[str, object]:
    return {
        "value": value,
        "unit": "percent",
        "source_kind": "statistics_bureau",
        "source": "市统计局《2023年重庆市国民经济和社会发展统计公报》",
        **extra,
    }


async def rows(app: FastAPI) -> int:
    async with app.state.engine.connect() as connection:
        return int((await connection.execute(text("SELECT count(*) FROM observations"))).scalar_one())


async def test_record_correct_and_read_the_history(city, client_for, monitoring_app):
    first = await city.put(f"{PATH}/2023", json=body())
    assert first.status_code == 201, first.text
    assert first.headers["etag"] == '"1"'
    recorded = first.json()
    assert (recorded["value"], recorded["revision"], recorded["recorded_by"]) == ("14.4", 1, "city")
    assert recorded["reason"] is None and recorded["period"] == "year"

    # The same value again changes nothing (a retried PUT): still revision 1, no new row.
    again = await city.put(f"{PATH}/2023", json=body())
    assert (again.status_code, again.json()["revision"], await rows(monitoring_app)) == (200, 1, 1)

    # A correction needs its reason, and If-Match (when sent) must name the current revision.
    no_reason = await city.put(f"{PATH}/2023", json=body("14.5"))
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["loc"] == ["body", "reason"]
    stale = await city.put(f"{PATH}/2023", json=body("14.5", reason="统计局修订"), headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    assert await rows(monitoring_app) == 1
    corrected = await city.put(
        f"{PATH}/2023", json=body("14.5", reason="统计局修订公报数据"), headers={"If-Match": '"1"'}
    )
    assert corrected.status_code == 200, corrected.text
    assert (corrected.json()["revision"], corrected.json()["value"], corrected.headers["etag"]) == (2, "14.5", '"2"')

    await city.put(f"{PATH}/2024", json=body("14.1"))
    await city.put(f"{PATH}/2024?period=Q1", json=body("14.3"))

    # Any key holder reads: the current value of each period, and every revision of one.
    auditor = client_for(AUDITOR)
    listed = (await auditor.get(PATH, params={"limit": 2})).json()
    assert [(i["year"], i["period"], i["value"]) for i in listed["items"]] == [
        (2023, "year", "14.5"),
        (2024, "Q1", "14.3"),
    ]
    rest = (await auditor.get(PATH, params={"limit": 2, "cursor": listed["next_cursor"]})).json()
    assert [(i["year"], i["period"]) for i in rest["items"]] == [(2024, "year")] and rest["next_cursor"] is None
    history = (await auditor.get(f"{PATH}/2023/history")).json()
    assert [(r["revision"], r["value"], r["reason"]) for r in history["revisions"]] == [
        (1, "14.4", None),
        (2, "14.5", "统计局修订公报数据"),
    ]
    assert await rows(monitoring_app) == 4

    # The history cannot be rewritten, not even by the service's own connection.
    async with monitoring_app.state.engine.connect() as connection:
        for statement in ("UPDATE observations SET value = 1", "DELETE FROM observations"):
            try:
                await connection.execute(text(statement))
            except Exception as refused:
                assert "append-only" in str(refused)
            else:
                raise AssertionError(f"{statement} was not refused")
            await connection.rollback()
    assert await rows(monitoring_app) == 4


async def test_bad_observations_are_refused_and_nothing_is_written(city, client_for, monitoring_app):
    cases = [
        # an unknown indicator
        ("/indicators/software_it.nothing/observations/2024", body(), 404, None),
        # an indicator the registry computes (第（一）条 新增规模以上科技研发服务业企业)
        (
            "/indicators/tech_rnd.new_above_scale_enterprises/observations/2024",
            body(unit="count"),
            422,
            ["path", "indicator_id"],
        ),
        # a unit mismatch: the share is in percent
        (f"{PATH}/2024", body(unit="yuan"), 422, ["body", "unit"]),
        # a year outside the plan (2023 … 2027)
        (f"{PATH}/2028", body(), 422, ["path", "year"]),
        (f"{PATH}/2022", body(), 422, ["path", "year"]),
        # a value that is not a number, a negative one, one with seven places
        (f"{PATH}/2024", body("thirteen"), 422, ["body", "value"]),
        (f"{PATH}/2024", body("-1"), 422, ["body", "value"]),
        (f"{PATH}/2024", body("13.0000001"), 422, ["body", "value"]),
        (f"{PATH}/2024", body("1e999999"), 422, ["body", "value"]),
        (f"{PATH}/2024", body("101"), 422, ["body", "value"]),  # a share in percent
        (f"{PATH}/2024", body("NaN"), 422, ["body", "value"]),
        # an unknown period, an unknown source kind, a field the schema does not have
        (f"{PATH}/2024?period=Q5", body(), 422, ["query", "period"]),
        (f"{PATH}/2024", body(source_kind="rumour"), 422, ["body", "source_kind"]),
        (f"{PATH}/2024", body(by="someone"), 422, ["body", "by"]),
    ]
    for path, sent, status, loc in cases:
        answer = await city.put(path, json=sent)
        assert answer.status_code == status, (path, sent, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        if loc is not None:
            assert [error["loc"] for error in answer.json()["errors"]][:1] == [loc], answer.json()
    # A district records none of the city's indicators; the auditor changes nothing.
    for principal in (district("500103"), AUDITOR):
        refused = await client_for(principal).put(f"{PATH}/2024", json=body())
        assert refused.status_code == 403
    # Exact values in any spelling are stored in six places: 0E+999999 and -0 are 0, 1.0000000 is 1.
    for sent, year, stored in (("0E+999999", 2025, "0"), ("-0", 2026, "0"), ("1.0000000", 2027, "1")):
        answer = await city.put(f"{PATH}/{year}", json=body(sent))
        assert (answer.status_code, answer.json()["value"]) == (201, stored), answer.text
    # Whole numbers in persons are fine as strings.
    assert (
        await city.put(f"/indicators/{ENGINEERS}/observations/2024", json=body("5800", unit="persons"))
    ).status_code == 201
    assert await rows(monitoring_app) == 4
