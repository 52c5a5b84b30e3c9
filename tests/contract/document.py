"""The merged OpenAPI document, built in-process exactly as the gateway serves it at `/openapi.json`.

The gateway merges each service's `app.openapi()` into its own (`gateway.openapi.merge`); here the same apps are
made with settings that name a database but never connect to one, so no server is needed.
"""

import importlib
import json
from pathlib import Path
from typing import Any

from gateway.main import create_app as create_gateway_app
from gateway.openapi import merge
from gateway.settings import SERVICE_NAMES, GatewaySettings
from shared.settings import ServiceSettings

# Never connected to: making an app and its OpenAPI document opens no connection.
UNUSED_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/unused"


def service_spec(service: str) -> dict[str, Any]:
    """One service's own document, as it serves it to the gateway."""
    main = importlib.import_module(f"services.{service}.main")
    settings_module = importlib.import_module(f"services.{service}.settings")
    settings_class: type[ServiceSettings] = getattr(settings_module, f"{service.capitalize()}Settings")
    app = main.create_app(settings_class(database_url=UNUSED_DATABASE_URL, environment="test"))
    spec: dict[str, Any] = app.openapi()
    return spec


def gateway_spec() -> dict[str, Any]:
    """The gateway app's own document (its health routes), which the merge starts from."""
    gateway = create_gateway_app(GatewaySettings(database_url=UNUSED_DATABASE_URL, environment="test"))
    spec: dict[str, Any] = gateway.openapi()
    return spec


def merged_document(specs: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """What `GET /openapi.json` on the gateway answers when every service is up (with these services' specs)."""
    return merge(gateway_spec(), service_specs() if specs is None else specs, [])


def own_schema_names(specs: dict[str, dict[str, Any]]) -> set[str]:
    """The schema names the services and the gateway chose themselves (the merge may have to rename others)."""
    names = set(gateway_spec().get("components", {}).get("schemas", {}))
    for spec in specs.values():
        names |= set(spec.get("components", {}).get("schemas", {}))
    return names


def service_specs() -> dict[str, dict[str, Any]]:
    return {service: service_spec(service) for service in SERVICE_NAMES}


def service_specs_or_errors() -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Every service's spec that builds, and for each one that does not (being edited), why: the runner reports
    on the rest meanwhile."""
    specs: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    for service in SERVICE_NAMES:
        try:
            specs[service] = service_spec(service)
        except Exception as error:  # any failure to build is reported, the others still run
            errors[service] = f"{type(error).__name__}: {error}"
    return specs, errors


def schema_owners(specs: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """Which services define each schema name (under its own name and the gateway's `Service_` namespaced one)."""
    owners: dict[str, set[str]] = {}
    for service, spec in specs.items():
        for name in spec.get("components", {}).get("schemas", {}):
            owners.setdefault(name, set()).add(service)
            owners.setdefault(f"{service.capitalize()}_{name}", set()).add(service)
    return owners


def write_document(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
