"""What every service's OpenAPI document says the same way: its problems, its headers and its named enums.

Routes document the problems they answer with `problems(...)`; `finish_document` (run once per app, see
shared.app) serves every error response as `application/problem+json`, adds the headers every response carries, and
puts the named enums (`DistrictCode`, `SectorCode`) in the components, so that generated clients get one type each.
"""

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from shared.errors import Problem, problem_components
from shared.reference import DISTRICT_IDENTIFIERS, DISTRICTS, SECTORS

PROBLEM_MEDIA_TYPE = "application/problem+json"
# A field schema carrying this key is replaced by a reference to the named component (see `named`).
_NAMED = "x-named-schema"

ProblemAnswer = str | tuple[str, type[Problem]]


def _header(description: str, **schema: Any) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string", **schema}}


HEADERS: dict[str, dict[str, Any]] = {
    "ETag": _header(
        "The representation's version, a strong entity tag; send it back as `If-Match` to change what you read.",
        examples=['"3"'],
    ),
    "Location": _header("The path of the resource this request created or points to.", format="uri-reference"),
    "Idempotent-Replayed": _header(
        "`true` when this is the stored answer of an earlier request with the same `Idempotency-Key`.",
        enum=["true"],
    ),
    "Content-Disposition": _header(
        '`attachment` with the file\'s name (RFC 6266), e.g. `attachment; filename="awards-2024.xlsx"`.'
    ),
    "Retry-After": _header("Seconds to wait before trying again.", pattern="^[0-9]+$", examples=["5"]),
    "X-Request-ID": _header("The request's id: the caller's `X-Request-ID` if it sent a valid one, else a new one."),
}

_DEFAULT_PROBLEM = {"description": "Any other error, as RFC 9457 problem details."}
_VALIDATION_PROBLEM = "The request is invalid; `errors` names each field and what is wrong with it."
_MALFORMED_JSON = "The body is not valid JSON (`/problems/malformed-json`)."


def problems(answers: Mapping[int, ProblemAnswer]) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses` for the problems a route answers: status → its meaning, or (meaning, Problem model)
    for problems that carry fields of their own. Served as `application/problem+json` (see finish_document)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status, answer in answers.items():
        if not 400 <= status <= 599:
            raise ValueError(f"{status} is not an error status")
        description, model = (answer, Problem) if isinstance(answer, str) else answer
        responses[status] = {"model": model, "description": description}
    return responses


def named(name: str) -> dict[str, Any]:
    """`json_schema_extra` of a field type documented as the named component `name` (see NAMED_SCHEMAS)."""
    if name not in NAMED_SCHEMAS:
        raise ValueError(f"no named schema {name!r}")
    return {_NAMED: name}


NAMED_SCHEMAS: dict[str, dict[str, Any]] = {
    "DistrictCode": {
        "title": "DistrictCode",
        "type": "string",
        "description": "One of Chongqing's 38 county-level divisions by its GB/T 2260 code: "
        + ", ".join(f"`{district.code}` {district.name}" for district in DISTRICTS)
        + ".",
        "enum": [district.code for district in DISTRICTS],
        "x-enum-varnames": [DISTRICT_IDENTIFIERS[district.code] for district in DISTRICTS],
        "x-enum-descriptions": [district.name for district in DISTRICTS],
        "examples": ["500103"],
    },
    "SectorCode": {
        "title": "SectorCode",
        "type": "string",
        "description": "One of the 18 producer-service sectors (`GET /api/v1/registry/sectors` names them): "
        + ", ".join(f"`{sector.code}` {sector.name_zh}" for sector in SECTORS)
        + ".",
        "enum": [sector.code for sector in SECTORS],
        "examples": ["software_it"],
    },
}


# Models documented by reference from `openapi_extra` (a body a route reads itself, as a stream): FastAPI never sees
# them, so finish_document adds the schemas of those a document refers to.
_REFERENCED_MODELS: dict[str, type[BaseModel]] = {}


def schema_ref(model: type[BaseModel]) -> dict[str, str]:
    """A `$ref` to `model`'s component, for `openapi_extra`; the document it is used in gets the schema."""
    known = _REFERENCED_MODELS.setdefault(model.__name__, model)
    if known is not model:
        raise ValueError(f"two models named {model.__name__!r}: {known!r} and {model!r}")
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _add_referenced_models(document: dict[str, Any], schemas: dict[str, Any]) -> None:
    for name in sorted(_refs(document) - set(schemas)):
        model = _REFERENCED_MODELS.get(name)
        if model is not None:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for definition, value in schema.pop("$defs", {}).items():
                schemas.setdefault(definition, value)
            schemas[name] = schema


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*map(_refs, node)) if node else set()
    return set()


def finish_document(document: dict[str, Any]) -> dict[str, Any]:
    """The service document as every client reads it (changed in place and returned)."""
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    _add_referenced_models(document, schemas)
    used: set[str] = set()
    document["paths"] = _replace_named(document.get("paths", {}), used)
    for name in list(schemas):
        schemas[name] = _replace_named(schemas[name], used)
    for name in sorted(used):
        schemas[name] = NAMED_SCHEMAS[name]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(problem_components())
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                if "application/json" in operation.get("requestBody", {}).get("content", {}):
                    # The error handler's answer to a JSON body that does not parse, whatever the route.
                    operation["responses"].setdefault("400", {"description": _MALFORMED_JSON})
                _finish_responses(operation["responses"])
    return document


def _finish_responses(responses: dict[str, Any]) -> None:
    if "422" in responses and _is_fastapi_validation(responses["422"]):
        responses["422"] = {"description": _VALIDATION_PROBLEM}
    responses["default"] = {**_DEFAULT_PROBLEM, **responses.get("default", {})}
    for status, response in responses.items():
        headers = response.setdefault("headers", {})
        headers.setdefault("X-Request-ID", HEADERS["X-Request-ID"])
        if status in ("429", "503"):
            headers.setdefault("Retry-After", HEADERS["Retry-After"])
        if status == "default" or int(status) >= 400:
            content = response.get("content", {})
            schema = (content.get("application/json") or content.get(PROBLEM_MEDIA_TYPE) or {}).get("schema")
            response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": schema or {"$ref": "#/components/schemas/Problem"}}}


def _is_fastapi_validation(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def _replace_named(node: Any, used: set[str]) -> Any:
    if isinstance(node, dict):
        name = node.get(_NAMED)
        if isinstance(name, str):
            used.add(name)
            return {"$ref": f"#/components/schemas/{name}"}
        return {key: _replace_named(value, used) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace_named(item, used) for item in node]
    return node
