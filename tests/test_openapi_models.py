"""Every model a service documents is sent with the names its schema shows.

The documents carry one schema per model (shared.app: `separate_input_output_schemas=False`), the validation one. A
field read under one name and sent under another (`validation_alias`/`serialization_alias`) would be documented
under the name clients never receive: each model's two schemas must name the same fields.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter

from gateway.settings import SERVICE_NAMES
from tests.contract.document import UNUSED_DATABASE_URL


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        nested = getattr(route, "original_router", None) or getattr(route, "router", None)
        if nested is not None and nested is not route:
            yield from _routes(list(nested.routes))


def _documented_types(service: str) -> dict[str, Any]:
    import importlib

    main = importlib.import_module(f"services.{service}.main")
    settings = importlib.import_module(f"services.{service}.settings")
    settings_class = getattr(settings, f"{service.capitalize()}Settings")
    app = main.create_app(settings_class(database_url=UNUSED_DATABASE_URL, environment="test"))
    types: dict[str, Any] = {}
    for route in _routes(list(app.router.routes)):
        for documented in [route.response_model, *(r.get("model") for r in route.responses.values())]:
            if documented is not None:
                types[f"{route.path} {sorted(route.methods)}: {documented!r}"] = documented
    return types


def _field_names(schema: dict[str, Any]) -> dict[str, set[str]]:
    """Each object schema of `schema` (the top one and its $defs) by name → its property names."""
    objects = {"(top)": schema, **schema.get("$defs", {})}
    return {name: set(part.get("properties", {})) for name, part in objects.items() if "properties" in part}


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_documented_model_is_sent_under_the_names_it_is_documented_with(service):
    types = _documented_types(service)
    assert types, f"{service} documents no model"
    mismatches = []
    for where, documented in types.items():
        adapter = TypeAdapter(documented)
        read = _field_names(adapter.json_schema(mode="validation"))
        sent = _field_names(adapter.json_schema(mode="serialization"))
        for name in read.keys() & sent.keys():
            if read[name] != sent[name]:
                mismatches.append(
                    f"{where} {name}: documented {sorted(read[name] - sent[name])}, "
                    f"sent {sorted(sent[name] - read[name])}"
                )
    assert mismatches == []


def test_the_check_sees_a_field_sent_under_another_name():
    from pydantic import Field

    class Renamed(BaseModel):
        effective_on: str = Field(serialization_alias="on")

    adapter = TypeAdapter(Renamed)
    assert _field_names(adapter.json_schema(mode="validation")) != _field_names(
        adapter.json_schema(mode="serialization")
    )
