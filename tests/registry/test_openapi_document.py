"""The registry's OpenAPI document says what the routes answer: each problem with fields of its own has a model that a
real body of that problem validates against, 201s name what they created, and closed sets are named schemas."""

from typing import Any

import pytest
from pydantic import TypeAdapter

from services.registry import problems
from services.registry.designations.schemas import DesignationConflictProblem
from services.registry.enterprises.schemas import EnterpriseConflictProblem
from services.registry.main import create_app
from services.registry.projects.schemas import ProjectDuplicateProblem
from services.registry.registrations.schemas import RegistrationConflictProblem
from services.registry.settings import RegistrySettings
from shared.policy.vocabulary import ClusterTier
from shared.reference import PLATFORM_DOMAINS
from tests.registry.factories import enterprise, new_uscc
from tests.support import district

YUZHONG, JIANGBEI = "500103", "500105"
NOTICE = "渝发改服务〔2025〕12号"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    # Made, never started: the URL is never connected to.
    settings = RegistrySettings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none", environment="test")
    return create_app(settings).openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        if path not in ("/healthz", "/readyz")
        for method, operation in item.items()
    ]


def problem_schema(document: dict[str, Any], path: str, method: str, status: str) -> str:
    content = document["paths"][path][method]["responses"][status]["content"]
    return str(content["application/problem+json"]["schema"]["$ref"]).rsplit("/", 1)[-1]


async def owner(city) -> str:
    body = enterprise(YUZHONG)
    assert (await city.post("/enterprises", json=body)).status_code == 201
    return str(body["uscc"])


async def test_an_existing_credit_code_is_an_enterprise_conflict_problem(city, document):
    body = enterprise()
    await city.post("/enterprises", json=body)
    again = await city.post("/enterprises", json=body)
    assert again.status_code == 409
    problem = EnterpriseConflictProblem.model_validate(again.json())
    assert (problem.type, problem.uscc, problem.registration_id) == ("/problems/enterprise-exists", body["uscc"], None)
    assert problem_schema(document, "/enterprises", "post", "409") == "EnterpriseConflictProblem"


async def test_a_held_registration_is_an_enterprise_conflict_problem_naming_it(client_for):
    yuzhong = client_for(district(YUZHONG))
    body = enterprise(YUZHONG, uscc=new_uscc(JIANGBEI))
    held = (await yuzhong.post("/enterprises", json=body)).json()
    again = await yuzhong.post("/enterprises", json=body)
    assert again.status_code == 409
    problem = EnterpriseConflictProblem.model_validate(again.json())
    assert (problem.type, problem.uscc, problem.registration_id) == (
        "/problems/enterprise-exists",
        body["uscc"],
        held["id"],
    )


async def test_a_decided_or_overtaken_registration_is_a_registration_conflict_problem(city, client_for, document):
    yuzhong = client_for(district(YUZHONG))
    body = enterprise(YUZHONG, uscc=new_uscc(JIANGBEI))
    held = (await yuzhong.post("/enterprises", json=body)).json()
    assert (await city.post("/enterprises", json=enterprise(JIANGBEI, uscc=body["uscc"]))).status_code == 201
    overtaken = await city.post(f"/enterprise-registrations/{held['id']}/confirm", json={})
    assert overtaken.status_code == 409
    problem = RegistrationConflictProblem.model_validate(overtaken.json())
    assert (problem.type, problem.uscc, problem.current_status) == ("/problems/enterprise-exists", body["uscc"], None)

    refused = await city.post(f"/enterprise-registrations/{held['id']}/refuse", json={"reason": "已登记"})
    assert refused.status_code == 200
    for decision, sent in (("confirm", {}), ("refuse", {"reason": "再次"})):
        decided = await city.post(f"/enterprise-registrations/{held['id']}/{decision}", json=sent)
        assert decided.status_code == 409
        problem = RegistrationConflictProblem.model_validate(decided.json())
        assert (problem.type, problem.current_status, problem.uscc) == (
            "/problems/registration-decided",
            "refused",
            None,
        )
        # The old name, deprecated, still carries the status for one more release.
        assert decided.json()["status_now"] == "refused"
        path = f"/enterprise-registrations/{{registration_id}}/{decision}"
        assert problem_schema(document, path, "post", "409") == "RegistrationConflictProblem"


