"""Bulk import read as a stream and written in chunks (issue 19): rows counted as they are parsed and stopped at the
limit, nested JSON never built, CSV decoded chunk by chunk, and the chunked writes keep the import all-or-nothing."""

import json

import pytest

from services.registry.enterprises import imports
from services.registry.enterprises import service as enterprises
from shared.errors import InvalidInput
from tests.registry.factories import enterprise, new_uscc
from tests.registry.test_import import csv_body, csv_row, post_csv
from tests.support import district


@pytest.fixture
def max_rows(registry_app):
    settings = registry_app.state.settings
    original = settings.import_max_rows
    settings.import_max_rows = 5
    yield 5
    settings.import_max_rows = original


async def test_the_row_after_the_limit_stops_a_json_import(city, max_rows):
    at_limit = await city.post("/enterprises/import", json=[enterprise() for _ in range(max_rows)])
    assert at_limit.status_code == 200 and at_limit.json()["created"] == max_rows
    over = await city.post("/enterprises/import", json=[{}] * (max_rows + 1))
    assert over.status_code == 422
    assert over.json()["errors"] == [{"loc": ["body", max_rows + 1], "msg": f"more than {max_rows} rows"}]
    assert (
        f"at most {max_rows} rows" in over.json()["detail"] and f"row {max_rows + 1} is past" in over.json()["detail"]
    )


async def test_the_row_after_the_limit_stops_a_csv_import(city, max_rows):
    over = await post_csv(city, csv_body(*(csv_row(new_uscc()) for _ in range(max_rows + 1))))
    assert over.status_code == 422 and over.json()["errors"][0]["msg"] == f"more than {max_rows} rows"
    assert (await city.get("/enterprises")).json()["items"] == []


def test_counting_stops_at_the_row_after_the_limit_without_reading_further():
    body = b"[" + b",".join([b"{}"] * 1000) + b", oops"  # invalid JSON after row 1,000
    rows = imports.parse_body("application/json", body, imports.ImportLimits(max_rows=3, max_bytes=len(body)))
    assert [next(rows) for _ in range(3)] == [{}, {}, {}]
    with pytest.raises(InvalidInput, match="at most 3 rows"):
        next(rows)


