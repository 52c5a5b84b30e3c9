"""The security matrix beyond who may call what (that is `test_access_matrix.py`), over the same route table:

- oversized bodies (over the gateway's limit: 413) and malformed bodies (invalid JSON, wrong content type, JSON of
  the wrong types, NaN and Infinity, empty, deeply nested, not UTF-8) on every write route: a 4xx problem and
  nothing written;
- SQL-injection-shaped and odd Unicode strings in every text field of every write route (the fields are read from
  the request schemas of the merged OpenAPI document) and in every query and path parameter: never a 5xx; either a
  2xx with the value read back exactly as sent, or a 4xx problem naming the field; every table intact;
- no API key, internal secret, Authorization value or database password in any process's log;
- no version banner (`server`, `x-powered-by`) on any answer, through the gateway or straight from a service, and
  no stack trace or library name in any problem (every answer of every test here passes `check_answer`).
"""

import csv
import io
import json
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from deploy.run_local import present_services, uvicorn_command
from shared.auth import Principal, Role, sign_principal
from shared.requestid import make_request_id
from shared.server import HttpServerSettings
from shared.settings import DEVELOPMENT_INTERNAL_SECRET, PROJECT_ROOT
from tests.e2e.security_support import (
    API,
    CASES,
    OWN,
    WRITE_CASES,
    Case,
    Records,
    Segment,
    World,
    assert_untouched,
    check_answer,
    enterprise_body,
    make_client,
    send_json,
    world,
)
from tests.support import free_port, wait_healthy

pytestmark = pytest.mark.e2e
__all__ = ["world"]  # the module-scoped fixture

# ---- what is sent -------------------------------------------------------------------------------------------------

# Strings a careless backend mishandles. None has leading or trailing white space, so "exactly as sent" holds for
# fields that strip it.
PAYLOADS: dict[str, str] = {
    "sql-drop": "'; DROP TABLE enterprises; --",
    "sql-or": '" OR 1=1 --',
    "sql-quote": "x' OR '1'='1' /*",
    "sql-union": "0 UNION SELECT key_hash FROM api_keys --",
    "like-wildcards": "100%_折扣\\",
    "rtl-override": "abc\u202etxt.exe",
    "zero-width-joiner": "👨\u200d👩\u200d👧\u200d👦",
    "combining-marks": "Z\u0351\u0300\u0301a\u0302\u0303l\u0304g\u0305o",
    "astral-plane": "𠜎𠜱𝕏🀄",
    "full-width": "ＳＥＬＥＣＴ\u3000＊\uff07",
    "very-long": "长" * 5000,
    "lone-surrogate": "\ud800",
    "nul": "a\u0000b",
    "markup": "<script>alert(1)</script>",
    "control-characters": "line\nbreak\ttab",
}
# In a query string: the same, and the LIKE wildcards alone.
QUERY_PAYLOADS = {**PAYLOADS, "percent": "%", "underscore": "_", "star": "*", "backslash": "\\"}


