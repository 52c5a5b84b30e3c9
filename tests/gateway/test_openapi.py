"""The merged document, built from hand-made service specs: names kept, equal schemas once, a different schema under
a taken name renamed and recorded, unused components left out, servers, info and what the gateway adds."""

import copy
from typing import Any

import pytest
from openapi_spec_validator import validate
from structlog.testing import capture_logs

from gateway.access import rule_for
from gateway.openapi import canonical, merge, who_may_call
from shared.errors import problem_components

REF = "#/components/schemas/"


def base() -> dict[str, Any]:
    """The gateway's own document, as its app makes it (trimmed to what matters here)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Gateway",
            "version": "1.0.0",
            "contact": {"name": "The commission", "url": "https://commission.test"},
            "license": {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
        },
        "paths": {
            "/healthz": {
                "get": {
                    "operationId": "getGatewayHealth",
                    "summary": "Alive",
                    "responses": {"200": {"description": "Alive", "content": {"application/json": {}}}},
                }
            }
        },
        "components": {"schemas": {}},
    }


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def operation(operation_id: str, schema: dict[str, Any], *, tags: list[str] | None = None) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": "An operation",
        "description": "What it does.",
        "tags": tags or ["things"],
        "responses": {"200": {"description": "Done", **json_body(schema)}},
    }


def service(paths: dict[str, Any], schemas: dict[str, Any], tags: list[dict[str, str]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"openapi": "3.1.0", "info": {"title": "x", "version": "1"}, "paths": paths}
    spec["components"] = {"schemas": schemas}
    if tags is not None:
        spec["tags"] = tags
    return spec


THING = {"title": "Thing", "type": "object", "properties": {"name": {"type": "string"}}}
OTHER_THING = {"title": "Thing", "type": "object", "properties": {"size": {"type": "integer"}}}
BOX = {"title": "Box", "type": "object", "properties": {"thing": {"$ref": REF + "Thing"}}}


def test_names_are_kept_and_one_schema_of_several_services_is_there_once() -> None:
    registry = service(
        {"/things": {"get": operation("listThings", {"$ref": REF + "Box"})}}, {"Thing": THING, "Box": BOX}
    )
    ranking = service(
        {"/boxes": {"get": operation("listRankingBoxes", {"$ref": REF + "Box"})}},
        {"Thing": copy.deepcopy(THING), "Box": dict(reversed(list(BOX.items())))},  # key order does not matter
    )
    doc = merge(base(), {"registry": registry, "ranking": ranking}, [])
    validate(doc)
    schemas = doc["components"]["schemas"]
    assert schemas["Thing"] == THING and schemas["Box"] == BOX
    assert not any(name.startswith(("Registry", "Ranking")) for name in schemas)
    assert "x-schema-collisions" not in doc
    # operationIds are the services' own.
    assert doc["paths"]["/api/v1/registry/things"]["get"]["operationId"] == "listThings"
    assert doc["paths"]["/api/v1/ranking/boxes"]["get"]["operationId"] == "listRankingBoxes"
    assert doc["paths"]["/api/v1/ranking/boxes"]["get"]["responses"]["200"]["content"]["application/json"] == {
        "schema": {"$ref": REF + "Box"}
    }


def test_a_different_schema_under_a_taken_name_is_renamed_with_its_references_and_recorded() -> None:
    registry = service(
        {"/things": {"get": operation("listThings", {"$ref": REF + "Box"})}}, {"Thing": THING, "Box": BOX}
    )
    union = {
        "title": "Either",
        "oneOf": [{"$ref": REF + "Thing"}, {"$ref": REF + "Box"}],
        "discriminator": {"propertyName": "kind", "mapping": {"thing": REF + "Thing", "box": REF + "Box"}},
    }
    ranking = service(
        {
            "/either": {"get": operation("getEither", {"$ref": REF + "Either"})},
            "/sizes": {"get": operation("getSize", {"$ref": REF + "Thing/properties/size"})},
        },
        {"Thing": OTHER_THING, "Box": copy.deepcopy(BOX), "Either": union},
    )
    with capture_logs() as logs:
        doc = merge(base(), {"registry": registry, "ranking": ranking}, [])
    validate(doc)
    schemas = doc["components"]["schemas"]
    assert schemas["Thing"] == THING  # the first service's keeps the name
    assert schemas["RankingThing"] == {**OTHER_THING, "title": "RankingThing"}
    # The ranking's Box is the same text but means another Thing: it is another schema, renamed too.
    assert schemas["RankingBox"]["properties"]["thing"] == {"$ref": REF + "RankingThing"}
    assert schemas["Box"] == BOX
    either = schemas["Either"]
    assert either["oneOf"] == [{"$ref": REF + "RankingThing"}, {"$ref": REF + "RankingBox"}]
    assert either["discriminator"]["mapping"] == {"thing": REF + "RankingThing", "box": REF + "RankingBox"}
    size = doc["paths"]["/api/v1/ranking/sizes"]["get"]["responses"]["200"]["content"]["application/json"]
    assert size == {"schema": {"$ref": REF + "RankingThing/properties/size"}}
    assert doc["x-schema-collisions"] == [
        {"service": "ranking", "kind": "schemas", "name": "Thing", "renamed": "RankingThing"},
        {"service": "ranking", "kind": "schemas", "name": "Box", "renamed": "RankingBox"},
    ]
    warned = [log for log in logs if log["log_level"] == "warning"]
    assert [(log["name"], log["renamed"]) for log in warned] == [("Thing", "RankingThing"), ("Box", "RankingBox")]
    # Deterministic: the same specs give the same document.
    assert canonical(merge(base(), {"registry": registry, "ranking": ranking}, [])) == canonical(doc)


def test_components_no_operation_reaches_are_left_out_transitively() -> None:
    health = {"title": "Health", "type": "object", "properties": {"status": {"type": "string"}}}
    registry = service(
        {
            "/things": {"get": operation("listThings", {"$ref": REF + "Box"})},
            # The service's own probe is not served by the gateway: left out, with the schema only it used.
            "/healthz": {"get": operation("registryHealth", {"$ref": REF + "Health"})},
        },
        {
            "Thing": THING,
            "Box": BOX,
            "Health": health,
            "Orphan": {"title": "Orphan", "type": "object", "properties": {"box": {"$ref": REF + "Box"}}},
            "OrphansFriend": {"title": "OrphansFriend", "type": "string"},
        },
    )
    # Another service's Health differs: had it not been left out with the probe, it would have collided.
    ranking = service(
        {"/health-things": {"get": operation("listHealthThings", {"$ref": REF + "Health"})}},
        {"Health": {"title": "Health", "type": "string"}},
    )
    doc = merge(base(), {"registry": registry, "ranking": ranking}, [])
    schemas = doc["components"]["schemas"]
    assert {"Thing", "Box", "Health"} <= set(schemas)
    assert schemas["Health"] == {"title": "Health", "type": "string"}
    assert "Orphan" not in schemas and "OrphansFriend" not in schemas
    assert "/api/v1/registry/healthz" not in doc["paths"]
    assert "x-schema-collisions" not in doc
    # The problem schemas stay: the gateway's own answers use them.
    assert schemas["Problem"] == problem_components()["Problem"]
    assert "FieldError" in schemas


def test_servers_info_and_tags() -> None:
    registry = service(
        {"/things": {"get": operation("listThings", THING, tags=["things"])}},
        {},
        tags=[{"name": "things", "description": "Things the registry keeps."}],
    )
    ranking = service({"/runs": {"post": operation("createRun", THING, tags=["runs"])}}, {})
    served = merge(base(), {"registry": registry, "ranking": ranking}, [], server_url="https://api.cq.test")
    assert served["servers"] == [{"url": "https://api.cq.test", "description": served["servers"][0]["description"]}]
    assert served["servers"][0]["description"]
    # Built without a request (the contract checks): the document's own origin.
    assert merge(base(), {}, [])["servers"][0]["url"] == "/"
    info = served["info"]
    assert info["contact"] == {"name": "The commission", "url": "https://commission.test"}
    assert info["license"] == {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"}
    assert info["title"] == "Chongqing producer services support API"
    tags = {tag["name"]: tag["description"] for tag in served["tags"]}
    # Every tag an operation uses is declared, with a description: the service's own where it gave one.
    assert tags == {
        "gateway": tags["gateway"],
        "registry: things": "Things the registry keeps.",
        "ranking: runs": "The ranking service: runs.",
    }
    used = {tag for item in served["paths"].values() for op in item.values() for tag in op["tags"]}
    assert used == set(tags)


def test_the_gateway_adds_its_own_problems_with_their_headers() -> None:
    registry = service(
        {
            "/audit": {"get": operation("listRegistryAudit", THING)},
            "/things": {
                "post": {
                    **operation("createThing", THING),
                    "responses": {
                        "201": {"description": "Made"},
                        "503": {"description": "The database is not reachable.", **json_body({"$ref": REF + "Box"})},
                    },
                }
            },
        },
        {"Box": BOX, "Thing": THING},
    )
    eligibility = service({"/measures": {"get": operation("listMeasures", THING)}}, {})
    doc = merge(base(), {"registry": registry, "eligibility": eligibility}, [])
    validate(doc)
    problem = {"application/problem+json": {"schema": {"$ref": REF + "Problem"}}}

    audit = doc["paths"]["/api/v1/registry/audit"]["get"]
    responses = audit["responses"]
    assert {"401", "403", "429", "431", "502", "503", "504"} <= set(responses)
    assert "413" not in responses  # a GET takes no body
    for status in ("401", "403", "429", "431", "502", "503", "504"):
        assert responses[status]["content"] == problem, status
        assert "X-Request-ID" in responses[status]["headers"], status
    assert set(responses["429"]["headers"]) == {"X-Request-ID", "Retry-After"}
    assert set(responses["503"]["headers"]) == {"X-Request-ID", "Retry-After"}
    assert set(responses["401"]["headers"]) == {"X-Request-ID", "WWW-Authenticate"}
    assert responses["403"]["description"] == "District keys may not do this: the audit log is for city and auditor."
    assert audit["security"] == [{"bearer": []}]
    assert audit["x-roles"] == ["auditor", "city"]
    assert (
        audit["description"]
        == "What it does.\n\n**Who may call:** city and auditor keys (the audit log is for city and auditor)."
    )

    create = doc["paths"]["/api/v1/registry/things"]["post"]["responses"]
    assert "413" in create and "403" in create  # the auditor changes nothing
    # A status the service documents itself keeps its schema; both meanings are told.
    assert create["503"]["content"] == {"application/json": {"schema": {"$ref": REF + "Box"}}}
    assert create["503"]["description"].startswith("The database is not reachable. From the gateway: ")
    assert "Retry-After" in create["503"]["headers"]

    # A public operation: no 403 from the gateway; a 401 only for a key that is not valid.
    measures = doc["paths"]["/api/v1/eligibility/measures"]["get"]
    assert "403" not in measures["responses"]
    assert "needs none" in measures["responses"]["401"]["description"]
    assert measures["security"] == [{}, {"bearer": []}]
    # Every response of every operation, the gateway's own too, names its request id.
    for item in doc["paths"].values():
        for op in item.values():
            for status, response in op["responses"].items():
                assert "X-Request-ID" in response["headers"], (op["operationId"], status)


@pytest.mark.parametrize(
    ("service_name", "method", "path", "text"),
    [
        (
            "eligibility",
            "GET",
            "/measures",
            "**Who may call:** anyone, no API key needed (the measures catalogue is public).",
        ),
        (
            "eligibility",
            "POST",
            "/awards",
            "**Who may call:** city keys (only the city grants and approves awards).",
        ),
        (
            "registry",
            "GET",
            "/enterprises",
            "**Who may call:** city, district and auditor keys (reading needs an API key); a district key only for "
            "its own district's records.",
        ),
        (
            "registry",
            "PATCH",
            "/enterprises/x",
            "**Who may call:** city and district keys (the auditor role changes nothing); a district key only for "
            "its own district's records.",
        ),
    ],
)
def test_who_may_call_is_told_from_the_access_rules(service_name: str, method: str, path: str, text: str) -> None:
    rule = rule_for(service_name, method, path)
    assert rule is not None
    assert who_may_call(rule) == text
