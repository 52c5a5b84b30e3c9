"""The eligibility service's job resources over HTTP (shared.jobs.jobs_router: `GET /jobs/{id}`,
`GET /jobs/{id}/result`, `DELETE /jobs/{id}`), and the 202 its long routes answer when they run as a job."""

from typing import Any

from fastapi import Request, Response

from services.eligibility.jobs import JOBS
from shared.jobs import accepted, jobs_router

router = jobs_router(JOBS, operation_prefix="Eligibility")


def accepted_job(request: Request, job: Any) -> Response:
    """The 202 of work accepted as a job (shared.jobs.accepted's headers and body), for the routes that answer a
    Response of their own (a JSON they render, a file) when the work runs at once."""
    headers = Response()
    out = accepted(request, headers, job)
    return Response(
        out.model_dump_json(),
        status_code=headers.status_code,
        media_type="application/json",
        headers={name: value for name, value in headers.headers.items() if name != "content-length"},
    )
