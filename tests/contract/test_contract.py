"""The merged OpenAPI document is a contract front-end teams generate clients from without a hand-fix.

The document is built in-process as the gateway merges it (tests/contract/document.py) and checked, once per
module, by every tool a team would use: openapi-spec-validator, Redocly CLI and Spectral (no error, no warning),
openapi-python-client (no warning, and the package works), openapi-typescript with a strict TypeScript program that
must compile without casts (and a wrong one that must not), plus the rules no tool checks (findings.structure).
`python -m tests.contract` prints the same findings grouped by rule and part.
"""

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.contract import findings as checks
from tests.contract.document import merged_document, own_schema_names, service_specs, write_document

SHOWN = 40


@dataclass(frozen=True)
class Contract:
    document: dict[str, Any]
    path: Path
    out: Path
    own_schema_names: set[str]


def assert_none(found: list[checks.Finding]) -> None:
    unique = sorted(set(found))
    lines = [str(finding) for finding in unique[:SHOWN]]
    more = f"\n... and {len(unique) - SHOWN} more (python -m tests.contract --full)" if len(unique) > SHOWN else ""
    if unique:
        pytest.fail(f"{len(unique)} finding(s):\n" + "\n".join(lines) + more, pytrace=False)


def tools_or_fail(run: Any, *arguments: Any) -> list[checks.Finding]:
    """A missing tool fails the test (CI installs them all), saying how to install it."""
    try:
        found: list[checks.Finding] = run(*arguments)
    except checks.ToolMissing as missing:
        pytest.fail(str(missing))
    return found


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Contract:
    out = tmp_path_factory.mktemp("contract")
    specs = service_specs()
    document = merged_document(specs)
    write_document(out / "openapi.json", document)
    return Contract(document, out / "openapi.json", out, own_schema_names(specs))


@pytest.fixture(scope="module")
def node() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the npm tools of tests/contract cannot run (apt-get install nodejs npm)")


@pytest.fixture(scope="module")
def structure(contract: Contract) -> list[checks.Finding]:
    return checks.structure(contract.document, contract.own_schema_names)


def of_rules(found: list[checks.Finding], *rules: str) -> list[checks.Finding]:
    return [finding for finding in found if finding.rule in rules]


# The tools -------------------------------------------------------------------------------------------------------


def test_document_passes_openapi_spec_validator(contract: Contract) -> None:
    assert_none(checks.spec_validator(contract.document))


def test_redocly_lint_recommended_has_no_error_and_no_warning(contract: Contract, node: None) -> None:
    assert_none(tools_or_fail(checks.redocly, contract.path))


def test_spectral_oas_has_no_error_and_no_warning(contract: Contract, node: None) -> None:
    assert_none(tools_or_fail(checks.spectral, contract.path))


@pytest.fixture(scope="module")
def python_client(contract: Contract) -> list[checks.Finding]:
    return tools_or_fail(checks.python_client, contract.path, contract.out)


def test_openapi_python_client_generates_without_a_warning(
    contract: Contract, python_client: list[checks.Finding]
) -> None:
    assert_none(python_client)
    output = (contract.out / checks.PYTHON_CLIENT_LOG).read_text(encoding="utf-8")
    assert not re.search(r"WARNING|Warning|ERROR|Error", output), output[-3000:]


def test_generated_python_client_imports_and_parses_a_problem(
    contract: Contract, python_client: list[checks.Finding]
) -> None:
    assert (contract.out / checks.PYTHON_CLIENT_PACKAGE / "__init__.py").is_file(), "nothing was generated"
    assert_none(checks.python_client_use(contract.out))


@pytest.fixture(scope="module")
def typescript_schema(contract: Contract, node: None) -> list[checks.Finding]:
    return tools_or_fail(checks.typescript_schema, contract.path, contract.out)


def test_openapi_typescript_generates_the_schema(typescript_schema: list[checks.Finding]) -> None:
    assert_none(typescript_schema)


def test_generated_typescript_has_no_unknown_and_no_empty_object(
    contract: Contract, typescript_schema: list[checks.Finding]
) -> None:
    """`unknown` (facts, overrides, audit before/after as free-form JSON) or `Record<string, never>` (rows of no
    columns) cannot be used without a cast."""
    assert (contract.out / "schema.d.ts").is_file(), "openapi-typescript generated nothing"
    assert_none(checks.typescript_loose_types(contract.out))


@pytest.fixture(scope="module")
def compiled(contract: Contract, typescript_schema: list[checks.Finding]) -> list[checks.Finding]:
    assert (contract.out / "schema.d.ts").is_file(), "openapi-typescript generated nothing"
    return tools_or_fail(checks.typescript_programs, contract.out, "client.ts", "client_wrong.ts")


def test_strict_typescript_client_compiles(compiled: list[checks.Finding]) -> None:
    assert_none([finding for finding in compiled if not finding.where.startswith("client_wrong.ts:")])


@pytest.mark.parametrize("program", ["client.ts", "client_wrong.ts"])
def test_typescript_programs_use_no_casts(program: str) -> None:
    assert_none(checks.casts(program))


