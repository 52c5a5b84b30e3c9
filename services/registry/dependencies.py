"""The registry's dependencies: its settings, idempotency, and the admission of heavy work.

The session (shared.db.SessionDep) and the caller's principal (shared.auth) are the same for every service and are
defined once there.
"""

import math
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request

from services.registry.enterprises.imports import XLSX_TYPE, archive_members
from services.registry.idempotency.service import Idempotency
from services.registry.settings import RegistrySettings
from shared.admission import FULL_SIZE, admission_of, admits_heavy_work, by_body_size, heavy_work
from shared.auth import KeyHolderDep, Principal, PrincipalDep
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
        Header(
            alias="Idempotency-Key",
            max_length=128,
            description="A retried request with the same key gets the first answer again",
        ),
    ] = None,
) -> Idempotency:
    return Idempotency(session, principal, idempotency_key)


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]


async def read_import_body(request: Request, settings: SettingsDep) -> bytes:
    """An import's body, whole (CSV, XLSX or JSON: parsed row by row later), at most `import_max_bytes`."""
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

# Heavy work, admitted by cost (shared/admission.py): an import by its body, 100,000 rows a full-size request. That
# is about 10 MB of CSV or JSON; an XLSX is weighed by what it inflates to, as its ZIP directory declares (zipfile
# never inflates past it), 30 MB for 100,000 rows: its compressed size says little (random digits compress 19 times,
# a sheet of one repeated cell a hundred), and the parser's work is in proportion to its XML.
_TEXT_IMPORT_COST = by_body_size(10_000_000)
_XLSX_FULL_SIZE_INFLATED = 30_000_000


def _import_cost(request: Request, principal: Principal, body: bytes) -> int:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != XLSX_TYPE:
        return _TEXT_IMPORT_COST(request, principal)
    members = archive_members(body)  # the directory only; 413 for a directory of too many parts
    if members is None:
        return 1  # not a workbook: refused before any work
    return math.ceil(FULL_SIZE * sum(member.file_size for member in members) / _XLSX_FULL_SIZE_INFLATED)


@admits_heavy_work
async def _admitted_import(request: Request, principal: PrincipalDep, body: ImportBodyDep) -> AsyncIterator[None]:
    """The import's admission (as shared.admission.heavy_work), weighed once its body has been read."""
    with admission_of(request.app).admit(principal, _import_cost(request, principal, body)):
        yield


ImportWorkDep = Annotated[None, Depends(_admitted_import, scope="function")]
# The monitoring statistics: three aggregates over the verified enterprise-years of a year, the one before and the
# baseline. One unit: an assessment asks for up to five years at once, within one caller's share.
MonitoringWorkDep = Annotated[None, heavy_work(lambda request, principal: 1)]
