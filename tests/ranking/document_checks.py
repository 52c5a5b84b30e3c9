"""Checks of a service's OpenAPI document that generated clients rely on (used by ranking's and monitoring's tests)."""

import re
from collections.abc import Iterator
from typing import Any

OPERATION_ID = re.compile(r"^[a-z][A-Za-z0-9]{1,31}$")
METHODS = ("get", "put", "post", "patch", "delete")
# Every service's own routes, documented by shared.health (the core's), not by the service.
CORE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item and path not in CORE_PATHS:
                yield path, method, item[method]


def untyped_or_inline_enums(node: Any, where: str) -> Iterator[str]:
    """Places under a component that are free-form (`{}`, `additionalProperties: true`) or an enum not named."""
    if isinstance(node, dict):
        if node.get("additionalProperties") is True or node == {}:
            yield where
        if "enum" in node:
            yield f"{where} (inline enum)"
        for key, value in node.items():
            yield from untyped_or_inline_enums(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from untyped_or_inline_enums(value, f"{where}[{index}]")


def findings(document: dict[str, Any]) -> list[str]:
    """Everything in the document that breaks the conventions of the merged contract."""
    found: list[str] = []
    for path, method, operation in operations(document):
        name = f"{method.upper()} {path}"
        if not OPERATION_ID.fullmatch(operation.get("operationId", "")):
            found.append(f"{name}: operationId {operation.get('operationId')!r}")
        summary = operation.get("summary", "")
        if not summary or summary.endswith("."):
            found.append(f"{name}: summary {summary!r}")
        if not operation.get("description") or not operation.get("tags"):
            found.append(f"{name}: description or tags missing")
        for parameter in operation.get("parameters", []):
            found += untyped_or_inline_enums(parameter.get("schema", {}), f"{name} parameter {parameter['name']}")
    for schema_name, schema in document["components"]["schemas"].items():
        if schema_name.endswith(("-Input", "-Output")) or schema_name.startswith("Body_"):
            found.append(f"schema name {schema_name}")
        if schema.get("title", schema_name) != schema_name:
            found.append(f"schema {schema_name} titled {schema['title']!r}")
        if "enum" in schema:
            continue  # a named enum
        found += untyped_or_inline_enums(schema, schema_name)
    return found


def file_download(document: dict[str, Any], path: str, media_type: str) -> dict[str, Any]:
    """The 200 of a file download, checked to name its header and to be documented as the file's own type alone
    (generated clients map that type to bytes in their own settings)."""
    answer: dict[str, Any] = document["paths"][path]["get"]["responses"]["200"]
    assert "Content-Disposition" in answer["headers"]
    assert list(answer["content"]) == [media_type]
    return answer
