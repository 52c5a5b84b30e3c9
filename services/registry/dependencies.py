"""The registry's dependencies: its settings, idempotency, and the admission of heavy work.

The session (shared.db.SessionDep) and the caller's principal (shared.auth) are the same for every service and are
defined once there.
"""

from typing import Annotated

from fastapi import Depends, Header, Request

from services.registry.idempotency.service import Idempotency
from services.registry.settings import RegistrySettings
from shared.admission import by_body_size, heavy_work
from shared.auth import KeyHolderDep
from shared.db import SessionDep
from shared.errors import PayloadTooLarge


async def get_settings(request: Request) -> RegistrySettings:
    settings: RegistrySettings = request.app.state.settings
    return settings


SettingsDep = Annotated[RegistrySettings, Depends(get_settings)]


async def get_idempotency(
    session: SessionDep,
    principal: KeyHolderDep,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=128, description="A retried request with the same key gets the first answer again"),
    ] = None,
) -> Idempotency:
    return Idempotency(session, principal, idempotency_key)


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]


async def read_import_body(request: Request, settings: SettingsDep) -> bytes:
    """An import's body, whole (CSV or JSON: parsed row by row later), at most `import_max_bytes`."""
    limit = settings.import_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"An import body may be at most {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"An import body may be at most {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


ImportBodyDep = Annotated[bytes, Depends(read_import_body)]

# Heavy work, admitted by cost (shared/admission.py): an import by its body, 100,000 CSV rows (about 10 MB) a
# full-size request.
ImportWorkDep = Annotated[None, heavy_work(by_body_size(10_000_000))]
# The monitoring statistics: three aggregates over the verified enterprise-years of a year, the one before and the
# baseline. One unit: an assessment asks for up to five years at once, within one caller's share.
MonitoringWorkDep = Annotated[None, heavy_work(lambda request, principal: 1)]
