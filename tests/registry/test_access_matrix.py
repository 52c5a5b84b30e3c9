"""Every registry route refuses unsigned and anonymous callers, and every write refuses the auditor."""

import pytest

from services.registry.main import create_app
from services.registry.settings import RegistrySettings
from tests.support import ANONYMOUS, AUDITOR

PROBES = {"/healthz", "/readyz"}
EXAMPLES = {
    "uscc": "91350100M000100Y43",
    "year": "2024",
    "cluster_id": "1",
    "building_id": "1",
    "project_id": "1",
    "registration_id": "1",
    "designation_id": "1",
    "id": "00000000-0000-4000-8000-000000000000",  # a job's
}


def routes() -> list[tuple[str, str]]:
    """The route table as clients see it: every operation of the service's OpenAPI document."""
    # The document needs no database: the app is made, never started, so this URL is never connected to.
    settings = RegistrySettings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none", environment="test")
    found = []
    for template, operations in create_app(settings).openapi()["paths"].items():
        if template not in PROBES:
            found += [(method.upper(), template.format(**EXAMPLES)) for method in sorted(operations)]
    return found


ROUTES = routes()
WRITES = [(method, path) for method, path in ROUTES if method != "GET"]


def test_the_matrix_covers_the_api():
    # Every operation of the registry's document: 43, of which 23 write (a new route changes these on purpose); the
    # jobs' three (GET /jobs/{id}, its result, DELETE) among them.
    assert (len(ROUTES), len(WRITES)) == (43, 23)


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_unsigned_and_anonymous_callers_are_refused(client_for, method, path):
    for principal in (None, ANONYMOUS):
        response = await client_for(principal).request(method, path, json={})
        assert response.status_code == 401, (principal, response.text)
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_the_auditor_never_writes(client_for, city, method, path):
    response = await client_for(AUDITOR).request(method, path, json={})
    # Either refused outright or refused once the body is valid; never a write.
    assert response.status_code in (403, 404, 415, 422), response.text
    assert (await city.get("/audit")).json()["items"] == []
