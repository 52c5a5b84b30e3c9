"""The eligibility service's own foundations: migrations, probes, request ids, the parameter store."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.support import ANONYMOUS, CITY


async def test_probes_answer_without_a_signature(client_for):
    client = client_for(None)
    assert (await client.get("/healthz")).json() == {"status": "ok", "service": "eligibility"}
    assert (await client.get("/readyz")).json() == {"status": "ready", "service": "eligibility"}


async def test_request_id_is_echoed(client_for):
    response = await client_for(ANONYMOUS).get("/measures", headers={"X-Request-ID": "req-42"})
    assert response.headers["X-Request-ID"] == "req-42"


async def test_amendments_are_append_only(client_for, eligibility_app):
    response = await client_for(CITY).post(
        "/parameters/m07b.award_yuan/values",
        json={"effective_from": "2026-01-01", "value": "800000.00", "reason": "2026 budget"},
    )
    assert response.status_code == 201
    async with eligibility_app.state.engine.connect() as connection:
        with pytest.raises(DBAPIError, match="append-only"):
            await connection.execute(text("UPDATE parameter_amendments SET value = '\"1000000.00\"'"))


async def test_the_store_picks_up_amendments_made_by_another_process(client_for, eligibility_app):
    # Another worker's write is only in the database; this process reads it once its copy is stale.
    from datetime import UTC, date, datetime

    from services.eligibility.parameters.models import ParameterAmendment

    async with eligibility_app.state.sessionmaker() as session:
        session.add(
            ParameterAmendment(
                name="m13.cap_yuan",
                effective_from=date(2026, 1, 1),
                value="500000.00",
                reason="other worker",
                recorded_at=datetime.now(UTC),
                recorded_by="city",
            )
        )
        await session.commit()
    eligibility_app.state.parameter_store.invalidate()  # as if the refresh interval had passed
    response = await client_for(ANONYMOUS).post(
        "/calculate", json={"measure_id": "M13", "as_of": "2026-01-01", "facts": {"actual_spend_yuan": "5000000.00"}}
    )
    assert response.json()["amount_yuan"] == "500000.00"  # （十三）30% × 5M = 1.5M, capped at the amended 500,000


def test_openapi_documents_every_route(eligibility_app):
    paths = eligibility_app.openapi()["paths"]
    prefixes = ("/measures", "/parameters", "/calculate", "/screenings", "/simulations", "/enterprises")
    assert {path for path in paths if path.startswith(prefixes)} == {
        "/measures",
        "/measures/{measure_id}",
        "/parameters",
        "/parameters/{name}",
        "/parameters/{name}/values",
        "/calculate",
        "/calculate/batch",
        "/screenings",
        "/screenings/snapshots",
        "/enterprises/{uscc}/matches",
        "/simulations",
    }
    batch = paths["/calculate/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert batch["items"] == {"$ref": "#/components/schemas/CalculationRequest"}
