"""Liveness and readiness probes (unsigned, for orchestrators)."""

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text

from shared.errors import ServiceUnavailable

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    service: str


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz(request: Request) -> Health:
    return Health(status="ok", service=request.app.state.settings.service_name)


@router.get("/readyz", response_model=Health, summary="The service and its database can answer")
async def readyz(request: Request) -> Health:
    try:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        raise ServiceUnavailable(f"The database is not reachable: {type(exc).__name__}.") from exc
    return Health(status="ready", service=request.app.state.settings.service_name)
