"""What every service document says the same way (shared.openapi): problems, headers and the named enums."""

from typing import Any

import pytest
from fastapi import APIRouter
from pydantic import BaseModel

from shared.app import create_service_app
from shared.errors import Problem
from shared.identifiers import DistrictCode, SectorCode
from shared.openapi import HEADERS, PROBLEM_MEDIA_TYPE, problems, schema_ref
from shared.settings import ServiceSettings


class TakenProblem(Problem):
    holder: str


class Thing(BaseModel):
    district_code: DistrictCode
    sector: SectorCode | None = None


router = APIRouter()


@router.post(
    "/things",
    operation_id="createThing",
    status_code=201,
    responses={
        201: {"headers": {"Location": HEADERS["Location"]}},
        **problems({404: "No such district.", 409: ("Taken already.", TakenProblem)}),
    },
)
async def create_thing(thing: Thing) -> Thing:
    return thing


@router.get("/things", operation_id="listThings")
async def list_things(district_code: DistrictCode | None = None) -> list[Thing]:
    return []


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    settings = ServiceSettings(
        service_name="probe", database_url="postgresql+asyncpg://postgres@127.0.0.1:5432/unused", environment="test"
    )
    app = create_service_app(settings=settings, title="probe", version="0", description="", routers=[router])
    return app.openapi()


def test_documented_problems_are_problem_json_with_their_own_schema(document):
    responses = document["paths"]["/things"]["post"]["responses"]
    assert responses["404"]["description"] == "No such district."
    assert responses["404"]["content"] == {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert responses["409"]["content"] == {
        PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/TakenProblem"}}
    }
    taken = document["components"]["schemas"]["TakenProblem"]
    assert set(taken["required"]) == {"type", "title", "status", "detail", "instance", "request_id", "holder"}
    # FastAPI's own validation schema is replaced by the problem every 422 really is.
    assert responses["422"]["content"] == {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "ValidationError" not in document["components"]["schemas"]
    assert responses["default"]["content"][PROBLEM_MEDIA_TYPE]["schema"] == {"$ref": "#/components/schemas/Problem"}
    # A JSON body that does not parse is a 400 on every route that takes one, documented or not by the route.
    assert responses["400"]["content"] == {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert "400" not in document["paths"]["/things"]["get"]["responses"]


def test_every_response_documents_its_request_id_and_success_its_own_headers(document):
    for item in document["paths"].values():
        for operation in item.values():
            for response in operation["responses"].values():
                assert response["headers"]["X-Request-ID"] == HEADERS["X-Request-ID"]
    created = document["paths"]["/things"]["post"]["responses"]["201"]
    assert created["headers"]["Location"] == HEADERS["Location"]
    assert "application/json" in created["content"]


def test_districts_and_sectors_are_one_named_enum_each_in_bodies_and_queries(document):
    schemas = document["components"]["schemas"]
    districts = schemas["DistrictCode"]
    assert len(districts["enum"]) == 38
    # Codes start with a digit: generated enums take their members' names from the pinyin, one each.
    assert len(set(districts["x-enum-varnames"])) == 38
    assert districts["x-enum-varnames"][districts["enum"].index("500103")] == "YUZHONG"
    assert districts["x-enum-descriptions"][districts["enum"].index("500103")] == "渝中区"
    assert len(schemas["SectorCode"]["enum"]) == 18
    thing = schemas["Thing"]["properties"]
    assert thing["district_code"] == {"$ref": "#/components/schemas/DistrictCode"}
    assert {"$ref": "#/components/schemas/SectorCode"} in thing["sector"]["anyOf"]
    (query,) = document["paths"]["/things"]["get"]["parameters"]
    assert {"$ref": "#/components/schemas/DistrictCode"} in query["schema"]["anyOf"]
    # One schema for reading and writing a model.
    assert not any(name.endswith(("-Input", "-Output")) for name in schemas)


def test_problems_refuses_a_success_status():
    with pytest.raises(ValueError, match="not an error status"):
        problems({200: "fine"})


class StreamedRow(BaseModel):
    district_code: DistrictCode
    name: str


streamed_router = APIRouter()


@streamed_router.post(
    "/rows",
    operation_id="sendRows",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "array", "items": schema_ref(StreamedRow)}}},
        }
    },
)
async def send_rows() -> int:
    return 0


def test_a_body_a_route_reads_itself_is_documented_by_its_model():
    settings = ServiceSettings(
        service_name="rows", database_url="postgresql+asyncpg://postgres@127.0.0.1:5432/unused", environment="test"
    )
    app = create_service_app(settings=settings, title="rows", version="0", description="", routers=[streamed_router])
    document = app.openapi()
    schemas = document["components"]["schemas"]
    assert schemas["StreamedRow"]["required"] == ["district_code", "name"]
    assert schemas["StreamedRow"]["properties"]["district_code"] == {"$ref": "#/components/schemas/DistrictCode"}
    assert "DistrictCode" in schemas
    # A document that does not refer to the model does not get it.
    settings = ServiceSettings(
        service_name="other", database_url="postgresql+asyncpg://postgres@127.0.0.1:5432/unused", environment="test"
    )
    other = create_service_app(settings=settings, title="other", version="0", description="", routers=[router])
    assert "StreamedRow" not in other.openapi()["components"]["schemas"]
