from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from services.eligibility.awards import export_jobs, service
from services.eligibility.awards.schemas import (
    AwardAboveEntitlementProblem,
    AwardDetail,
    AwardFilters,
    AwardGroupKey,
    AwardIn,
    AwardNotHigherProblem,
    AwardPage,
    AwardStatus,
    AwardStepRefusedProblem,
    SummaryOut,
    TransitionIn,
)
from services.eligibility.calendar.router import CALENDAR_UNKNOWN
from services.eligibility.dependencies import ParametersDep, RankingDep, ReachWorkDep, RegistryDep, SettingsDep
from services.eligibility.jobs.router import accepted_job
from services.eligibility.screenings.subjects import RecipientKind
from shared.auth import Principal, Role, require_roles
from shared.clock import ClockDep
from shared.db import SessionDep
from shared.downloads import CSV, XLSX, download, file_responses
from shared.http import upstream_unavailable
from shared.identifiers import DistrictCode, Storable, Year
from shared.jobs import ACCEPTED_RESPONSE, PreferAsyncDep
from shared.openapi import problems
from shared.pagination import DEFAULT_LIMIT, AfterId, LimitQuery
from shared.policy.catalogue import SubjectType

router = APIRouter(prefix="/awards", tags=["awards"])

CityDep = Annotated[Principal, require_roles(Role.CITY)]
ReaderDep = Annotated[Principal, require_roles(Role.CITY, Role.AUDITOR, Role.DISTRICT)]
# The budget view is read by the monitoring service too, for the producer-services map (its own account).
SummaryReaderDep = Annotated[Principal, require_roles(Role.CITY, Role.AUDITOR, Role.DISTRICT, Role.SERVICE)]
AwardIdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]


async def award_filters(
    subject_type: SubjectType | None = None,
    subject_id: Annotated[str | None, Query(min_length=1, max_length=64), Storable] = None,
    district_code: DistrictCode | None = None,
    measure_id: Annotated[str | None, Query(min_length=1, max_length=64), Storable] = None,
    status: AwardStatus | None = None,
    year: Year | None = None,
    policy: Annotated[
        str | None, Query(min_length=1, max_length=100, description="A document number, in any spelling"), Storable
    ] = None,
    standing: Annotated[bool | None, Query(description="Only the awards that stand (true) or not (false)")] = None,
    recipient_kind: RecipientKind | None = None,
) -> AwardFilters:
    return AwardFilters(
        subject_type=subject_type,
        subject_id=subject_id.strip().upper() if subject_type == "enterprise" and subject_id else subject_id,
        district_code=district_code,
        measure_id=measure_id,
        status=status,
        year=year,
        policy=service.policy_filter(policy),
        recipient_kind=recipient_kind,
        standing=standing,
    )


FiltersDep = Annotated[AwardFilters, Depends(award_filters)]
_BAD_FILTERS = "A filter is invalid (e.g. `policy` not a document number); `errors` names it."
_EXPORT_REFUSED = "A filter is invalid, or the filters select more awards than an export holds; `errors` says which."
# The gateway documents 403 for a role the route does not admit; these routes also check the district asked for.
_OTHER_DISTRICT = "A district key named another district in `district_code`: it reads its own district's awards only."


@router.post(
    "",
    response_model=AwardDetail,
    status_code=status.HTTP_201_CREATED,
    operation_id="createAward",
    summary="Propose an award",
    description="Records a proposed award to one subject under a registered policy (default 渝发改规范〔2024〕7号). "
    "For this policy's computable measures the amount may not exceed what the rules give on the registry's "
    "verified facts (a 422 carries `maximum_yuan` and the `calculation`); the calculation is stored with the award. "
    "就高不重复: one award stands per subject (and year, for yearly measures) across policies — a higher one "
    "supersedes the standing one, or tops up a paid one by the difference; a lower or equal one is a 409 naming "
    "the `standing_award`, and nothing is written.",
    responses=problems(
        {
            409: (
                "`/problems/award-not-higher`: an award that is not higher stands for the same subject (就高不重复).",
                AwardNotHigherProblem,
            ),
            422: (
                "`/problems/award-above-entitlement`: the amount is above what the rules give (`maximum_yuan`, "
                "`calculation`). `/problems/invalid-input`: the body is invalid, the subject or policy is unknown, or "
                "a fact the rules need is missing or not verified. `errors` names each field.",
                AwardAboveEntitlementProblem,
            ),
            503: upstream_unavailable("registry", "ranking"),
        }
    ),
)
async def propose(
    session: SessionDep,
    registry: RegistryDep,
    ranking: RankingDep,
    parameters: ParametersDep,
    body: AwardIn,
    principal: CityDep,
    clock: ClockDep,
) -> AwardDetail:
    return await service.propose(session, registry, ranking, parameters, clock, principal, body)


