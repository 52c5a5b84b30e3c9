"""The eligibility service's OpenAPI document as client generators read it: one request schema per computable
measure with that rule's own facts, named enums, no free-form JSON, and operations that say what they are."""

import ast
import inspect
from typing import Any, get_args

import pytest
from fastapi import FastAPI
from pydantic import TypeAdapter

from services.eligibility.awards import service as awards
from services.eligibility.parameters.definitions import load_parameter_set
from services.eligibility.parameters.schemas import ParameterName
from services.eligibility.policies import service as policies
from services.eligibility.rules import base as rules_base
from services.eligibility.rules.base import NotEligibleReasonCode
from services.eligibility.rules.engine import RULES, facts_table
from services.eligibility.rules.m02_public_platform import M02PlatformDomain
from services.eligibility.screenings import subjects
from shared.reference import PLATFORM_DOMAINS

REF = "#/components/schemas/"
# Structural keywords: a schema with none of them admits any JSON value (`unknown` in TypeScript).
TYPED = {"type", "$ref", "anyOf", "oneOf", "allOf", "enum", "const"}


@pytest.fixture(scope="module")
def document(eligibility_app: FastAPI) -> dict[str, Any]:
    return eligibility_app.openapi()


def _schemas(document: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = document["components"]["schemas"]
    return schemas


def _facts_read(rule_module: object) -> set[str]:
    """The names the rule's `evaluate` reads off its facts (`facts.<name>`), from its source."""
    tree = ast.parse(inspect.getsource(rule_module))  # type: ignore[arg-type]
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "facts"
    }


@pytest.mark.parametrize("measure_id", list(RULES))
def test_each_facts_model_holds_exactly_the_facts_its_rule_reads(measure_id):
    rule = RULES[measure_id]
    assert _facts_read(inspect.getmodule(rule.evaluate)) == set(rule.facts)


def test_the_calculate_request_is_one_schema_per_computable_measure_with_its_facts(document):
    schemas = _schemas(document)
    request = schemas["CalculationRequest"]
    assert request["discriminator"]["propertyName"] == "measure_id"
    mapping = request["discriminator"]["mapping"]
    assert set(mapping) == set(RULES)
    assert [item["$ref"] for item in request["oneOf"]] == list(mapping.values())
    for measure_id, ref in mapping.items():
        measure_request = schemas[ref.removeprefix(REF)]
        assert measure_request["properties"]["measure_id"]["const"] == measure_id
        facts = schemas[measure_request["properties"]["facts"]["$ref"].removeprefix(REF)]
        assert facts["title"] == f"{measure_id}Facts" and facts["additionalProperties"] is False
        assert list(facts["properties"]) == RULES[measure_id].facts
    body = document["paths"]["/calculate"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"{REF}CalculationRequest"}


def test_facts_are_typed_money_as_strings_and_booleans_as_booleans(document):
    m01 = _schemas(document)["M01Facts"]["properties"]
    assert m01["verified_investment_yuan"]["type"] == "string" and m01["verified_investment_yuan"]["pattern"]
    assert m01["special_major_approved"]["type"] == "boolean"
    assert _schemas(document)["M02Facts"]["properties"]["platform_domain"]["$ref"] == f"{REF}M02PlatformDomain"
    # One enum of the eight domains, shared with the registry's projects, and `other` beside it.
    assert _schemas(document)["M02PlatformDomain"]["anyOf"] == [
        {"$ref": f"{REF}PlatformDomain"},
        {"type": "string", "const": "other"},
    ]
    assert _schemas(document)["PlatformDomain"]["enum"] == list(PLATFORM_DOMAINS)
    assert TypeAdapter(M02PlatformDomain).validate_python("other") == "other"


def test_the_facts_table_is_rendered_from_the_rules():
    lines = facts_table().splitlines()
    assert lines[:2] == ["| measure | facts |", "|---|---|"]
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in lines[2:]}
    assert list(rows) == list(RULES)
    for measure_id, rule in RULES.items():
        assert all(f"`{name}`" in rows[measure_id] for name in rule.facts)
    assert "`tier` (optional)" in rows["M03"]


def test_the_parameter_names_are_those_of_the_policy_files(document):
    assert set(get_args(ParameterName.__value__)) == set(load_parameter_set().definitions)
    read_by_rules = {name for rule in RULES.values() for name in rule.parameters}
    assert read_by_rules <= set(get_args(ParameterName.__value__))
    overrides = _schemas(document)["SimulationIn"]["properties"]["overrides"]
    assert overrides["propertyNames"] == {"$ref": f"{REF}ParameterName"}


