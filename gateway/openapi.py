"""One OpenAPI document for the whole API: each service's spec, paths prefixed, components namespaced.

Each running service's `/openapi.json` is fetched signed as the `service` role and cached; a service that
is down is left out (and named in `x-unavailable-services`) until it answers again. The same specs give the
proxy its route templates for metrics.
"""

import asyncio
import copy
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from gateway.access import rule_for
from gateway.upstream import Upstream
from shared.auth import Principal, Role, sign_principal
from shared.errors import PROBLEM_SCHEMA
from shared.logging import get_logger
from shared.requestid import make_request_id

logger = get_logger("gateway.openapi")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SERVICE_PRINCIPAL = Principal(Role.SERVICE)
# A service that could not be fetched is tried again after this many seconds at the earliest.
RETRY_SECONDS = 5.0
_PARAMETER = re.compile(r"\{[^/{}]+\}")

_GATEWAY_RESPONSES = {
    "401": "No API key, or one that is not valid or has been revoked.",
    "403": "The key's role may not do this, or not for this district.",
    "413": "The request body is larger than the gateway accepts.",
    "429": "Too many requests for this key; see `Retry-After`.",
    "502": "The service gave no usable answer.",
    "503": "The service is not reachable, or failed repeatedly and is refused at once for a while; see `Retry-After`.",
    "504": "The service did not answer in time.",
}

DESCRIPTION = """One API for Chongqing's producer-services support under 渝发改规范〔2024〕7号: the **registry**
(districts, sectors, enterprises, clusters, buildings, projects), **eligibility** (the measures as code,
calculation, screening, awards), **ranking** (the yearly district ranking) and **monitoring** (统计监测 of the
action plan 渝府发〔2024〕18号: its 2027 targets, their yearly assessment, the producer-services map).

Authenticate with `Authorization: Bearer <api key>`. Keys belong to a `city`, `district` or `auditor` caller;
the measures catalogue, calculation and published rankings need no key. Every error is
`application/problem+json` with the `request_id` of the request; send `X-Request-ID` to choose it."""


def _problem_content() -> dict[str, Any]:
    return {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def namespace(service: str) -> str:
    return service.capitalize()


def _rewrite_refs(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/"):
                _, _, kind, name = value.split("/", 3)
                out[key] = f"#/components/{kind}/{prefix}_{name}"
            else:
                out[key] = _rewrite_refs(value, prefix)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, prefix) for item in node]
    return node


def _template_regex(template: str) -> re.Pattern[str]:
    pieces = _PARAMETER.split(template)
    return re.compile("[^/]+".join(re.escape(piece) for piece in pieces))


def route_templates(spec: dict[str, Any]) -> list[tuple[re.Pattern[str], str]]:
    """(regex, template) for each path of a service spec, literal paths before parameterised ones."""
    templates = sorted(spec.get("paths", {}), key=lambda t: (len(_PARAMETER.findall(t)), -len(t)))
    return [(_template_regex(t), t) for t in templates]


def merge(base: dict[str, Any], specs: dict[str, dict[str, Any]], unavailable: list[str]) -> dict[str, Any]:
    """The gateway's own spec (`base`) with every service's paths and components merged in."""
    doc = copy.deepcopy(base)
    doc["info"] = {
        "title": "Chongqing producer services support API",
        "version": "1",
        "description": DESCRIPTION,
    }
    for operations in doc.get("paths", {}).values():
        for method in HTTP_METHODS:
            if method in operations:
                operations[method]["security"] = []
                operations[method].setdefault("tags", ["gateway"])
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "An API key made by `python -m gateway.keys`."}
    }
    tags: dict[str, str] = {"gateway": "The gateway itself: health and readiness."}
    for service, original in specs.items():
        prefix = namespace(service)
        spec = _rewrite_refs(copy.deepcopy(original), prefix)
        for kind, entries in spec.get("components", {}).items():
            if kind == "securitySchemes" or not isinstance(entries, dict):
                continue
            target = components.setdefault(kind, {})
            for name, value in entries.items():
                target[f"{prefix}_{name}"] = value
        for path, item in spec.get("paths", {}).items():
            if path in ("/healthz", "/readyz"):
                continue
            for method in HTTP_METHODS:
                operation = item.get(method)
                if operation is None:
                    continue
                _decorate(service, method, path, operation, tags)
            doc.setdefault("paths", {})[f"/api/v1/{service}{path}"] = item
    doc["tags"] = [{"name": name, "description": text} for name, text in tags.items()]
    if unavailable:
        doc["x-unavailable-services"] = unavailable
        doc["info"]["description"] += "\n\nNot answering when this document was made: " + ", ".join(unavailable) + "."
    return doc


def _decorate(service: str, method: str, path: str, operation: dict[str, Any], tags: dict[str, str]) -> None:
    operation["operationId"] = f"{service}_{operation.get('operationId') or method + path.replace('/', '_')}"
    operation["tags"] = [f"{service}: {tag}" for tag in operation.get("tags", [])] or [service]
    for tag in operation["tags"]:
        tags.setdefault(tag, f"The {service} service.")
    rule = rule_for(service, method.upper(), path)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if rule is not None:
        operation["security"] = [{}, {"bearer": []}] if rule.public else [{"bearer": []}]
        operation["x-roles"] = sorted(str(role) for role in rule.roles if role is not Role.ANONYMOUS)
        wanted = ["429", "502", "503", "504"]
        if not rule.public:
            wanted += ["401", "403"]
        if method in ("post", "put", "patch"):
            wanted.append("413")
        for status in sorted(wanted):
            responses.setdefault(status, {"description": _GATEWAY_RESPONSES[status], "content": _problem_content()})


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