@router.get(
    "",
    response_model=AwardPage,
    operation_id="listAwards",
    summary="List awards",
    description="The award ledger, newest first, filtered and paginated by `cursor`; a district key sees its own "
    "district's awards only.",
    responses=problems({403: _OTHER_DISTRICT, 422: _BAD_FILTERS}),
)
async def list_awards(
    session: SessionDep,
    principal: ReaderDep,
    filters: FiltersDep,
    clock: ClockDep,
    before_id: AfterId,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> AwardPage:
    return await service.list_page(session, principal, filters, before_id, limit, clock.today())


@router.get(
    "/summary",
    response_model=SummaryOut,
    operation_id="getAwardsSummary",
    summary="Summarise awards for the budget",
    description="Count, Σ amount and Σ payable of the awards the filters select, grouped by `group_by` (default "
    "measure, year, district and status), with the totals; a district key sums its own district's.",
    responses=problems({403: _OTHER_DISTRICT, 422: _BAD_FILTERS}),
)
async def summary(
    session: SessionDep,
    principal: SummaryReaderDep,
    filters: FiltersDep,
    group_by: Annotated[
        list[AwardGroupKey] | None,
        Query(description="Repeat to group by several; default measure_id, year, district_code, status"),
    ] = None,
) -> SummaryOut:
    return await service.summary(session, principal, filters, group_by)


@router.get(
    "/export.csv",
    response_class=Response,
    operation_id="downloadAwardsCsv",
    summary="Download awards as CSV",
    description="The awards the filters select, one row each, as UTF-8 CSV for the official documents. With "
    "`Prefer: respond-async` the file is written by a job: a 202 with `Location: /jobs/{id}`, the job's result the "
    "same file (bad filters are refused first, no job written).",
    responses={
        **file_responses(CSV, "The file, to save as `awards.csv`."),
        **ACCEPTED_RESPONSE,
        **problems({403: _OTHER_DISTRICT, 422: _EXPORT_REFUSED}),
    },
)
async def export_csv(
    session: SessionDep,
    principal: ReaderDep,
    _: ReachWorkDep,
    filters: FiltersDep,
    settings: SettingsDep,
    prefer_async: PreferAsyncDep,
    request: Request,
) -> Response:
    if prefer_async:
        job = await export_jobs.submit(session, principal, filters, "csv", settings.award_export_max_rows)
        return accepted_job(request, job)
    body = await service.export_csv(session, principal, filters, settings.award_export_max_rows)
    return download(body, "awards.csv")


@router.get(
    "/export.xlsx",
    response_class=Response,
    operation_id="downloadAwardsXlsx",
    summary="Download awards as an Excel workbook",
    description="The awards the filters select as an Excel workbook (.xlsx) with totals, for the official documents. "
    "With `Prefer: respond-async` the workbook is written by a job: a 202 with `Location: /jobs/{id}`, the job's "
    "result the same file (bad filters are refused first, no job written).",
    responses={
        **file_responses(XLSX, "The file, to save as `awards.xlsx`."),
        **ACCEPTED_RESPONSE,
        **problems({403: _OTHER_DISTRICT, 422: _EXPORT_REFUSED}),
    },
)
async def export_xlsx(
    session: SessionDep,
    principal: ReaderDep,
    _: ReachWorkDep,
    filters: FiltersDep,
    settings: SettingsDep,
    prefer_async: PreferAsyncDep,
    request: Request,
) -> Response:
    if prefer_async:
        job = await export_jobs.submit(session, principal, filters, "xlsx", settings.award_export_max_rows)
        return accepted_job(request, job)
    body = await service.export_xlsx(session, principal, filters, settings.award_export_max_rows)
    return download(body, "awards.xlsx")


@router.get(
    "/{award_id}",
    response_model=AwardDetail,
    operation_id="getAward",
    summary="Get one award",
    description="One award with the calculation stored with it and its history, oldest first; a district key reads "
    "its own district's awards only (403).",
    responses=problems(
        {
            403: "The award is of another district: a district key reads its own district's awards only.",
            404: "There is no award of that id.",
            422: "The id is not a whole number from 1.",
        }
    ),
)
async def read_award(session: SessionDep, principal: ReaderDep, award_id: AwardIdPath, clock: ClockDep) -> AwardDetail:
    return await service.read(session, principal, award_id, clock.today())


@router.post(
    "/{award_id}/transitions",
    response_model=AwardDetail,
    operation_id="transitionAward",
    summary="Move an award through its workflow",
    description="approve → publicise (公示, a notice window of official working days) → pay; an objection within "
    "the window sends the award back to proposed; reject or withdraw from any open status (with a reason). An "
    "action not allowed from the status, an objection after the window or a payment within it is a 409 naming the "
    "`current_status` and what is allowed.",
    responses=problems(
        {
            404: "There is no award of that id.",
            409: (
                "`/problems/award-step-refused`: the action is not allowed from the status, or not on that day.",
                AwardStepRefusedProblem,
            ),
            422: "The body is invalid (no reason where one is required, a date in the future or before the award's "
            "previous step, a backdated notice); `errors` names it.",
            503: CALENDAR_UNKNOWN,
        }
    ),
)
async def transition(
    session: SessionDep,
    principal: CityDep,
    award_id: AwardIdPath,
    body: TransitionIn,
    settings: SettingsDep,
    clock: ClockDep,
) -> AwardDetail:
    return await service.transition(session, clock, principal, award_id, body, settings.award_notice_working_days)