def _untyped(node: Any, where: str) -> list[str]:
    """Every place in `node` that admits any JSON value: a schema without a type, or an object of any members."""
    found: list[str] = []
    if isinstance(node, dict):
        if not TYPED & set(node) and not node.get("not"):
            found.append(where)
        if node.get("type") == "object" and "properties" not in node and "additionalProperties" not in node:
            found.append(where)
        for key in ("properties", "$defs"):
            for name, child in node.get(key, {}).items():
                found += _untyped(child, f"{where}.{name}")
        for key in ("items", "additionalProperties", "propertyNames"):
            if isinstance(node.get(key), dict):
                found += _untyped(node[key], f"{where}[{key}]")
        for key in ("anyOf", "oneOf", "allOf"):
            for index, child in enumerate(node.get(key, [])):
                found += _untyped(child, f"{where}<{key}{index}>")
    return found


def test_no_schema_is_free_form_json(document):
    untyped = [place for name, schema in _schemas(document).items() for place in _untyped(schema, name)]
    assert untyped == []


def test_every_operation_has_an_id_summary_description_and_tags(document):
    ids = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path in ("/healthz", "/readyz", "/metrics"):
                continue
            where = f"{method.upper()} {path}"
            assert operation.get("summary") and not operation["summary"].endswith("."), where
            assert operation.get("description") and operation.get("tags"), where
            operation_id = operation["operationId"]
            assert operation_id[0].islower() and operation_id.isalnum() and len(operation_id) <= 32, where
            ids.append(operation_id)
    assert len(ids) == len(set(ids))
    assert {
        "calculateMeasure",
        "calculateBatch",
        "createAward",
        "transitionAward",
        "downloadAwardsCsv",
        "downloadAwardsXlsx",
    } <= set(ids)


def test_schema_names_are_fastapis_own_no_more(document):
    names = list(_schemas(document))
    assert not [name for name in names if name.endswith(("-Input", "-Output")) or "__" in name or "Body_" in name]
    assert all(schema.get("title", name) == name for name, schema in _schemas(document).items())


def test_the_xlsx_export_is_a_binary_file_with_its_name(document):
    answer = document["paths"]["/awards/export.xlsx"]["get"]["responses"]["200"]
    media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert answer["content"] == {media: {"schema": {"type": "string", "format": "binary"}}}
    assert "Content-Disposition" in answer["headers"]


def test_problems_with_fields_of_their_own_are_documented_with_their_models(document):
    def schema(path: str, method: str, status: str) -> dict[str, Any]:
        content = document["paths"][path][method]["responses"][status]["content"]
        result: dict[str, Any] = content["application/problem+json"]["schema"]
        return result

    assert schema("/awards", "post", "409") == {"$ref": f"{REF}AwardNotHigherProblem"}
    assert schema("/awards", "post", "422") == {"$ref": f"{REF}AwardAboveEntitlementProblem"}
    assert schema("/awards/{award_id}/transitions", "post", "409") == {"$ref": f"{REF}AwardStepRefusedProblem"}
    assert schema("/policies", "post", "409") == {"$ref": f"{REF}PolicyAlreadyRegisteredProblem"}
    assert schema("/calendar/{year}/working-days", "get", "503") == {"$ref": f"{REF}CalendarUnknownProblem"}
    assert _schemas(document)["AwardStepRefusedProblem"]["properties"]["allowed_actions"]


def _codes_given(module: object) -> set[str]:
    """The codes a module's source gives for nothing: `ev.refuse("<code>", …)` and `Reason("<code>", …)`."""
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    codes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if called in ("refuse", "Reason"):
                codes.add(node.args[0].value)
    return codes


def test_the_reason_codes_are_exactly_those_the_rules_give(document):
    modules = {inspect.getmodule(rule.evaluate) for rule in RULES.values()} | {inspect.getmodule(facts_table)}
    given = set().union(*map(_codes_given, modules))
    assert given == set(get_args(get_args(NotEligibleReasonCode.__value__)[0]))
    schemas = _schemas(document)
    assert set(schemas["NotEligibleReasonCode"]["enum"]) == given
    assert schemas["NotEligibleReason"]["properties"]["code"]["$ref"] == f"{REF}NotEligibleReasonCode"
    assert rules_base.Reason.__annotations__["code"] is NotEligibleReasonCode


