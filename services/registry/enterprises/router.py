import asyncio
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from services.registry.dependencies import IdempotencyDep, ImportBodyDep, ImportWorkDep, SettingsDep
from services.registry.enterprises import imports, service, tasks
from services.registry.enterprises.schemas import (
    EnterpriseConflictProblem,
    EnterpriseCreate,
    EnterpriseOut,
    EnterprisePage,
    EnterprisePatch,
    ImportProblem,
    ImportReport,
    YearFigures,
    YearFiguresOut,
)
from services.registry.idempotency.service import request_fingerprint
from services.registry.problems import (
    INVALID,
    INVALID_PATH,
    INVALID_QUERY,
    OTHER_DISTRICT,
    OTHER_DISTRICTS_RECORDS,
)
from services.registry.registrations.schemas import RegistrationOut
from shared.auth import KeyHolderDep
from shared.db import SessionDep
from shared.errors import SafeJSONResponse, safe_json
from shared.etags import IfMatchDep, etag
from shared.identifiers import DistrictCode, SectorCode, Storable, Uscc, Year
from shared.jobs import ACCEPTED_RESPONSE, PreferAsyncDep, accepted_response
from shared.openapi import HEADERS, problems
from shared.pagination import DEFAULT_LIMIT, AfterText, LimitQuery

router = APIRouter(prefix="/enterprises", tags=["enterprises"])