def percent_encoded(value: str) -> str:
    """UTF-8 percent-encoding; a lone surrogate goes as the bytes a WTF-8 client would send (invalid UTF-8)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


# ---- the request schemas of the merged document --------------------------------------------------------------------


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def takes_text(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    """A string, a string among alternatives, or anything at all (a schema without a type)."""
    schema = resolve(spec, schema)
    alternatives = schema.get("anyOf", []) + schema.get("oneOf", [])
    if alternatives:
        return any(takes_text(spec, alternative) for alternative in alternatives)
    kind = schema.get("type")
    if kind is None:
        return "properties" not in schema and "items" not in schema and "enum" not in schema
    return kind == "string" or (isinstance(kind, list) and "string" in kind)


def operation(spec: dict[str, Any], case: Case) -> dict[str, Any]:
    return dict(spec["paths"][f"{API}/{case.service}{case.template}"][case.method.lower()])


def body_properties(spec: dict[str, Any], case: Case, sample: Any) -> dict[str, dict[str, Any]]:
    """The properties of the JSON body (of an item, for an array body; of the member the sample is, for a union)."""
    content = operation(spec, case).get("requestBody", {}).get("content", {})
    schema = resolve(spec, content.get("application/json", {}).get("schema", {}))
    for alternative in schema.get("anyOf", []):  # an optional body: the object among the alternatives
        if "properties" in resolve(spec, alternative):
            schema = resolve(spec, alternative)
    if schema.get("type") == "array":
        schema = resolve(spec, schema.get("items", {}))
    discriminator = schema.get("discriminator")
    if discriminator is not None:  # e.g. a calculation: the request of the sample's measure
        tag = sample.get(discriminator["propertyName"]) if isinstance(sample, dict) else None
        schema = resolve(spec, {"$ref": discriminator["mapping"][tag]})
    return dict(schema.get("properties", {}))


# Where a text goes in a body: keys down to the field; an int is a list position; None is "a new key of this map".
FieldPath = tuple[str | int | None, ...]


def text_fields(spec: dict[str, Any], case: Case, sample: Any) -> list[FieldPath]:
    """Every place of the body that takes text: string properties, nested objects' too, the keys and values of
    free-form maps (facts, overrides) and the items of lists of strings."""
    item = sample[0] if isinstance(sample, list) else sample

    def walk(properties: dict[str, Any], prefix: FieldPath, values: Any) -> Iterator[FieldPath]:
        for name, raw in properties.items():
            schema = resolve(spec, raw)
            value = values.get(name) if isinstance(values, dict) else None
            for alternative in schema.get("anyOf", []) + schema.get("oneOf", []):
                option = resolve(spec, alternative)
                # A union of objects (e.g. a cluster's belongs_to): the member the sample value is an instance of.
                fits = not isinstance(value, dict) or set(value) <= set(option.get("properties", {}))
                if ("properties" in option and fits) or option.get("type") == "array":
                    schema = option
            if "properties" in schema:
                yield from walk(schema["properties"], (*prefix, name), value)
            elif schema.get("type") == "object":
                yield (*prefix, name, None)
                yield from ((*prefix, name, key) for key in (value or {}))
            elif schema.get("type") == "array":
                items = resolve(spec, schema.get("items", {}))
                if "properties" in items:
                    first = value[0] if isinstance(value, list) and value else None
                    yield from walk(items["properties"], (*prefix, name, 0), first)
                elif takes_text(spec, items):
                    yield (*prefix, name, 0)
            elif takes_text(spec, schema):
                yield (*prefix, name)

    return sorted(walk(body_properties(spec, case, item), (), item), key=lambda path: [str(part) for part in path])


def dotted(path: FieldPath) -> str:
    return ".".join("<key>" if part is None else str(part) for part in path)


def parameters(spec: dict[str, Any], case: Case, where: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (parameter["name"], parameter.get("schema", {}))
        for parameter in operation(spec, case).get("parameters", [])
        if parameter["in"] == where
    ]


def with_field(body: Any, path: str | FieldPath, value: Any) -> Any:
    """A copy of `body` (of its first item, for an array) with `value` at `path`."""
    if isinstance(path, str):
        path = (path,)
    if isinstance(body, list):
        return [with_field(body[0], path, value), *body[1:]]
    body = json.loads(json.dumps(body))
    last = path[-1]
    if last is None:
        _node(body, path[:-1])[value] = "1"  # the text as a key of the map
    elif isinstance(last, int):
        _node(body, path[:-2])[path[-2]] = [value]  # the text as the item of the list
    else:
        _node(body, path[:-1])[last] = value
    return body


def _node(body: Any, path: FieldPath) -> Any:
    """The object at `path` (made if missing), through the items of lists on the way."""
    node = body
    for part in path:
        node = node[part] if isinstance(node, list) else node.setdefault(part, {})
    return node


def stored_at(stored: Any, path: FieldPath) -> tuple[bool, Any]:
    for part in path:
        if part is None or not isinstance(stored, dict | list):
            return False, None
        if isinstance(stored, dict):
            if part not in stored:
                return False, None
            stored = stored[part]
        elif isinstance(part, int) and part < len(stored):
            stored = stored[part]
        else:
            return False, None
    return True, stored


def as_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def names_field(problem: dict[str, Any], path: str | FieldPath) -> bool:
    """Some error's `loc` names the field (or, for a place inside an object, the object)."""
    names = {path} if isinstance(path, str) else {part for part in path if isinstance(part, str)}
    return any(names & {str(part) for part in error.get("loc", [])} for error in problem.get("errors") or [])