@pytest.mark.parametrize(
    ("model", "error", "types"),
    [
        ("AwardNotHigherProblem", awards.AwardNotHigher, ["/problems/award-not-higher"]),
        (
            "AwardAboveEntitlementProblem",
            awards.AwardAboveEntitlement,
            ["/problems/award-above-entitlement", "/problems/invalid-input"],
        ),
        ("AwardStepRefusedProblem", awards.AwardStepRefused, ["/problems/award-step-refused"]),
        ("PolicyAlreadyRegisteredProblem", policies.PolicyAlreadyRegistered, ["/problems/policy-already-registered"]),
    ],
)
def test_each_problem_model_names_its_own_type_which_its_error_sends(document, model, error, types):
    schemas = _schemas(document)
    documented = schemas[model]["properties"]["type"]
    if "$ref" in documented:
        documented = schemas[documented["$ref"].removeprefix(REF)]
        assert len(documented["x-enum-varnames"]) == len(types)
    assert documented.get("enum", [documented.get("const")]) == types
    assert f"/problems/{error.slug}" == types[0]


def test_one_name_for_one_thing_with_the_old_names_deprecated(document):
    schemas = _schemas(document)
    event = schemas["AwardEventOut"]["properties"]
    assert event["actor_role"] == {"$ref": f"{REF}Role"}
    assert event["at"]["deprecated"] is True and "deprecated" not in event["occurred_at"]
    assert {"occurred_at", "at"} <= set(schemas["AwardEventOut"]["required"])
    days = schemas["WorkingDaysOut"]
    assert days["properties"]["notice_end"]["deprecated"] is True and "notice_ends_on" in days["required"]


def test_the_closed_sets_shared_with_the_registry_are_named(document):
    schemas = _schemas(document)
    tier = schemas["M03Facts"]["properties"]["tier"]
    assert {"$ref": f"{REF}ClusterTier"} in tier["anyOf"]
    assert schemas["ClusterTier"]["minimum"] == 1 and schemas["ClusterTier"]["maximum"] == 9
    owner = schemas["ParameterMeasureId"]["anyOf"]
    assert owner == [{"$ref": f"{REF}MeasureId"}, {"type": "string", "const": "policy"}]
    assert schemas["PolicyParameterOut"]["properties"]["measure_id"] == {"$ref": f"{REF}ParameterMeasureId"}


def test_every_tag_is_described(document):
    used = {tag for item in document["paths"].values() for op in item.values() for tag in op.get("tags", [])}
    described = {tag["name"]: tag["description"] for tag in document["tags"]}
    assert used == set(described) and all(described.values())


# The operations whose service answers 403 for a district key that names (or reaches) another district; the
# behaviour is tested in test_awards, test_screenings, test_simulations and test_matches.
DISTRICT_SCOPED = [
    "listAwards",
    "getAwardsSummary",
    "downloadAwardsCsv",
    "downloadAwardsXlsx",
    "getAward",
    "createScreening",
    "createSimulation",
    "listEnterpriseMatches",
]


def test_the_district_scope_403s_are_documented(document):
    operations = {op["operationId"]: op for item in document["paths"].values() for op in item.values()}
    for operation_id in DISTRICT_SCOPED:
        refused = operations[operation_id]["responses"]["403"]
        assert "district" in refused["description"], operation_id
        assert refused["content"]["application/problem+json"]["schema"] == {"$ref": f"{REF}Problem"}


def _gap_codes_given() -> set[str]:
    """The codes screenings/subjects.py gives a gap: `gap("<code>", …)`, `Gap(…, "<code>", message)` and the
    `("<code>", message)` pairs its helpers return."""
    tree = ast.parse(inspect.getsource(subjects))
    codes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            given = {"gap": 0, "Gap": 4}.get(node.func.id)
            if given is not None and len(node.args) > given and isinstance(node.args[given], ast.Constant):
                codes.add(node.args[given].value)
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and node.value.elts:
            first = node.value.elts[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                codes.add(first.value)
    return codes


def test_a_screening_counts_a_rule_s_reason_or_a_gap_each_a_named_enum(document):
    schemas = _schemas(document)
    assert set(schemas["ScreeningGapCode"]["enum"]) == _gap_codes_given()
    assert set(get_args(get_args(subjects.ScreeningGapCode.__value__)[0])) == _gap_codes_given()
    assert schemas["ScreeningReasonCode"]["anyOf"] == [
        {"$ref": f"{REF}NotEligibleReasonCode"},
        {"$ref": f"{REF}ScreeningGapCode"},
    ]
    assert schemas["ReasonCount"]["properties"]["code"] == {"$ref": f"{REF}ScreeningReasonCode"}