async def test_a_duplicate_project_is_a_project_duplicate_problem(city, document):
    body = {
        "kind": "event",
        "owner_uscc": await owner(city),
        "name": "西部服务贸易博览会",
        "year": 2025,
        "actual_spend_yuan": "1200000.00",
    }
    first = await city.post("/projects", json=body)
    assert first.status_code == 201
    again = await city.post("/projects", json=body)
    assert again.status_code == 409
    problem = ProjectDuplicateProblem.model_validate(again.json())
    assert (problem.type, problem.existing_project_id) == ("/problems/project-duplicate", first.json()["id"])
    assert problem_schema(document, "/projects", "post", "409") == "ProjectDuplicateProblem"


async def test_a_second_live_designation_is_a_designation_conflict_problem(city, document):
    uscc = await owner(city)
    first = await city.post("/leading-enterprises", json={"uscc": uscc, "year": 2025, "document": NOTICE})
    assert first.status_code == 201
    again = await city.post("/leading-enterprises", json={"uscc": uscc, "year": 2025, "document": NOTICE})
    assert again.status_code == 409
    problem = DesignationConflictProblem.model_validate(again.json())
    assert (problem.type, problem.existing_designation_id) == ("/problems/designation-exists", first.json()["id"])
    assert problem_schema(document, "/leading-enterprises", "post", "409") == "DesignationConflictProblem"


async def test_every_201_of_a_post_names_what_it_created(city, document):
    uscc = await owner(city)
    created = {
        "/clusters": {"name": "两江数字经济产业园", "district_code": YUZHONG},
        "/buildings": {"name": "解放碑国际金融中心", "district_code": YUZHONG, "stars": 5, "operator_uscc": uscc},
        "/projects": {
            "kind": "investment",
            "owner_uscc": uscc,
            "name": "数字服务中心",
            "year": 2025,
            "verified_investment_yuan": "80000000.00",
        },
    }
    for path, body in created.items():
        response = await city.post(path, json=body)
        assert response.status_code == 201, response.text
        assert response.headers["location"] == f"{path}/{response.json()['id']}"
        assert (await city.get(response.headers["location"])).json() == response.json()
    for method, path, operation in operations(document):
        if method == "post" and "201" in operation["responses"]:
            assert "Location" in operation["responses"]["201"].get("headers", {}), path


def test_every_operation_is_named_described_and_documents_its_problems(document):
    ids = []
    for method, path, operation in operations(document):
        assert operation["summary"] and not operation["summary"].endswith("."), (method, path)
        assert operation["description"] and operation["tags"], (method, path)
        ids.append(operation["operationId"])
        if operation.get("parameters") or operation.get("requestBody"):
            assert "422" in operation["responses"], (method, path)
        if operation.get("requestBody", {}).get("content", {}).keys() == {"application/json"}:
            assert "400" in operation["responses"], (method, path)
    assert len(ids) == len(set(ids)) and all(len(name) <= 32 and name[0].islower() for name in ids)


def test_closed_sets_are_named_schemas_used_by_inputs_and_outputs(document):
    schemas = document["components"]["schemas"]
    for name, values in {
        "ProjectKind": ["investment", "platform", "event"],
        "ClusterGrade": ["A", "B", "C", "D"],
        "VerificationStatus": ["submitted", "verified", "rejected"],
        "RegistrationStatus": ["held", "confirmed", "refused"],
        "DistrictKind": ["district", "county", "autonomous_county"],
    }.items():
        assert schemas[name]["enum"] == values
    ref = {"$ref": "#/components/schemas/ProjectKind"}
    assert schemas["ProjectCreate"]["properties"]["kind"] == ref == schemas["ProjectOut"]["properties"]["kind"]
    grade = {"$ref": "#/components/schemas/ClusterGrade"}
    assert schemas["ClusterEvaluationIn"]["properties"]["grade"] == grade
    assert schemas["ClusterEvaluationOut"]["properties"]["grade"] == grade
    district_code = {"$ref": "#/components/schemas/DistrictCode"}
    assert schemas["EnterpriseOut"]["properties"]["district_code"] == district_code
    assert schemas["AuditEntryOut"]["properties"]["action"] == {"$ref": "#/components/schemas/AuditAction"}