# ---- 1. oversized bodies --------------------------------------------------------------------------------------------


def body_limit(world: World, case: Case) -> int:
    # The gateway's limits (GATEWAY_MAX_BODY_BYTES, GATEWAY_MAX_IMPORT_BODY_BYTES), README defaults unless set.
    if case.template.endswith("/import"):
        return int(world.stack.env.get("GATEWAY_MAX_IMPORT_BODY_BYTES", 64 * 1024 * 1024))
    return int(world.stack.env.get("GATEWAY_MAX_BODY_BYTES", 1024 * 1024))


@pytest.mark.parametrize("case", WRITE_CASES, ids=[case.id for case in WRITE_CASES])
def test_a_body_over_the_limit_is_a_413_and_writes_nothing(case: Case, world: World) -> None:
    url = case.url(world.records)
    limit = body_limit(world, case)
    oversized = b'{"padding": "' + b"x" * limit + b'"}'
    city = world.clients["city"]
    before = world.tables.snapshot()
    declared = city.request(case.method, url, content=oversized, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413, f"{case.id}: {declared.status_code} {declared.text[:300]}"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the gateway counts as it streams
        piece = b"x" * 65536
        yield b'{"padding": "'
        for _ in range(limit // len(piece) + 1):
            yield piece
        yield b'"}'

    streamed = city.request(case.method, url, content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413, f"{case.id}: {streamed.status_code} {streamed.text[:300]}"
    assert_untouched(before, world.tables.snapshot(), f"{case.id} with an oversized body")


# ---- 2. malformed bodies --------------------------------------------------------------------------------------------


# A literal of one JSON type, sent to a field unless the field's schema admits one of the types named with it: an
# object or an array suits no scalar field; `true` suits no field that takes only strings (a field that also takes
# numbers or booleans may read it, so it is not sent there).
WRONG_LITERALS: dict[frozenset[str], str] = {
    frozenset({"object"}): '{"$ne": null}',
    frozenset({"array"}): "[[[]]]",
    frozenset({"boolean", "integer", "number"}): "true",
}


def json_types(spec: dict[str, Any], schema: dict[str, Any]) -> set[str] | None:
    """The JSON types a schema admits; None when it admits anything."""
    schema = resolve(spec, schema)
    alternatives = schema.get("anyOf", []) + schema.get("oneOf", [])
    if alternatives:
        found: set[str] = set()
        for alternative in alternatives:
            types = json_types(spec, alternative)
            if types is None:
                return None
            found |= types
        return found
    kind = schema.get("type")
    if kind is None:
        if "enum" in schema:
            return {type(value).__name__.replace("str", "string") for value in schema["enum"]}
        return {"object"} if "properties" in schema else None
    return set(kind) if isinstance(kind, list) else {kind}


def malformed_bodies(world: World, case: Case) -> list[tuple[str, bytes, str, tuple[int, ...]]]:
    """(what, body, content type, the statuses that are right) for one write route."""
    valid = case.body(world.records) if case.body else {}
    array_route = isinstance(valid, list)
    properties = body_properties(world.spec, case, valid[0] if array_route and valid else valid)
    json_type = "application/json"
    out: list[tuple[str, bytes, str, tuple[int, ...]]] = [
        ("invalid JSON", b'{"name": "unterminated', json_type, (400,)),
        ("truncated JSON", json.dumps(valid).encode()[:-1], json_type, (400,)),
        ("not UTF-8", b'{"name": "\xff\xfe\xfd"}', json_type, (400, 422)),
        ("deeply nested", b"[" * 100_000 + b"]" * 100_000, json_type, (400, 422)),
        ("wrong content type", json.dumps(valid).encode(), "text/plain", (400, 415, 422)),
        ("form content type", b"name=x&district_code=500103", "application/x-www-form-urlencoded", (400, 415, 422)),
        ("a number", b"123", json_type, (422,)),
        ("a string", b'"text"', json_type, (422,)),
        ("the wrong container", json.dumps({"items": valid} if array_route else [valid]).encode(), json_type, (422,)),
    ]
    if case.template != "/runs/{run_id}/publish":  # its body is optional: an empty one is a valid request
        out.append(("empty", b"", json_type, (400, 422)))
    for name, schema in properties.items():
        types = json_types(world.spec, schema)
        literals = ["NaN", "Infinity", "-Infinity"]  # not JSON, and no finite number either
        if types is not None:
            literals += [literal for kind, literal in WRONG_LITERALS.items() if not types & kind]
        marker = "__FIELD__"
        for literal in literals:
            # The valid body with this one field replaced by the literal.
            text = json.dumps(with_field(valid, name, marker)).replace(f'"{marker}"', literal)
            out.append((f"{name}={literal}", text.encode(), json_type, (400, 422)))
    return out


@pytest.mark.parametrize("case", WRITE_CASES, ids=[case.id for case in WRITE_CASES])
def test_a_malformed_body_is_a_4xx_problem_and_writes_nothing(case: Case, world: World) -> None:
    url = case.url(world.records)
    city = world.clients["city"]
    attempts = malformed_bodies(world, case)
    before = world.tables.snapshot()
    wrong: list[str] = []
    for what, content, content_type, statuses in attempts:
        response = city.request(case.method, url, content=content, headers={"Content-Type": content_type})
        if response.status_code not in statuses:
            wrong.append(f"{what}: {response.status_code} (want {statuses}) {response.text[:200]}")
    assert not wrong, f"{case.id}:\n" + "\n".join(wrong)
    assert_untouched(before, world.tables.snapshot(), f"{case.id} with malformed bodies")


# ---- 3. injection-shaped and odd Unicode text -----------------------------------------------------------------------


def _injected(world: World, case: Case, url: str, field: FieldPath, payload: str) -> tuple[httpx.Response, Any]:
    r: Records = world.records
    assert case.body is not None
    body = with_field(case.body(r), field, payload)
    return send_json(world.clients["city"], case.method, url, body), body


def _verdict(world: World, case: Case, url: str, field: FieldPath, name: str, payload: str, sent: Any,
             response: httpx.Response) -> str | None:  # fmt: skip
    """None when the answer is right: a 2xx that stored the value exactly (a computation: that echoes it exactly,
    if it echoes it), or a 4xx problem naming the field."""
    status, where = response.status_code, dotted(field)
    if status >= 500:
        return f"{where} {name}: {status} {response.text[:200]}"
    if 400 <= status < 500:
        if not names_field(response.json(), field):
            return f"{where} {name}: {status} names no field {where!r}: {response.text[:300]}"
        return None
    stored = case.stored(world.records, url, sent, response) if case.stored else response.json()
    found, value = stored_at(stored, field)
    if found:
        return None if value == payload else f"{where} {name}: {status} but stored {value!r}"
    if case.computes:
        return None  # nothing stored, and the answer does not repeat this input
    return f"{where} {name}: {status} and the value cannot be read back from {str(stored)[:200]}"


TEXT_CASES = [case for case in WRITE_CASES if case.body is not None]


@pytest.mark.parametrize("case", TEXT_CASES, ids=[case.id for case in TEXT_CASES])
def test_injection_and_odd_unicode_in_every_text_field(case: Case, world: World) -> None:
    assert case.body is not None
    fields = text_fields(world.spec, case, case.body(world.records))
    assert fields, f"{case.id}: no text field in its request schema"
    wrong: list[str] = []
    segment = Segment(world.tables, case.id)
    url = case.url(world.records)
    segment.start()
    for field in fields:
        for name, payload in PAYLOADS.items():
            response, sent = _injected(world, case, url, field, payload)
            verdict = _verdict(world, case, url, field, name, payload, sent, response)
            if verdict:
                wrong.append(verdict)
            if 200 <= response.status_code < 300:
                segment.accepted += 1
                if case.template in (
                    "/awards/{award_id}/transitions",
                    "/runs/{run_id}/publish",
                    "/enterprise-registrations/{registration_id}/confirm",
                    "/enterprise-registrations/{registration_id}/refuse",
                    "/leading-enterprises/{designation_id}/revocation",
                    "/publications/{year}",
                ):
                    # The target moved on: the next request needs a fresh one (made outside the watch).
                    segment.check()
                    url = case.url(world.records)
                    segment.start()
    segment.check()
    assert not wrong, f"{case.id}:\n" + "\n".join(wrong)


def test_injection_in_csv_import_cells(world: World) -> None:
    """The import's other format: every text column of a CSV row."""
    case = next(case for case in CASES if case.template == "/enterprises/import")
    url = case.url(world.records)
    wrong: list[str] = []
    segment = Segment(world.tables, "CSV import")
    segment.start()
    assert case.body is not None
    for field in text_fields(world.spec, case, case.body(world.records)):
        for name, payload in PAYLOADS.items():
            rows = with_field(case.body(world.records), field, payload)
            if "\x00" in payload or "\ud800" in payload:
                continue  # not text a CSV file can hold; the JSON form of the import takes these
            response = world.clients["city"].post(
                url, content=as_csv(rows).encode(), headers={"Content-Type": "text/csv"}
            )
            verdict = _verdict(world, case, url, field, name, payload, rows, response)
            if verdict:
                wrong.append(verdict)
            if 200 <= response.status_code < 300:
                segment.accepted += 1
    segment.check()
    assert not wrong, "\n".join(wrong)


def _item_matches(name: str, payload: str, item: dict[str, Any]) -> bool:
    if name == "q":
        return payload.casefold() in str(item.get("name", "")).casefold()
    return name not in item or item[name] == payload


# Every read, and every write with a path parameter (a write's query parameters are not text: `atomic`, `trace`).
MAX_REQUEST_TARGET = HttpServerSettings().max_request_line_bytes
PARAMETER_CASES = [case for case in CASES if case.method == "GET" or "{" in case.template]


@pytest.mark.parametrize("case", PARAMETER_CASES, ids=[case.id for case in PARAMETER_CASES])
def test_injection_and_odd_unicode_in_query_and_path_parameters(case: Case, world: World) -> None:
    spec = world.spec
    query = [name for name, schema in parameters(spec, case, "query") if takes_text(spec, schema)]
    if case.method == "GET" and not query:
        query = ["unknown"]  # a parameter the route does not take is ignored, whatever it holds
    path_names = [name for name, _ in parameters(spec, case, "path")]
    assert query or path_names
    r = world.records
    url = case.url(r)
    base, _, _ = url.partition("?")
    # The actual values of the path parameters, to replace one at a time.
    pattern = re.escape(f"{API}/{case.service}{case.template}")
    for name in path_names:
        pattern = pattern.replace(re.escape("{" + name + "}"), f"(?P<{name}>[^/]+)")
    values = re.fullmatch(pattern, base)
    assert values is not None, f"{case.id}: {base} does not fit the template"
    body = case.body(r) if case.body else None
    wrong: list[str] = []
    before = world.tables.snapshot()
    for payload_name, payload in QUERY_PAYLOADS.items():
        encoded = percent_encoded(payload)
        for name in query:
            target = f"{base}?{name}={encoded}"
            response = send_json(world.clients["city"], case.method, target, body)
            status = response.status_code
            if status >= 500:
                wrong.append(f"?{name} {payload_name}: {status} {response.text[:200]}")
            elif status == 414 and len(target.encode()) > MAX_REQUEST_TARGET:
                pass  # longer than the server takes (shared/server.py): refused before any parameter is read
            elif status >= 400 and not names_field(response.json(), name):
                wrong.append(f"?{name} {payload_name}: {status} names no {name!r}: {response.text[:200]}")
            elif status < 300 and response.headers["content-type"].startswith("application/json"):
                listed = response.json()
                items = listed.get("items") if isinstance(listed, dict) else None
                for item in items or []:
                    if not _item_matches(name, payload, item):
                        wrong.append(f"?{name} {payload_name}: the filter let through {str(item)[:200]}")
                        break
        for name in path_names:
            start, end = values.span(name)
            target = base[:start] + encoded + base[end:]
            response = send_json(world.clients["city"], case.method, target, body)
            if not 400 <= response.status_code < 500:
                wrong.append(f"{{{name}}} {payload_name}: {response.status_code} {response.text[:200]}")
    assert not wrong, f"{case.id}:\n" + "\n".join(wrong)
    if case.writes:
        assert_untouched(before, world.tables.snapshot(), f"{case.id} with odd parameters")


def test_like_wildcards_in_a_name_search_match_only_themselves(world: World) -> None:
    city = world.clients["city"]
    literal = f"百分之百%_折扣\\{secrets.token_hex(3)}"
    body = enterprise_body(world.records) | {"name": f"{literal}有限公司"}
    made = send_json(city, "POST", f"{API}/registry/enterprises", body)
    assert made.status_code == 201, made.text
    for q in ("%", "_", "\\", "%_", literal):
        found = city.get(f"{API}/registry/enterprises", params={"q": q, "limit": 500})
        assert found.status_code == 200, found.text
        names = [item["name"] for item in found.json()["items"]]
        assert all(q in name for name in names), f"q={q!r} matched {[n for n in names if q not in n][:5]}"
        assert f"{literal}有限公司" in names, f"q={q!r} missed the enterprise named with it"


# ---- 4. no version banners ------------------------------------------------------------------------------------------


def test_no_banner_from_any_service_when_called_directly(world: World) -> None:
    """Straight to each service, unsigned: a 401 problem on every route, and no banner on any answer."""
    r = world.records
    signed_secret = world.stack.env.get("INTERNAL_SECRET") or DEVELOPMENT_INTERNAL_SECRET
    for service in present_services():
        with make_client(world.stack.url(service)) as direct:
            for case in (case for case in CASES if case.service == service):
                path = case.path(r)
                response = send_json(direct, case.method, path, case.body(r) if case.body else None)
                assert response.status_code == 401, f"{service} {case.id}: {response.status_code}"
            for path in ("/healthz", "/readyz"):
                assert direct.get(path).status_code == 200
            for path in ("/openapi.json", "/docs", "/no-such-route"):
                assert direct.get(path).status_code == 401
            city = Principal(Role.CITY)
            signed = sign_principal(
                signed_secret, "GET", "/no-such-route", city, audience=service, request_id=make_request_id()
            )
            assert direct.get("/no-such-route", headers=signed).status_code == 404
            signed = sign_principal(signed_secret, "TRACE", "/healthz", city, audience=service, request_id="t1")
            assert direct.request("TRACE", "/healthz", headers=signed).status_code in (404, 405)


def test_no_banner_from_the_gateway_itself(world: World) -> None:
    gateway = world.clients["none"]
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/init.js"):
        assert gateway.get(path).status_code == 200, path
    assert gateway.get("/docs/assets/swagger-ui.css").status_code == 200
    assert gateway.get("/no-such-route").status_code == 404
    assert gateway.get(f"{API}/no-such-service/x").status_code == 404
    assert gateway.request("TRACE", f"{API}/registry/districts").status_code == 405
    assert world.clients["city"].get(f"{API}/registry/no-such-route").status_code == 404
    preflight = gateway.options(
        f"{API}/registry/enterprises",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 400


LAUNCHERS = [
    PROJECT_ROOT / "Dockerfile",
    PROJECT_ROOT / "docker-compose.yml",
    *sorted((PROJECT_ROOT / "deploy" / "k8s").glob("*.yaml")),
]


def test_every_way_of_starting_a_server_turns_the_banner_off() -> None:
    """uvicorn sends `server: uvicorn` unless told not to: every launch command tells it."""
    assert "--no-server-header" in uvicorn_command("x:y", "127.0.0.1", 1)
    commands = 0
    for launcher in LAUNCHERS:
        for line in launcher.read_text().splitlines():
            if "uvicorn" in line and ("CMD" in line or "command" in line):
                commands += 1
                assert "--no-server-header" in line, f"{launcher.name}: {line.strip()}"
    # The Dockerfile's, docker-compose's six and the six Kubernetes manifests' (the workers serve no HTTP).
    assert commands == 13, f"{commands} uvicorn commands found in {[p.name for p in LAUNCHERS]}"


def test_the_answer_check_catches_a_banner_and_a_bare_error() -> None:
    """The guard every answer of these tests passes through does fail on what it looks for."""
    banner = httpx.MockTransport(lambda request: httpx.Response(200, headers={"server": "uvicorn"}))
    bare = httpx.MockTransport(lambda request: httpx.Response(500, text="Internal Server Error"))
    for transport, message in ((banner, "server banner"), (bare, "no X-Request-ID")):
        client = httpx.Client(transport=transport, event_hooks={"response": [check_answer]})
        with client, pytest.raises(AssertionError, match=message):
            client.get("http://testserver/")


# ---- 5. secrets never reach a log (last, after everything else this module sent) -------------------------------------

DATABASE_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@\"']+:[^@\s\"']+@", re.IGNORECASE)


def _secret_part(key: str) -> str:
    return key.split("_", 2)[2]


def _start(app: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("ab") as handle:
        process = subprocess.Popen(
            uvicorn_command(app, "127.0.0.1", port), env=env, cwd=PROJECT_ROOT, stdout=handle, stderr=subprocess.STDOUT
        )
    return process, f"http://127.0.0.1:{port}"


def test_a_database_password_and_the_internal_secret_stay_out_of_a_service_log(world: World, tmp_path: Path) -> None:
    """A registry of its own with a password in its database URL (trust authentication ignores it) and a secret of
    its own, and another whose database cannot be reached: served, refused and failed requests, at DEBUG level."""
    password = f"pw-{secrets.token_hex(12)}"
    secret = f"internal-{secrets.token_hex(16)}"
    stack_url = world.stack.env["REGISTRY_DATABASE_URL"]
    if not stack_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL")
    good = stack_url.replace("postgres@", f"postgres:{password}@", 1)
    unreachable = re.sub(r"@[^/]+/", f"@127.0.0.1:{free_port()}/", good)
    assert password in good and password in unreachable
    base_env = {k: v for k, v in world.stack.env.items() if not k.startswith("REGISTRY_")}
    started = []
    for label, database_url in (("reachable", good), ("unreachable", unreachable)):
        env = {
            **base_env,
            "REGISTRY_DATABASE_URL": database_url,
            "INTERNAL_SECRET": secret,
            "REGISTRY_LOG_LEVEL": "DEBUG",
        }
        log = tmp_path / f"registry-{label}.log"
        started.append((label, log, *_start("services.registry.main:create_app", env, log)))
    try:
        for label, log, process, url in started:
            wait_healthy(process, url, log)
            with make_client(url) as direct:
                city = Principal(Role.CITY)
                signed = sign_principal(secret, "GET", "/districts", city, audience="registry", request_id="r1")
                districts = direct.get("/districts", headers=signed)
                assert districts.status_code == (200 if label == "reachable" else 503), districts.text
                assert direct.get("/readyz").status_code == (200 if label == "reachable" else 503)
                assert direct.get("/districts").status_code == 401
                forged = sign_principal(
                    DEVELOPMENT_INTERNAL_SECRET, "GET", "/districts", city, audience="registry", request_id="r2"
                )
                assert direct.get("/districts", headers=forged).status_code == 401
                body = json.dumps({"uscc": "bad", "name": "\u0000", "district_code": OWN}).encode()
                writes = sign_principal(
                    secret, "POST", "/enterprises", city, audience="registry", body=body, request_id="r3"
                )
                headers = {**writes, "content-type": "application/json"}
                assert direct.post("/enterprises", content=body, headers=headers).status_code in (422, 503)
    finally:
        for _, _, process, _ in started:
            process.terminate()
            process.wait(timeout=15)
    for label, log, _, _ in started:
        text = log.read_text(encoding="utf-8", errors="replace")
        assert "request" in text, f"{label}: the log is empty: {text[:500]}"
        assert password not in text, f"{label}: the database password is in the log"
        assert secret not in text, f"{label}: the internal secret is in the log"
        assert DATABASE_PASSWORD.search(text) is None, f"{label}: {DATABASE_PASSWORD.search(text)}"


def test_no_secret_reaches_any_log_of_the_stack(world: World) -> None:
    """After everything above (and whatever else this session ran): every process's log, read whole."""
    sent_authorizations = [
        f"Basic {secrets.token_urlsafe(18)}",
        f"Bearer cqk_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}",
        f"Bearer {secrets.token_urlsafe(40)}",
    ]
    with httpx.Client(base_url=world.stack.gateway, timeout=30, trust_env=False) as client:
        for authorization in sent_authorizations:
            for path in (f"{API}/registry/districts", f"{API}/eligibility/measures"):
                assert client.get(path, headers={"Authorization": authorization}).status_code == 401
        # A key in the wrong place still is a key.
        misplaced = world.keys["auditor"][0]
        client.get(f"{API}/registry/districts", headers={"X-Api-Key": misplaced, "Cookie": f"key={misplaced}"})
    time.sleep(0.3)  # let the processes flush their last lines
    keys = [key for keys in world.keys.values() for key in keys] + list(world.stack.keys.values())
    secrets_to_find = {
        **{f"API key {key[:16]}…": key for key in keys},
        **{f"secret part of key {key[:16]}…": _secret_part(key) for key in keys},
        **{f"Authorization {value[:12]}…": value.split(" ", 1)[1] for value in sent_authorizations},
        "the internal secret": world.stack.env.get("INTERNAL_SECRET") or DEVELOPMENT_INTERNAL_SECRET,
    }
    logs = {name: world.stack.log(name) for name in world.stack.processes}
    assert set(logs) >= {"gateway", *present_services()}
    for name, text in logs.items():
        assert "request" in text, f"{name}: the log is empty"
        found = [label for label, value in secrets_to_find.items() if value and value in text]
        assert not found, f"{name}'s log holds {found}"
        password = DATABASE_PASSWORD.search(text)
        assert password is None, f"{name}'s log holds a URL with a password: {password.group(0)}"
        for url in (value for key, value in world.stack.env.items() if key.endswith("_DATABASE_URL")):
            assert url not in text, f"{name}'s log holds the database URL {url}"
