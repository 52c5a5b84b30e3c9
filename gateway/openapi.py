"""One OpenAPI document for the whole API: each service's spec, its paths under `/api/v1/<service>`.

Component names are global, as the services name them (docs: one name for one schema across the services). A
component two services both define is kept once when it is the same (compared as canonical JSON); when it is not,
the later service's is renamed with the service's name in front and that service's references follow, a warning is
logged and the rename is listed in `x-schema-collisions` (the contract checks fail on it: the fallback keeps the
document usable, it is not a way to name things). Components no operation reaches, directly or through other
components, are left out.

The gateway adds what it decides itself: each operation's security and roles from its access rules (and who may
call it, at the end of the description), the problems it answers in front of every service
(401/403/413/429/431/502/503/504), the `servers` entry and the API's `info`.

Each running service's `/openapi.json` is fetched signed as the `service` role and cached; a service that is down
is left out (and named in `x-unavailable-services`) until it answers again. The same specs give the proxy its route
templates for metrics, and the methods a path answers for a 405.
"""

import asyncio
import copy
import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from gateway.access import KEY_HOLDERS, Rule, rule_for
from gateway.upstream import Upstream
from shared.auth import Principal, Role, sign_principal
from shared.errors import problem_components
from shared.logging import get_logger
from shared.openapi import HEADERS, PROBLEM_MEDIA_TYPE
from shared.requestid import make_request_id

logger = get_logger("gateway.openapi")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# The order the services name a path's methods in, in an `Allow` (shared.errors.allowed_methods).
_ALLOW_ORDER = ("get", "head", "post", "put", "patch", "delete", "options", "trace")
SERVICE_PRINCIPAL = Principal(Role.SERVICE)
# A service that could not be fetched is tried again after this many seconds at the earliest.
RETRY_SECONDS = 5.0
_PARAMETER = re.compile(r"\{[^/{}]+\}")
# The services' own probes, which the gateway does not serve (gateway/proxy.py): left out with what only they use.
_SERVICE_OPERATIONS = frozenset({"/healthz", "/readyz"})
_COMPONENTS = "#/components/"
# Security schemes are named by security requirements, not referenced: the gateway declares its own.
_NOT_REFERENCED = frozenset({"securitySchemes"})
_BODY_METHODS = frozenset({"post", "put", "patch"})
# The key roles in the order the documents name them.
_KEY_ROLES = (Role.CITY, Role.DISTRICT, Role.AUDITOR)

# Every request's head is bounded (shared.server), with the headers the gateway adds to it for the service.
HEAD_TOO_LARGE = "The request has more headers, or larger ones, than the gateway accepts."
_GATEWAY_ANSWERS = {
    "413": "The request body is larger than the gateway accepts.",
    "429": "Too many requests for this key, or from this address without one; see `Retry-After`.",
    "502": "The service gave no usable answer.",
    "503": "The service is not reachable, is busy, or failed repeatedly and is refused at once for a while; see "
    "`Retry-After` when it is given.",
    "504": "The service did not answer in time.",
}
WWW_AUTHENTICATE = {
    "description": '`Bearer`, with `error="invalid_token"` when the key sent is not valid or has been revoked.',
    "schema": {"type": "string", "examples": ['Bearer error="invalid_token"']},
}

DESCRIPTION = """One API for Chongqing's producer-services support under 渝发改规范〔2024〕7号: the **registry**
(districts, sectors, enterprises, clusters, buildings, projects), **eligibility** (the measures as code,
calculation, screening, awards), **ranking** (the yearly district ranking) and **monitoring** (统计监测 of the
action plan 渝府发〔2024〕18号: its 2027 targets, their yearly assessment, the producer-services map) and
**notifications** (webhook subscriptions: the events of the other services pushed to a district's or the city's
systems, signed as the Standard Webhooks specification says, and the same events as a pull feed). Long work
(imports, screenings, exports) may run as a job: `202 Accepted` with the `Location` of `/jobs/{id}`.

Authenticate with `Authorization: Bearer <api key>`. Keys belong to a `city`, `district` or `auditor` caller;
the measures catalogue, calculation and published rankings need no key. Every error is
`application/problem+json` with the `request_id` of the request; send `X-Request-ID` to choose it."""
SERVER_DESCRIPTION = "This gateway: every path of the API is below it."
GATEWAY_TAG = "The gateway itself: its health and readiness."