async def test_audit_snapshots_of_every_kind_are_typed(city):
    """Every snapshot the log holds validates against its typed shape (AuditSnapshot), read back as written."""
    uscc = await owner(city)
    await city.put(
        f"/enterprises/{uscc}/years/2024", json={"revenue_yuan": "1.00", "employees": 1, "above_scale": True}
    )
    await city.post(f"/enterprises/{uscc}/years/2024/verification", json={"decision": "reject", "reason": "核对"})
    cluster = (await city.post("/clusters", json={"name": "集聚区", "district_code": YUZHONG})).json()
    await city.put(f"/clusters/{cluster['id']}/evaluations/2024", json={"grade": "A", "score": "92.5", "tier": 1})
    imported = [{**enterprise(YUZHONG), "year": 2024, "revenue_yuan": "5.00", "employees": 2, "above_scale": False}]
    assert (await city.post("/enterprises/import", json=imported)).status_code == 200
    entries = (await city.get("/audit")).json()["items"]
    assert {entry["action"] for entry in entries} == {"create", "upsert", "reject", "import"}
    imported_entry = next(entry for entry in entries if entry["action"] == "import")
    assert imported_entry["after"]["years"]["2024"]["revenue_yuan"] == "5.00"


def _schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


@pytest.mark.parametrize(
    ("model", "types"),
    [
        ("EnterpriseConflictProblem", ["/problems/enterprise-exists", "/problems/conflict"]),
        (
            "RegistrationConflictProblem",
            ["/problems/registration-decided", "/problems/enterprise-exists", "/problems/conflict"],
        ),
        ("ProjectDuplicateProblem", ["/problems/project-duplicate", "/problems/conflict"]),
        ("DesignationConflictProblem", ["/problems/designation-exists"]),
        ("ImportProblem", ["/problems/import-refused", "/problems/invalid-input"]),
    ],
)
def test_each_problem_model_names_the_types_it_describes(document, model, types):
    """A client tells the problems apart by `type`: each model documents the types its bodies carry, its own first."""
    documented = _schema(document, model)["properties"]["type"]
    if "$ref" in documented:
        documented = _schema(document, documented["$ref"].rsplit("/", 1)[-1])
        assert len(documented["x-enum-varnames"]) == len(types)
    assert documented.get("enum", [documented.get("const")]) == types


@pytest.mark.parametrize(
    ("error", "slug"),
    [
        (problems.EnterpriseExists, "enterprise-exists"),
        (problems.RegistrationDecided, "registration-decided"),
        (problems.ProjectDuplicate, "project-duplicate"),
        (problems.DesignationExists, "designation-exists"),
        (problems.ImportRefused, "import-refused"),
    ],
)
def test_each_problem_error_sends_its_own_type(error, slug):
    assert error.slug == slug


def test_the_old_name_of_a_registration_s_status_is_deprecated(document):
    properties = _schema(document, "RegistrationConflictProblem")["properties"]
    assert properties["status_now"]["deprecated"] is True and "deprecated" not in properties["current_status"]


def test_the_platform_domain_and_the_cluster_tier_are_the_shared_ones(document):
    assert _schema(document, "PlatformDomain")["enum"] == list(PLATFORM_DOMAINS)
    assert _schema(document, "ClusterTier") == TypeAdapter(ClusterTier).json_schema()
    project = _schema(document, "ProjectOut")["properties"]["platform_domain"]
    assert {"$ref": "#/components/schemas/PlatformDomain"} in project["anyOf"]


def test_every_tag_is_described(document):
    used = {tag for item in document["paths"].values() for op in item.values() for tag in op.get("tags", [])}
    described = {tag["name"]: tag["description"] for tag in document["tags"]}
    assert used == set(described) and all(described.values())
