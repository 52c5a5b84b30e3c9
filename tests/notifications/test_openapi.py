"""The notifications service's OpenAPI document: every operation named, described, its problems documented."""

from typing import Any

import pytest
from fastapi import FastAPI

from tests.ranking.document_checks import findings, operations


@pytest.fixture
def document(notifications_app: FastAPI) -> dict[str, Any]:
    return notifications_app.openapi()


def test_every_operation_is_named_described_and_typed(document):
    # EventData is shared.events' (part of the wire Event): free-form on purpose (each type's own fields).
    assert [finding for finding in findings(document) if finding != "EventData"] == []
    assert {operation["operationId"] for _, _, operation in operations(document)} == {
        "createSubscription",
        "listSubscriptions",
        "getSubscription",
        "updateSubscription",
        "deleteSubscription",
        "pingSubscription",
        "listDeliveries",
        "redeliverDelivery",
        "listEvents",
    }


def test_the_wire_event_and_its_types_are_named(document):
    schemas = document["components"]["schemas"]
    assert "Event" in schemas and "EventType" in schemas
    assert "webhook.ping" in schemas["EventType"]["enum"]
    created = document["paths"]["/subscriptions"]["post"]["responses"]
    assert "Location" in created["201"]["headers"] and "422" in created and "403" in created
    patch = document["paths"]["/subscriptions/{subscription_id}"]["patch"]["responses"]
    assert "ETag" in patch["200"]["headers"] and "412" in patch
    # The producers' internal feed is never in this document.
    assert not any(path.startswith("/outbox") for path in document["paths"])