def test_typescript_rejects_each_deliberate_mistake_and_nothing_else(compiled: list[checks.Finding]) -> None:
    """client_wrong.ts is typed code with mistakes a loose document would let through (M01's fact key in an M13
    calculation, a district code that is not one of the 38): tsc must reject each marked line and only those."""
    marked = checks.wrong_lines()
    assert len(marked) == 6  # the mistakes client_wrong.ts marks `// wrong:`
    wrong = [finding for finding in compiled if finding.where.startswith("client_wrong.ts:")]
    compiled_although_wrong = marked - {finding.where for finding in wrong}
    assert not compiled_although_wrong, f"compiled although wrong: {sorted(compiled_although_wrong)}"
    assert_none([finding for finding in wrong if finding.where not in marked])


# The rules no tool checks ------------------------------------------------------------------------------------------


STRUCTURE_RULES = {
    "operation ids unique, short, lowerCamelCase": (
        "operation-id",
        "operation-id-case",
        "operation-id-length",
        "operation-id-unique",
    ),
    "schema names global and chosen (no prefix, no -Input/-Output, no Body_, title = name)": (
        "schema-name-prefix",
        "schema-name-suffix",
        "schema-name-body",
        "schema-title",
        "schema-renamed",
    ),
    "every operation documents a 4xx as application/problem+json": ("problem-4xx",),
    "every error is application/problem+json with Problem's fields (or a Problem extended)": ("problem-schema",),
    "every operation has a summary (no full stop) and a description": ("summary-full-stop", "description"),
    "servers named": ("servers",),
    "every $ref resolves": ("ref-resolves",),
    "DistrictCode has 38 values and SectorCode 18": ("named-enum",),
    # openapi-python-client names the members of an enum of codes `VALUE_0`, `VALUE_1`, ... by position otherwise.
    "enums of codes name their members (x-enum-varnames)": ("enum-varnames",),
    "district and sector codes are named enums in inputs and outputs": ("code-enum",),
    "closed sets are named enums, not anonymous ones": ("inline-enum",),
    "no free-form JSON": ("free-form-json",),
    "every media type has a schema": ("media-schema",),
    "bodies and responses name their object schemas": ("inline-object",),
    "X-Request-ID on every response, Retry-After on 429 and 503": ("response-headers",),
    "examples valid: credit codes pass the check, yuan as strings with two places": ("example-uscc", "example-yuan"),
}


@pytest.mark.parametrize("rules", list(STRUCTURE_RULES.values()), ids=list(STRUCTURE_RULES))
def test_structure(structure: list[checks.Finding], rules: tuple[str, ...]) -> None:
    assert_none(of_rules(structure, *rules))


def test_structure_knows_every_rule_it_reports(structure: list[checks.Finding]) -> None:
    """Each rule of findings.structure is asserted by one of the tests above."""
    known = {rule for rules in STRUCTURE_RULES.values() for rule in rules}
    assert {finding.rule for finding in structure} <= known


# The checks themselves find what they are for ------------------------------------------------------------------------


PROBLEM = "application/problem+json"


def _bad_document() -> dict[str, Any]:
    problem = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {
                "get": {
                    "operationId": "registry_list_things_a_get_with_a_long_name",
                    "summary": "Things.",
                    "responses": {"200": {"description": "ok", "content": {"text/csv": {}}}},
                },
                "post": {
                    "operationId": "createThing",
                    "description": "d",
                    "parameters": [
                        {"name": "kind", "in": "query", "schema": {"enum": ["a", "b"]}},
                        {"name": "sector", "in": "query", "schema": {"type": "string"}},
                    ],
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Nope"}}}},
                    "x-rows": {"schema": {"type": "object", "properties": {"a": {"type": "string"}}}},
                    "responses": {
                        "404": {"description": "no", "content": problem, "headers": {"X-Request-ID": {}}},
                        "429": {"description": "slow", "headers": {"X-Request-ID": {}}},
                        "409": {
                            "description": "odd",
                            "headers": {"X-Request-ID": {}},
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Problem"}},
                                PROBLEM: {
                                    "schema": {
                                        "anyOf": [
                                            {"$ref": "#/components/schemas/Problem"},
                                            {"$ref": "#/components/schemas/Odd"},
                                        ]
                                    }
                                },
                            },
                        },
                    },
                },
            },
            "/b": {
                "get": {"operationId": "createThing", "description": "d", "responses": {"404": {"description": "n"}}}
            },
        },
        "components": {
            "schemas": {
                "Problem": {"type": "object", "properties": {"type": {"type": "string"}}, "required": ["type"]},
                "Odd": {"type": "object", "properties": {"kind": {"type": "string"}}},
                "Registry_Thing": {
                    "type": "object",
                    "properties": {
                        "facts": {"type": "object"},
                        "district_code": {"type": "string"},
                        "amount_yuan": {"type": "string", "examples": ["12.5"]},
                        "uscc": {"type": "string", "examples": ["91500103MA5U7XXXXA"]},
                    },
                },
                "Thing-Input": {"type": "object", "properties": {"x": {"additionalProperties": True}}},
                "Body_create": {"title": "Other", "type": "object", "properties": {"x": {}}},
                "DistrictCode": {"type": "string", "enum": ["500103", "500104"]},
            }
        },
    }


