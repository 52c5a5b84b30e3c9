"""The monitoring service's OpenAPI document: what generated clients need of it (issue 14)."""

from typing import Any

import pytest
from fastapi import FastAPI

from shared.downloads import SVG, XLSX, download
from shared.policy.targets import plan_targets
from tests.ranking.document_checks import file_download, findings, operations
from tests.support import ANONYMOUS

BINARY = {"type": "string", "format": "binary"}


@pytest.fixture
def document(monitoring_app: FastAPI) -> dict[str, Any]:
    return monitoring_app.openapi()


def test_every_operation_is_named_described_and_typed(document):
    assert findings(document) == []
    assert {operation["operationId"] for _, _, operation in operations(document)} == {
        "getPlan",
        "listTargets",
        "getTarget",
        "listIndicators",
        "getIndicator",
        "setObservation",
        "listObservations",
        "getObservationHistory",
        "getAssessment",
        "downloadAssessmentReport",
        "getTargetChart",
        "getSectorProgressChart",
        "getMap",
        "getTileMap",
        "publishAssessment",
        "getPublication",
        "listPublicationVersions",
        "getPublicationVersion",
    }


def test_the_plans_ids_are_named_enums_from_the_data_file(document):
    schemas = document["components"]["schemas"]
    plan = plan_targets()
    assert schemas["TargetId"]["enum"] == [target.id for target in plan.targets]
    assert schemas["IndicatorId"]["enum"] == [indicator.id for indicator in plan.indicators]
    assert schemas["TargetAssessment"]["properties"]["status"] == {"$ref": "#/components/schemas/AssessmentStatus"}
    parameters = schemas["AssessmentParameterValues"]["properties"]
    assert set(parameters) == {record.name for record in plan.parameter_records}


def test_headers_of_writes_are_documented(document):
    put = document["paths"]["/indicators/{indicator_id}/observations/{year}"]["put"]["responses"]
    assert "ETag" in put["200"]["headers"] and "ETag" in put["201"]["headers"] and "412" in put
    publish = document["paths"]["/publications/{year}"]["post"]["responses"]
    assert "Location" in publish["201"]["headers"] and "409" in publish


def test_files_are_documented_as_their_own_type_alone(document):
    workbook = file_download(document, "/assessments/{year}/report.xlsx", XLSX)
    assert workbook["content"] == {XLSX: {"schema": BINARY}}
    assert workbook["headers"]["Content-Disposition"]["description"].startswith("`attachment`")
    for path in (
        "/assessments/{year}/targets/{target_id}/chart.svg",
        "/assessments/{year}/sectors/chart.svg",
        "/map/{year}/tiles.svg",
    ):
        chart = file_download(document, path, SVG)
        assert chart["content"] == {SVG: {"schema": {"type": "string"}}}, path
        assert chart["headers"]["Content-Disposition"]["description"].startswith("`inline`"), path


@pytest.mark.parametrize(
    ("filename", "disposition", "media_type"),
    [("map-2025.svg", "inline", SVG), ("monitoring-2025.xlsx", "attachment", XLSX)],
)
def test_a_picture_is_shown_inline_and_a_workbook_saved(filename, disposition, media_type):
    response = download(b"<svg/>", filename, disposition=disposition)
    assert response.media_type == media_type
    assert response.headers["content-disposition"] == f'{disposition}; filename="{filename}"'


async def test_renamed_fields_answer_under_both_names_for_one_release(client_for, document):
    anyone = client_for(ANONYMOUS)
    target = (await anyone.get("/targets/T01")).json()
    assert target["indicator_id"] == target["indicator"] == plan_targets().target("T01").indicator
    indicator = (await anyone.get(f"/indicators/{target['indicator_id']}")).json()
    assert indicator["target_ids"] == indicator["targets"] and "T01" in indicator["target_ids"]
    schemas = document["components"]["schemas"]
    for schema, old in (("TargetOut", "indicator"), ("IndicatorOut", "targets"), ("SectorSummary", "targets")):
        assert schemas[schema]["properties"][old]["deprecated"] is True, schema
