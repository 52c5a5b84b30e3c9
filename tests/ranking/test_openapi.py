"""The ranking's OpenAPI document: what generated clients need of it (issue 14)."""

from typing import Any

import pytest
from fastapi import FastAPI

from services.ranking.runs.schemas import BoundaryTieOut
from services.ranking.upstream.schemas import RunInputs
from shared.downloads import CSV, XLSX, download
from shared.openapi import HEADERS
from tests.ranking.document_checks import file_download, findings, operations

BINARY = {"type": "string", "format": "binary"}


@pytest.fixture
def document(ranking_app: FastAPI) -> dict[str, Any]:
    return ranking_app.openapi()


def test_every_operation_is_named_described_and_typed(document):
    assert findings(document) == []
    assert {operation["operationId"] for _, _, operation in operations(document)} == {
        "listMethodologies",
        "getMethodology",
        "createMethodology",
        "createRun",
        "listRuns",
        "getRun",
        "publishRun",
        "getRunSensitivity",
        "getRanking",
        "getRankingHistory",
        "downloadRankingXlsx",
        "downloadRankingCsv",
    }


def test_the_problems_of_publishing_are_typed(document):
    responses = document["paths"]["/runs/{run_id}/publish"]["post"]["responses"]
    schema = {
        status: answer["content"]["application/problem+json"]["schema"]
        for status, answer in responses.items()
        if status != "200"
    }
    assert schema["409"] == {"$ref": "#/components/schemas/RunNotDraftProblem"}
    assert schema["422"] == {"$ref": "#/components/schemas/RunPublishRefusedProblem"}
    assert schema["404"] == {"$ref": "#/components/schemas/Problem"}
    refused = document["components"]["schemas"]["RunPublishRefusedProblem"]["properties"]
    assert {"failures", "boundary_ties", "errors"} <= set(refused)


def test_the_renamed_indicator_is_one_name_with_the_old_one_deprecated(document):
    schemas = document["components"]["schemas"]
    for name in ("MethodologyWeightsIn", "MethodologyWeights", "RankingIndicatorValues", "RankingRow"):
        properties = schemas[name]["properties"]
        assert "new_above_scale_count" in properties and properties["new_count"]["deprecated"] is True, name
    assert "new_count" not in schemas["TieBreakKey"]["enum"]
    assert schemas["RunOut"]["properties"]["inputs"] == {
        "$ref": "#/components/schemas/RunInputs",
        "description": schemas["RunOut"]["properties"]["inputs"]["description"],
    }


def test_the_workbook_is_binary_and_the_csv_text_each_as_its_own_type_alone(document):
    answer = file_download(document, "/rankings/{year}/export.xlsx", XLSX)
    assert answer["content"] == {XLSX: {"schema": BINARY}}
    csv = file_download(document, "/rankings/{year}/export.csv", "text/csv")
    assert csv["content"] == {"text/csv": {"schema": {"type": "string"}}}
    assert (
        answer["headers"]["Content-Disposition"]
        == csv["headers"]["Content-Disposition"]
        == HEADERS["Content-Disposition"]
    )


@pytest.mark.parametrize(("filename", "media_type"), [("ranking-2025.xlsx", XLSX), ("ranking-2025.csv", CSV)])
def test_a_file_is_its_own_type_as_an_attachment_named(filename, media_type):
    response = download(b"PK", filename)
    assert response.media_type == media_type
    assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
    assert response.body == b"PK"


def test_typed_inputs_answer_exactly_what_was_stored_so_the_hash_can_be_checked():
    """A run stored before the registry reported moves and unreported enterprises answers without those fields."""
    district = {
        "district_code": "500103",
        "district_name": "渝中区",
        "above_scale_count": 5,
        "prior_above_scale_count": 4,
        "new_above_scale_count": 1,
        "exited_count": 0,
        "net_increase": 1,
        "revenue_yuan": "1200000.00",
        "comparable_count": 4,
        "comparable_revenue_yuan": "1000000.00",
        "comparable_prior_revenue_yuan": "900000.00",
        "revenue_growth": "0.111111",
    }
    stored = {
        "as_of": "2026-03-31",
        "policy": {
            "effective_from": "2024-11-19",
            "effective_to": "2027-12-31",
            "first_rewarded_year": 2024,
            "last_rewarded_year": 2027,
            "citation": "附则",
        },
        "registry": {
            "year": 2025,
            "base_year": 2024,
            "enterprise_years_in_year": 5,
            "enterprise_years_in_base_year": 4,
            "districts": [district, {**district, "district_code": "500104", "moved_in_count": 2}],
        },
        "award_table": {"parameter": "m06.award_by_rank_yuan", "citation": "M06", "by_rank": {"1": "5000000.00"}},
    }
    assert RunInputs.model_validate(stored).model_dump(mode="json") == stored


def test_a_stored_boundary_tie_answers_in_the_apis_names():
    stored = {
        "boundary": "5/6",
        "last_rank_of_tier": 5,
        "score": "0.500000",
        "decided_by": "new_count",
        "districts": [{"district_code": "500103", "district_name": "渝中区", "rank": 5, "award_yuan": "5000000.00"}],
    }
    assert BoundaryTieOut.model_validate(stored).model_dump(mode="json")["decided_by"] == "new_above_scale_count"
