import asyncio
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from fastapi.responses import StreamingResponse

from services.registry.dependencies import IdempotencyDep, ImportBodyDep, ImportWorkDep, SettingsDep
from services.registry.enterprises import imports, service
from services.registry.enterprises.schemas import (
    EnterpriseCreate,
    EnterpriseOut,
    EnterprisePage,
    EnterprisePatch,
    ImportReport,
    YearFigures,
    YearFiguresOut,
)
from services.registry.idempotency.service import request_fingerprint
from services.registry.registrations.schemas import RegistrationOut
from shared.auth import KeyHolderDep
from shared.db import SessionDep
from shared.errors import SafeJSONResponse, safe_json
from shared.etags import IfMatchDep, etag
from shared.identifiers import DistrictCode, SectorCode, Storable, Uscc, Year
from shared.pagination import DEFAULT_LIMIT, AfterText, LimitQuery

router = APIRouter(prefix="/enterprises", tags=["enterprises"])


@router.post(
    "",
    response_model=EnterpriseOut,
    status_code=status.HTTP_201_CREATED,
    summary="Register an enterprise",
    description="A district key's registration of a credit code whose division segment (positions 3–8) names another "
    "of the 38 districts is not created: it is held for the city's confirmation (202, a held registration).",
    responses={202: {"model": RegistrationOut, "description": "Held for the city's confirmation"}},
)
async def create_enterprise(
    data: EnterpriseCreate, session: SessionDep, principal: KeyHolderDep, response: Response
) -> EnterpriseOut | SafeJSONResponse:
    created = await service.create(session, principal, data)
    if isinstance(created, RegistrationOut):
        return SafeJSONResponse(created.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    response.headers["ETag"] = etag(created.version)
    response.headers["Location"] = f"/enterprises/{created.uscc}"
    return created


@router.get("", response_model=EnterprisePage, summary="Enterprises, filtered, in credit-code order")
async def list_enterprises(
    session: SessionDep,
    principal: KeyHolderDep,
    after_uscc: AfterText,
    district_code: DistrictCode | None = None,
    sector: SectorCode | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name"), Storable] = None,
    year: Annotated[
        Year | None,
        Query(
            description="With district_code: the enterprises of that district in that year (the district its "
            "figures of the year record; without figures of the year, its present one)"
        ),
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> EnterprisePage:
    return await service.list_page(
        session,
        principal,
        district_code=district_code,
        sector=sector,
        name_contains=q,
        after_uscc=after_uscc,
        limit=limit,
        year=year,
    )


@router.post(
    "/import",
    response_model=ImportReport,
    summary="Create or update enterprises with yearly figures in bulk (CSV or JSON array)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            },
        }
    },
)
async def import_enterprises(
    session: SessionDep,
    principal: KeyHolderDep,
    settings: SettingsDep,
    idempotency: IdempotencyDep,
    _: ImportWorkDep,
    body: ImportBodyDep,
    atomic: Annotated[bool, Query(description="Write nothing unless every row is valid")] = False,
    # Documented with the request body (CSV or JSON) above.
    content_type: Annotated[str, Header(include_in_schema=False)] = "",
) -> Response:
    async def run() -> tuple[int, dict[str, object]]:
        # The rows are parsed as they are validated, one at a time, in the service's worker thread.
        rows = imports.parse_body(content_type, body, settings.import_max_rows)
        report = await service.import_rows(
            session, principal, rows, atomic=atomic, max_errors_per_row=settings.import_max_errors_per_row
        )
        return status.HTTP_200_OK, report

    outcome = await idempotency.run(request_fingerprint(content_type, str(atomic), body), run)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    rejected = outcome.body.get("rejected")
    if outcome.status_code == status.HTTP_200_OK and isinstance(rejected, list) and len(rejected) > _ROWS_PER_PIECE:
        return StreamingResponse(_report_pieces(outcome.body, rejected), headers=headers, media_type=JSON)
    # The answer is rendered off the event loop as well.
    return await asyncio.to_thread(SafeJSONResponse, outcome.body, status_code=outcome.status_code, headers=headers)


@router.get("/{uscc}", response_model=EnterpriseOut, summary="One enterprise with its yearly figures")
async def read_enterprise(
    uscc: Uscc, session: SessionDep, principal: KeyHolderDep, response: Response
) -> EnterpriseOut:
    enterprise = await service.read(session, principal, uscc)
    response.headers["ETag"] = etag(enterprise.version)
    return enterprise


@router.patch("/{uscc}", response_model=EnterpriseOut, summary="Change some fields; If-Match is honoured")
async def update_enterprise(
    uscc: Uscc,
    patch: EnterprisePatch,
    session: SessionDep,
    principal: KeyHolderDep,
    response: Response,
    expected_versions: IfMatchDep,
) -> EnterpriseOut:
    enterprise = await service.update(session, principal, uscc, patch, expected_versions)
    response.headers["ETag"] = etag(enterprise.version)
    return enterprise


@router.put(
    "/{uscc}/years/{year}",
    response_model=YearFiguresOut,
    summary="Create or replace one year's figures",
    responses={201: {"model": YearFiguresOut, "description": "Created: the year had no record yet"}},
)
async def put_year(
    uscc: Uscc, year: Year, figures: YearFigures, session: SessionDep, principal: KeyHolderDep, response: Response
) -> YearFiguresOut:
    out, created, version = await service.put_year(session, principal, uscc, year, figures)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    response.headers["ETag"] = etag(version)
    return out


# A long report is written out a slice of rejected rows at a time, each rendered in a worker thread as it is sent: one
# rendering of 200,000 rejected rows held the interpreter lock (so the event loop) for a second and, with its text,
# doubled the memory of the report.
_ROWS_PER_PIECE = 2_000
JSON = "application/json"


def _report_pieces(report: dict[str, Any], rejected: list[Any]) -> Iterator[bytes]:
    head = {key: value for key, value in report.items() if key != "rejected"}
    yield safe_json(head)[:-1] + b',"rejected":['
    for start in range(0, len(rejected), _ROWS_PER_PIECE):
        yield (b"," if start else b"") + safe_json(rejected[start : start + _ROWS_PER_PIECE])[1:-1]
    yield b"]}"
