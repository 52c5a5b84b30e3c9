"""An upstream the monitoring reads with nothing listening: a 503 problem naming it, typed as documented."""

import socket

import httpx
import pytest

from services.monitoring.main import create_app
from shared.http import UpstreamUnavailableProblem
from tests.monitoring.conftest import TODAY, monitoring_settings, upstreams_in_process
from tests.support import CITY, asgi_client

UPSTREAM_PROBLEM = {"$ref": "#/components/schemas/UpstreamUnavailableProblem"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("upstream", "path", "operation_path"),
    [
        ("registry", "/assessments/2025", "/assessments/{year}"),
        ("registry", "/assessments/2025/sectors/chart.svg", "/assessments/{year}/sectors/chart.svg"),
        ("eligibility", "/map/2025", "/map/{year}"),
    ],
)
async def test_an_upstream_down_is_a_503_problem_naming_it(
    monitoring_database, registry_app, eligibility_app, upstream, path, operation_path
):
    settings = monitoring_settings(
        monitoring_database.url, **{f"{upstream}_url": f"http://127.0.0.1:{closed_port()}"}, upstream_retries=0
    )
    app = create_app(settings)
    # The other upstream answers in-process; the one under test has nothing listening.
    in_process = (
        {"eligibility": httpx.ASGITransport(app=eligibility_app)}
        if upstream == "registry"
        else {"registry": httpx.ASGITransport(app=registry_app)}
    )
    async with upstreams_in_process(app, settings, **in_process), app.router.lifespan_context(app):
        app.state.clock.hold(TODAY)
        response = await asgi_client(app, CITY).get(path)
        documented = app.openapi()["paths"][operation_path]["get"]["responses"]["503"]
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = UpstreamUnavailableProblem.model_validate(response.json())
    assert problem.upstream == upstream and upstream in problem.detail
    assert documented["content"]["application/problem+json"]["schema"] == UPSTREAM_PROBLEM
