"""The eligibility service's job resources over HTTP (shared.jobs.jobs_router: `GET /jobs/{id}`,
`GET /jobs/{id}/result`, `DELETE /jobs/{id}`), and the 202 its long routes answer when they run as a job."""

from typing import Any

from fastapi import Request, Response

from services.eligibility.jobs import JOBS
from services.eligibility.screenings.schemas import ScreeningOut, SnapshotOut
from shared.downloads import CSV, XLSX
from shared.jobs import accepted, jobs_router

# A screening's result is the synchronous screening's JSON, a snapshot's its outcome; an export's the file.
router = jobs_router(JOBS, operation_prefix="Eligibility", results=[ScreeningOut, SnapshotOut], files=[CSV, XLSX])


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