async def test_nested_values_are_refused_by_field_without_being_built(city):
    deep = "[" * 50_000 + "]" * 50_000
    row = json.dumps({**enterprise(), "name": "__DEEP__"}).replace('"__DEEP__"', deep)
    body = f'[{row}, {deep}, {{"uscc": {{"a": [1, 2, {{"b": 3}}]}}}}, 7]'.encode()
    response = await city.post("/enterprises/import", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text[:500]
    rejected = {item["row"]: item for item in response.json()["rejected"]}
    assert sorted(rejected) == [1, 2, 3, 4]
    assert rejected[1]["errors"][0]["loc"] == ["name"]
    assert ["uscc"] in [error["loc"] for error in rejected[3]["errors"]]
    assert rejected[2]["errors"][0]["loc"] == ["row"] and rejected[4]["errors"][0]["loc"] == ["row"]


async def test_json_of_another_shape_is_a_422_and_broken_json_a_400(city):
    headers = {"content-type": "application/json"}
    for body in (b'{"rows": [{}]}', b"123", b'"text"', b"null"):
        assert (await city.post("/enterprises/import", content=body, headers=headers)).status_code == 422, body
    for body in (b"", b"[{}", b"[{}] trailing", b'{"rows": [', b"[NaN]"):
        assert (await city.post("/enterprises/import", content=body, headers=headers)).status_code == 400, body


async def test_a_csv_is_decoded_chunk_by_chunk_across_multibyte_characters_and_crlf(city):
    # Rows of three-byte characters and CRLF endings, over several decoding chunks: every row arrives whole.
    rows = [csv_row(new_uscc(), name="重庆" * (index % 40 + 1) + "有限公司") for index in range(3_000)]
    text = "\r\n".join([csv_body().decode().strip(), *rows]) + "\r\n"
    body = text.encode()
    assert len(body) > 2 * imports._DECODE_CHUNK
    response = await post_csv(city, body)
    assert response.status_code == 200, response.text[:500]
    assert response.json()["created"] == 3_000 and response.json()["rejected"] == []
    cut = body.index(b"\n", 300_000) + 1  # a line's start, past the first chunk
    refused = await post_csv(city, body[:cut] + b"\xff" + body[cut:])
    assert refused.status_code == 400 and f"(byte {cut})" in refused.json()["detail"]


async def test_chunked_writes_report_as_one_import(city, monkeypatch):
    monkeypatch.setattr(enterprises, "IMPORT_CHUNK", 2)
    kept, changed = enterprise(), enterprise()
    first = await city.post("/enterprises/import", json=[kept, changed])
    assert first.json()["created"] == 2
    new = [enterprise() for _ in range(3)]
    rows = [*new, kept, {**changed, "name": "改名有限公司"}, {**new[0], "year": 2024}]
    report = (await city.post("/enterprises/import", json=rows)).json()
    assert (report["rows"], report["created"], report["updated"], report["unchanged"]) == (6, 3, 1, 1)
    assert report["rejected"][0]["row"] == 6 and "year" in report["rejected"][0]["errors"][0]["msg"]


async def test_an_atomic_refusal_found_in_a_later_chunk_writes_nothing(client_for, city, monkeypatch):
    monkeypatch.setattr(enterprises, "IMPORT_CHUNK", 2)
    others = enterprise(district_code="500105")
    await city.post("/enterprises", json=others)
    yuzhong = client_for(district("500103"))
    new = [enterprise(district_code="500103") for _ in range(4)]  # two chunks written before the refusal
    # Its own code under Yuzhong: refused, in the last chunk (500105's codes sort after 500103's).
    taken = {**others, "district_code": "500103"}
    response = await yuzhong.post("/enterprises/import", json=[*new, taken], params={"atomic": "true"})
    assert response.status_code == 422, response.text[:300]
    assert response.json()["rejected"][0]["errors"][0]["msg"].startswith("this enterprise belongs to district 500105")
    listed = (await city.get("/enterprises")).json()["items"]
    assert [item["uscc"] for item in listed] == [others["uscc"]]


async def test_a_row_of_a_thousand_unknown_keys_lists_a_few_of_its_errors(city, registry_app):
    limit = registry_app.state.settings.import_max_errors_per_row
    garbage = {f"key{index}": index for index in range(1_000)}
    response = await city.post("/enterprises/import", json=[garbage, {**enterprise(), "surplus": 1}])
    assert response.status_code == 200, response.text[:300]
    first, second = response.json()["rejected"]
    assert first["row"] == 1 and len(first["errors"]) == limit
    assert second["errors"] == [{"loc": ["surplus"], "msg": "Extra inputs are not permitted"}]


async def test_a_long_report_is_sent_in_pieces_that_make_one_document(city):
    rows = [enterprise(), *({"uscc": f"bad-{index}"} for index in range(4_500))]
    headers = {"Idempotency-Key": "long-report"}
    response = await city.post("/enterprises/import", json=rows, headers=headers)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    report = response.json()
    assert (report["rows"], report["created"]) == (4_501, 1)
    assert [item["row"] for item in report["rejected"]] == list(range(2, 4_502))
    assert report["rejected"][-1]["uscc"] == "bad-4499"
    replayed = await city.post("/enterprises/import", json=rows, headers=headers)
    assert replayed.headers["idempotent-replayed"] == "true" and replayed.json() == report


async def test_an_atomic_refusal_names_the_first_errors_and_lists_every_rejected_row(city, monkeypatch):
    monkeypatch.setattr(enterprises, "REFUSAL_ERRORS", 4)
    response = await city.post("/enterprises/import", json=[{}] * 3, params={"atomic": "true"})
    assert response.status_code == 422
    problem = response.json()
    assert [item["row"] for item in problem["rejected"]] == [1, 2, 3]
    assert all(len(item["errors"]) == 5 for item in problem["rejected"])  # the five required columns
    assert [error["loc"][:2] for error in problem["errors"]] == [["body", 1]] * 4