def test_structure_check_finds_each_kind_of_mistake() -> None:
    own_names = set(_bad_document()["components"]["schemas"]) - {"Body_create"}
    found = {(finding.rule, finding.where) for finding in checks.structure(_bad_document(), own_names)}
    expected = {
        ("servers", "(document)"),
        ("operation-id-case", "GET /a"),
        ("operation-id-length", "GET /a"),
        ("operation-id-unique", "GET /b"),
        ("summary-full-stop", "GET /a"),
        ("description", "GET /a"),
        ("problem-4xx", "GET /a"),
        ("problem-4xx", "GET /b"),
        ("media-schema", "GET /a responses/200/content/text/csv"),
        ("inline-object", "POST /a x-rows/schema"),
        ("inline-enum", "POST /a parameters/0/schema"),
        ("ref-resolves", "POST /a requestBody/content/application/json/schema"),
        ("schema-name-prefix", "schema Registry_Thing"),
        ("schema-name-suffix", "schema Thing-Input"),
        ("schema-name-body", "schema Body_create"),
        ("schema-renamed", "schema Body_create"),
        ("schema-title", "schema Body_create"),
        ("free-form-json", "schema Registry_Thing properties/facts"),
        ("free-form-json", "schema Thing-Input properties/x"),
        ("free-form-json", "schema Body_create properties/x"),
        ("named-enum", "schema DistrictCode"),
        ("named-enum", "schema SectorCode"),
        ("enum-varnames", "schema DistrictCode"),
        ("code-enum", "schema Registry_Thing properties/district_code"),
        ("code-enum", "POST /a sector"),
        ("example-yuan", "schema Registry_Thing properties/amount_yuan"),
        ("example-uscc", "schema Registry_Thing properties/uscc/examples/0"),
        ("response-headers", "GET /a responses/200"),
        ("response-headers", "GET /b responses/404"),
        ("response-headers", "POST /a responses/429"),
        ("problem-schema", "POST /a responses/409"),
    }
    assert found == expected, (sorted(found - expected), sorted(expected - found))


PYTHON_CLIENT_OUTPUT = """Generating /tmp/x
Warning(s) encountered while generating. Client was generated, but some pieces may be missing

WARNING parsing GET /api/v1/registry/districts within registry_reference.

Cannot parse response for status code <openapi_python_client.schema.untrusted_string.UntrustedString object at 0x7f7e4319c750> (Could not find reference in parsed models or enums), response will be omitted from generated client

{
  "$ref": "#/components/schemas/Registry_Problem"
}

Unable to parse schema /components/schemas/Registry_Health

Unable to parse this part of your OpenAPI document: : Attempted to generate duplicate models with name "Health"

{
  "title": "Health"
}
"""


def test_python_client_output_is_read_as_one_finding_per_warning() -> None:
    found = checks._python_client_findings(PYTHON_CLIENT_OUTPUT)
    assert [(finding.rule, finding.where) for finding in found] == [
        ("warning", "GET /api/v1/registry/districts"),
        ("warning", "schema Registry_Health"),
    ]
    assert "Registry_Problem" in found[0].message and "0x7f" not in found[0].message
    assert "duplicate models" in found[1].message


def test_loose_type_check_finds_unknown_and_empty_objects(tmp_path: Path) -> None:
    lines = [
        "export interface paths {",
        '    "/api/v1/x": {',
        "        parameters: {",
        "            query?: never;",
        "        };",
        '        get: operations["listThings"];',
        "    };",
        "}",
        "export type webhooks = Record<string, never>;",
        "export interface components {",
        "    schemas: {",
        "        Row: {",
        "            /** @description `unknown` in a comment */",
        "            facts: Record<string, never>;",
        "            before?: { [key: string]: unknown } | null;",
        '            status: "known" | "unknown";',
        "        };",
        "    };",
        "}",
        "export interface operations {",
        "    listThings: {",
        "        responses: {",
        "            200: {",
        "                headers: {",
        "                    [name: string]: unknown;",
        "                };",
        '                content: { "application/json": unknown[] };',
        "            };",
        "        };",
        "    };",
        "}",
    ]
    (tmp_path / "schema.d.ts").write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = [(finding.where, finding.message.split(":")[1]) for finding in checks.typescript_loose_types(tmp_path)]
    assert found == [("schema Row", "14"), ("schema Row", "15"), ("GET /api/v1/x", "27")]


def test_cast_check_finds_each_kind_of_cast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program = tmp_path / "casts.ts"
    program.write_text(
        "const a = x as Thing;\nconst b: any = 1;\nconst c = y!.z;\nconst d = <Thing>x;\n// @ts-ignore\n"
        "const fine = [1, 2] as const; // not a cast: x as Thing\nconst ok = a !== b;\n"
        "type Keys<T> = { [Key in keyof T as string extends Key ? never : Key]: T[Key] };\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(checks, "CONTRACT_DIR", tmp_path)
    assert [finding.where for finding in checks.casts("casts.ts")] == [f"casts.ts:{n}" for n in (1, 2, 3, 4, 5)]