@router.post(
    "",
    response_model=EnterpriseOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="createEnterprise",
    summary="Register an enterprise",
    description="Registers an enterprise by its unified social credit code (checked per GB 32100-2015) in its "
    "district; a district key registers only in its own district. A district key's registration of a credit code "
    "whose division segment (positions 3–8) names another of the 38 districts is not created: it is held for the "
    "city's confirmation (202, the held registration). 409 when the code is registered already or a registration "
    "of it is held (the problem names the code and the held registration); 422 for an invalid body, e.g. a credit "
    "code that fails its check character or a spin-off that names itself as its parent.",
    responses={
        201: {"headers": {"Location": HEADERS["Location"], "ETag": HEADERS["ETag"]}},
        202: {"model": RegistrationOut, "description": "Held for the city's confirmation"},
        **problems(
            {
                403: OTHER_DISTRICT,
                409: (
                    "`/problems/enterprise-exists`: an enterprise with this credit code exists (`uscc`), or a "
                    "registration of it waits for the city (`registration_id`); `/problems/conflict`: a simultaneous "
                    "write got there first (retry).",
                    EnterpriseConflictProblem,
                ),
                422: INVALID,
            }
        ),
    },
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


@router.get(
    "",
    response_model=EnterprisePage,
    operation_id="listEnterprises",
    summary="Enterprises, filtered, in credit-code order",
    description="The enterprises with their yearly figures, a page at a time (`next_cursor` fetches the next), "
    "filtered by district, sector, part of the name and, with a district, the year. A district key sees its own "
    "district's enterprises only: it may leave `district_code` out, and naming another district is a 403. 422 for "
    "an invalid filter or cursor, or `year` without `district_code`.",
    responses=problems({403: OTHER_DISTRICTS_RECORDS, 422: INVALID_QUERY}),
)
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
    operation_id="importEnterprises",
    summary="Import enterprises and their yearly figures in bulk",
    description=imports.DESCRIPTION,
    responses={
        200: {"headers": {"Idempotent-Replayed": HEADERS["Idempotent-Replayed"]}},
        **ACCEPTED_RESPONSE,
        **problems(
            {
                400: "The body cannot be read as its Content-Type says: CSV bytes that are neither UTF-8 nor "
                "GB18030/GBK (the line and byte are named), a malformed CSV, invalid JSON, or a body sent as XLSX "
                "that is not one (not a ZIP archive, an .xls, a password-protected workbook, an unreadable sheet). "
                "Nothing was written.",
                409: "Enterprises were changed by another request during the import; nothing was written, retry.",
                413: "The body is larger than an import takes, or the workbook inflates past an import's bounds "
                "(its parts, their total size, their compression ratio); nothing was written.",
                415: "The Content-Type is none of `text/csv`, the XLSX type and `application/json`, or a CSV declares "
                "a charset other than UTF-8 or GB18030/GBK.",
                422: (
                    "The import is refused as a whole, nothing written. `/problems/import-refused`: a header that "
                    "does not name the import columns or a sheet with no header row (`columns` lists them), or with "
                    "`atomic=true` invalid rows (`rejected` lists them). `/problems/invalid-input`: a formula where a "
                    "value belongs (`errors` names the row and the column), more rows than an import takes, an "
                    "`Idempotency-Key` used before for another body (or an invalid one, or an invalid `atomic`).",
                    ImportProblem,
                ),
            }
        ),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The rows, as a JSON array, a CSV or an Excel workbook (see the operation).",
            "content": {
                "application/json": {"schema": {"type": "array", "items": imports.ROW_SCHEMA}},
                # Bytes, not text: a GBK file is sent as saved, and a client must not re-encode it.
                "text/csv": {
                    "schema": {
                        "type": "string",
                        "format": "binary",
                        "description": "A header row naming the columns (those of `EnterpriseImportRow`; `uscc`, "
                        "`name`, `district_code`, `sector` and `established_on` required, any order), then one row "
                        "per line, a blank cell an absent value. UTF-8 (with or without a byte order mark) or "
                        "GB18030/GBK: declare it with `charset` (`text/csv; charset=gbk`), or it is detected.",
                    },
                    "example": "uscc,name,district_code,sector,established_on,year,revenue_yuan,employees,above_scale\n"
                    "91500103MA5U7XXXXH,重庆示例物流有限公司,500103,modern_logistics,2018/3/1,2024,21000000.00,80,是\n",
                },
                imports.XLSX_TYPE: {
                    "schema": {
                        "type": "string",
                        "format": "binary",
                        "description": "An Excel workbook (.xlsx): its first sheet, the header row among its first "
                        f"{imports.HEADER_SEARCH_ROWS} rows (title rows above it are allowed), the data below it. "
                        "Cells hold values (text, numbers, dates, booleans), not formulas.",
                    }
                },
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
    request: Request,
    respond_async: PreferAsyncDep,
    atomic: Annotated[bool, Query(description="Write nothing unless every row is valid")] = False,
    # Documented with the request body (JSON, CSV or XLSX) above.
    content_type: Annotated[str, Header(include_in_schema=False)] = "",
) -> Response:
    async def run() -> tuple[int, dict[str, object]]:
        # The rows are parsed as they are validated, one at a time, in the service's worker thread.
        limits = imports.ImportLimits(max_rows=settings.import_max_rows, max_bytes=settings.import_max_bytes)
        rows = imports.parse_body(content_type, body, limits)
        report = await service.import_rows(
            session, principal, rows, atomic=atomic, max_errors_per_row=settings.import_max_errors_per_row
        )
        return status.HTTP_200_OK, report

    async def submit() -> tuple[int, dict[str, object]]:
        # A Content-Type no import takes is refused now (415), not by the job; the rest is the job's to find.
        limits = imports.ImportLimits(max_rows=settings.import_max_rows, max_bytes=settings.import_max_bytes)
        imports.parse_body(content_type, body, limits)
        job = await tasks.submit_import(
            session, principal, body=body, content_type=content_type, atomic=atomic, idempotency_key=idempotency.key
        )
        return status.HTTP_202_ACCEPTED, {"job_id": str(job.id)}

    # As a job (202, shared/jobs.py) when asked (`Prefer: respond-async`) or when the body is large. The same
    # Idempotency-Key again answers the first answer: the report, or the same job as it is now.
    threshold = settings.import_async_threshold_bytes
    as_job = respond_async or 0 < threshold < len(body)
    outcome = await idempotency.run(request_fingerprint(content_type, str(atomic), body), submit if as_job else run)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    if outcome.status_code == status.HTTP_202_ACCEPTED:
        job = await tasks.read_job(session, principal, uuid.UUID(str(outcome.body["job_id"])))
        return accepted_response(request, job, headers=headers)
    rejected = outcome.body.get("rejected")
    if outcome.status_code == status.HTTP_200_OK and isinstance(rejected, list) and len(rejected) > _ROWS_PER_PIECE:
        return StreamingResponse(_report_pieces(outcome.body, rejected), headers=headers, media_type=JSON)
    # The answer is rendered off the event loop as well.
    return await asyncio.to_thread(SafeJSONResponse, outcome.body, status_code=outcome.status_code, headers=headers)


@router.get(
    "/{uscc}",
    response_model=EnterpriseOut,
    operation_id="getEnterprise",
    summary="One enterprise with its yearly figures",
    description="The enterprise and its yearly figures, each with its verification. The `ETag` is the enterprise's "
    "version: send it back as `If-Match` to change the enterprise safely. 404 for a credit code the registry does "
    "not hold; 422 for one that is not a valid credit code.",
    responses={
        200: {"headers": {"ETag": HEADERS["ETag"]}},
        **problems({403: OTHER_DISTRICT, 404: "No enterprise with this credit code.", 422: INVALID_PATH}),
    },
)
async def read_enterprise(
    uscc: Uscc, session: SessionDep, principal: KeyHolderDep, response: Response
) -> EnterpriseOut:
    enterprise = await service.read(session, principal, uscc)
    response.headers["ETag"] = etag(enterprise.version)
    return enterprise


@router.patch(
    "/{uscc}",
    response_model=EnterpriseOut,
    operation_id="updateEnterprise",
    summary="Change some fields of an enterprise",
    description="Only the fields sent change; the credit code never does. With `If-Match` (the `ETag` of a read) "
    "the change is made only if the enterprise is still at that version, else 412 and nothing changes. A district "
    "key changes its own district's enterprises only, and may not move one to another district. 422 for an invalid "
    "body, e.g. spin-off (主辅分离) fields that do not fit together.",
    responses={
        200: {"headers": {"ETag": HEADERS["ETag"]}},
        **problems(
            {
                403: OTHER_DISTRICT,
                404: "No enterprise with this credit code.",
                412: "The enterprise is not at the version `If-Match` names (or was changed meanwhile); read it "
                "again and retry.",
                422: INVALID,
            }
        ),
    },
)
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
    operation_id="setEnterpriseYear",
    summary="Create or replace one year's figures of an enterprise",
    description="Records the year's revenue, employees, above-size status and 500强 listing, and the district the "
    "enterprise was in that year (default: the one the record names, or the enterprise's current one). 201 when "
    "the year had no record, 200 when it is replaced (or unchanged). Written by the city, the figures are verified; "
    "written by a district, they wait for the city. The `ETag` is the enterprise's new version. A district key "
    "writes only its own district's years. 412 when the enterprise was changed by another request meanwhile.",
    responses={
        200: {"headers": {"ETag": HEADERS["ETag"]}, "description": "Replaced (or unchanged)"},
        201: {
            "model": YearFiguresOut,
            "description": "Created: the year had no record yet",
            "headers": {"ETag": HEADERS["ETag"]},
        },
        **problems(
            {
                403: OTHER_DISTRICT,
                404: "No enterprise with this credit code.",
                412: "The enterprise was changed by another request meanwhile; retry.",
                422: INVALID,
            }
        ),
    },
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