def _problem_response(description: str, headers: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "headers": headers,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def canonical(value: Any) -> str:
    """The JSON text two equal components share, whatever the order of their keys."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _component(ref: Any) -> tuple[str, str] | None:
    """(kind, name) of the component a reference points into, in this document; else None."""
    if not isinstance(ref, str) or not ref.startswith(_COMPONENTS):
        return None
    kind, _, rest = ref.removeprefix(_COMPONENTS).partition("/")
    name = rest.partition("/")[0]
    return (kind, name) if name else None


def component_refs(node: Any) -> Iterator[tuple[str, str]]:
    """Every component `node` refers to: its `$ref`s, and the targets of its discriminators' mappings."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and (target := _component(value)) is not None:
                yield target
                continue
            if key == "discriminator" and isinstance(value, dict) and isinstance(value.get("mapping"), dict):
                yield from (t for ref in value["mapping"].values() if (t := _component(ref)) is not None)
            yield from component_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from component_refs(item)


def _renamed(node: Any, renames: Mapping[tuple[str, str], str]) -> Any:
    """`node` with its references (and discriminator mappings) to the components in `renames` pointing at their new
    names."""
    if not renames:
        return node

    def ref(value: Any) -> Any:
        target = _component(value)
        if target is None or target not in renames:
            return value
        kind, name = target
        return f"{_COMPONENTS}{kind}/{renames[target]}" + value.removeprefix(f"{_COMPONENTS}{kind}/{name}")

    def walk(value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            out = {k: ref(v) if k == "$ref" else walk(v, k) for k, v in value.items()}
            if key == "discriminator" and isinstance(out.get("mapping"), dict):
                out["mapping"] = {name: ref(target) for name, target in out["mapping"].items()}
            return out
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return walk(node)


def _operations(paths: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in paths.items():
        for method in HTTP_METHODS:
            if isinstance(item.get(method), dict):
                yield path, method, item[method]


def reachable(document: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The components the document's paths and webhooks reach, directly or through other components."""
    components = document.get("components", {})
    pending = [*component_refs(document.get("paths", {})), *component_refs(document.get("webhooks", {}))]
    reached: set[tuple[str, str]] = set()
    while pending:
        target = pending.pop()
        if target in reached:
            continue
        reached.add(target)
        kind, name = target
        pending.extend(component_refs(components.get(kind, {}).get(name)))
    return reached


def prune(document: dict[str, Any]) -> None:
    """Leave out the components no operation reaches (in place)."""
    reached = reachable(document)
    components: dict[str, Any] = document.get("components", {})
    for kind in list(components):
        if kind in _NOT_REFERENCED:
            continue
        components[kind] = {name: value for name, value in components[kind].items() if (kind, name) in reached}
        if not components[kind]:
            del components[kind]


def _served_part(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of a service's spec without the probes the gateway does not serve, and without what only they use."""
    served = copy.deepcopy(spec)
    served["paths"] = {path: item for path, item in served.get("paths", {}).items() if path not in _SERVICE_OPERATIONS}
    prune(served)
    return served


def _free_name(service: str, name: str, taken: Mapping[str, Any], assigned: set[str]) -> str:
    base = f"{service.capitalize()}{name}"
    candidate, number = base, 1
    while candidate in taken or candidate in assigned:
        number += 1
        candidate = f"{base}{number}"
    return candidate


def _renames(service: str, incoming: Mapping[str, Any], present: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """The new names of the service's components that differ from a component of the same name already merged.
    Renaming one changes the references of those that use it, which may then differ too: repeated until none does."""
    renames: dict[tuple[str, str], str] = {}
    changed = True
    while changed:
        changed = False
        for kind, entries in incoming.items():
            if kind in _NOT_REFERENCED or not isinstance(entries, dict):
                continue
            merged = present.get(kind, {})
            for name, value in entries.items():
                if (kind, name) in renames or name not in merged:
                    continue
                if canonical(merged[name]) != canonical(_renamed(value, renames)):
                    assigned = {new for (k, _), new in renames.items() if k == kind}
                    renames[(kind, name)] = _free_name(service, name, merged, assigned)
                    changed = True
    return renames


def merge(
    base: dict[str, Any], specs: dict[str, dict[str, Any]], unavailable: list[str], *, server_url: str = "/"
) -> dict[str, Any]:
    """The gateway's own spec (`base`, whose `info` gives the contact and licence) with every service's paths and
    components merged in; `server_url` is where the document is served (by default `/`: its own origin)."""
    doc = copy.deepcopy(base)
    doc["info"] = {
        "title": "Chongqing producer services support API",
        "version": "1",
        "description": DESCRIPTION,
        **{key: base["info"][key] for key in ("contact", "license") if key in base.get("info", {})},
    }
    doc["servers"] = [{"url": server_url, "description": SERVER_DESCRIPTION}]
    for _, _, operation in _operations(doc.get("paths", {})):
        operation["security"] = []
        operation.setdefault("tags", ["gateway"])
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {}).update(problem_components())
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "An API key made by `python -m gateway.keys`."}
    }
    tags: dict[str, str] = {"gateway": GATEWAY_TAG}
    collisions: list[dict[str, str]] = []
    for service, original in specs.items():
        served = _served_part(original)
        renames = _renames(service, served.get("components", {}), components)
        for (kind, name), new_name in renames.items():
            logger.warning("component name taken by another schema", upstream=service, name=name, renamed=new_name)
            collisions.append({"service": service, "kind": kind, "name": name, "renamed": new_name})
        served = _renamed(served, renames)
        for kind, entries in served.get("components", {}).items():
            if kind in _NOT_REFERENCED or not isinstance(entries, dict):
                continue
            target = components.setdefault(kind, {})
            for name, value in entries.items():
                merged_name = renames.get((kind, name), name)
                if merged_name != name and value.get("title") == name:
                    value["title"] = merged_name  # a generated client names its class by the title
                target.setdefault(merged_name, value)
        described = {tag["name"]: tag.get("description") for tag in served.get("tags", []) if "name" in tag}
        for path, method, operation in _operations(served.get("paths", {})):
            _decorate(service, method, path, operation)
            for tag in operation["tags"]:
                own = tag.removeprefix(f"{service}: ")
                tags.setdefault(tag, described.get(own) or f"The {service} service: {own}.")
        for path, item in served.get("paths", {}).items():
            doc.setdefault("paths", {})[f"/api/v1/{service}{path}"] = item
    for _, _, operation in _operations(doc.get("paths", {})):
        for response in operation.get("responses", {}).values():
            response.setdefault("headers", {}).setdefault("X-Request-ID", HEADERS["X-Request-ID"])
    prune(doc)
    used = {tag for _, _, operation in _operations(doc.get("paths", {})) for tag in operation.get("tags", [])}
    doc["tags"] = [{"name": name, "description": text} for name, text in tags.items() if name in used]
    if collisions:
        doc["x-schema-collisions"] = collisions
    if unavailable:
        doc["x-unavailable-services"] = unavailable
        doc["info"]["description"] += "\n\nNot answering when this document was made: " + ", ".join(unavailable) + "."
    return doc


def _words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def who_may_call(rule: Rule) -> str:
    """The sentence the description of an operation ends with, from the access rule that decides it."""
    if rule.public:
        return f"**Who may call:** anyone, no API key needed ({rule.why})."
    roles = [str(role) for role in _KEY_ROLES if role in rule.roles]
    text = f"**Who may call:** {_words(roles)} keys ({rule.why})"
    if Role.DISTRICT in rule.roles:
        text += "; a district key only for its own district's records"
    return text + "."


def gateway_answers(method: str, rule: Rule) -> dict[str, dict[str, Any]]:
    """The problems the gateway itself answers for an operation under `rule`, as OpenAPI responses."""
    request_id = {"X-Request-ID": HEADERS["X-Request-ID"]}
    waited = {**request_id, "Retry-After": HEADERS["Retry-After"]}
    unauthorized = (
        "An API key was sent that is not valid or has been revoked (this operation needs none)."
        if rule.public
        else "No API key, or one that is not valid or has been revoked."
    )
    answers = {
        "401": _problem_response(unauthorized, {**request_id, "WWW-Authenticate": WWW_AUTHENTICATE}),
        "429": _problem_response(_GATEWAY_ANSWERS["429"], waited),
        "431": _problem_response(HEAD_TOO_LARGE, request_id),
        "502": _problem_response(_GATEWAY_ANSWERS["502"], request_id),
        "503": _problem_response(_GATEWAY_ANSWERS["503"], waited),
        "504": _problem_response(_GATEWAY_ANSWERS["504"], request_id),
    }
    refused = [str(role) for role in _KEY_ROLES if role in KEY_HOLDERS - rule.roles]
    if refused:
        answers["403"] = _problem_response(
            f"{_words(refused).capitalize()} keys may not do this: {rule.why}.", request_id
        )
    if method in _BODY_METHODS:
        answers["413"] = _problem_response(_GATEWAY_ANSWERS["413"], request_id)
    return answers


def _decorate(service: str, method: str, path: str, operation: dict[str, Any]) -> None:
    operation["tags"] = [f"{service}: {tag}" for tag in operation.get("tags", [])] or [service]
    rule = rule_for(service, method.upper(), path)
    if rule is None:  # a method the gateway answers with a 405 (gateway/access.py)
        return
    operation["security"] = [{}, {"bearer": []}] if rule.public else [{"bearer": []}]
    operation["x-roles"] = sorted(str(role) for role in rule.roles if role is not Role.ANONYMOUS)
    described = operation.get("description", "").rstrip()
    operation["description"] = (described + "\n\n" if described else "") + who_may_call(rule)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, answer in sorted(gateway_answers(method, rule).items()):
        documented = responses.get(status)
        if documented is None:
            responses[status] = answer
            continue
        # The service answers this status too: both meanings, the service's schema.
        documented["description"] = (
            f"{documented.get('description', '').rstrip()} From the gateway: {answer['description']}".strip()
        )
        headers = documented.setdefault("headers", {})
        for name, header in answer["headers"].items():
            headers.setdefault(name, header)


def _template_regex(template: str) -> re.Pattern[str]:
    pieces = _PARAMETER.split(template)
    return re.compile("[^/]+".join(re.escape(piece) for piece in pieces))


def route_templates(spec: dict[str, Any]) -> list[tuple[re.Pattern[str], str]]:
    """(regex, template) for each path of a service spec, literal paths before parameterised ones."""
    templates = sorted(spec.get("paths", {}), key=lambda t: (len(_PARAMETER.findall(t)), -len(t)))
    return [(_template_regex(t), t) for t in templates]


@dataclass(slots=True)
class _Entry:
    spec: dict[str, Any]
    fetched_at: float
    templates: list[tuple[re.Pattern[str], str]]


class SpecCache:
    def __init__(
        self, clients: Mapping[str, Upstream], secret: str, ttl_seconds: float, timeout_seconds: float
    ) -> None:
        self.clients = clients
        self.secret = secret
        self.ttl_seconds = ttl_seconds
        self.timeout_seconds = timeout_seconds
        self._entries: dict[str, _Entry] = {}
        self._attempted: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def fetch(self, service: str) -> dict[str, Any] | None:
        upstream = self.clients[service]
        self._attempted[service] = time.monotonic()
        headers = sign_principal(
            self.secret, "GET", "/openapi.json", SERVICE_PRINCIPAL, audience=service, request_id=make_request_id()
        )
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)
            async with (
                upstream.probe_session() as client,
                client.get("/openapi.json", headers=headers, timeout=timeout, raise_for_status=True) as response,
            ):
                spec: dict[str, Any] = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            logger.warning("service spec not available", upstream=service, error=type(exc).__name__)
            self._entries.pop(service, None)
            return None
        self._entries[service] = _Entry(spec, time.monotonic(), route_templates(spec))
        return spec

    async def current(self) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Every deployed service's spec (fresh within the TTL), and the services that did not answer."""
        now = time.monotonic()
        stale = [
            name
            for name in self.clients
            if name not in self._entries or now - self._entries[name].fetched_at > self.ttl_seconds
        ]
        if stale:
            await asyncio.gather(*(self.fetch(name) for name in stale))
        specs = {name: self._entries[name].spec for name in self.clients if name in self._entries}
        return specs, [name for name in self.clients if name not in self._entries]

    def template(self, service: str, path: str) -> str | None:
        entry = self._entries.get(service)
        if entry is None:
            return None
        for regex, template in entry.templates:
            if regex.fullmatch(path):
                return template
        return None

    def allowed_methods(self, service: str, path: str) -> list[str] | None:
        """The methods some operation of the service's spec answers on `path` (None while its spec is not here):
        every template the path fits counts, as the service routes a method to the first route that has it."""
        entry = self._entries.get(service)
        if entry is None:
            return None
        paths = entry.spec.get("paths", {})
        fitting = [paths[template] for regex, template in entry.templates if regex.fullmatch(path)]
        return [method.upper() for method in _ALLOW_ORDER if any(method in item for item in fitting)]

    def warm(self, service: str) -> None:
        """Fetch a service's spec in the background if it is missing and was not tried just now."""
        if service in self._entries or service not in self.clients:
            return
        if time.monotonic() - self._attempted.get(service, -RETRY_SECONDS) < RETRY_SECONDS:
            return
        self._attempted[service] = time.monotonic()

        async def run() -> None:
            await self.fetch(service)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
