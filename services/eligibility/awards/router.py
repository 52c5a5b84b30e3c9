from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from services.eligibility.awards import service
from services.eligibility.awards.schemas import (
    AwardDetail,
    AwardFilters,
    AwardIn,
    AwardPage,
    GroupKey,
    Status,
    SubjectType,
    SummaryOut,
    TransitionIn,
)
from services.eligibility.dependencies import ParametersDep, RankingDep, ReachWorkDep, RegistryDep, SettingsDep
from services.eligibility.screenings.subjects import RecipientKind
from shared.auth import Principal, Role, require_roles
from shared.clock import ClockDep
from shared.db import SessionDep
from shared.downloads import XLSX, download
from shared.identifiers import DistrictCode, Storable, Year
from shared.pagination import DEFAULT_LIMIT, AfterId, LimitQuery

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
    status: Status | None = None,
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


@router.post(
    "",
    response_model=AwardDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Propose an award (city); 就高不重复: a higher one supersedes or tops up, a lower or equal one is a 409",
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


@router.get("", response_model=AwardPage, summary="Awards, newest first (a district key: its own district's)")
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
    summary="Budget view: count, Σ amount and Σ payable by measure, year, district and status",
)
async def summary(
    session: SessionDep,
    principal: SummaryReaderDep,
    filters: FiltersDep,
    group_by: Annotated[
        list[GroupKey] | None,
        Query(description="Repeat to group by several; default measure_id, year, district_code, status"),
    ] = None,
) -> SummaryOut:
    return await service.summary(session, principal, filters, group_by)


@router.get(
    "/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
    summary="The awards the filters select as CSV for the official documents",
)
async def export_csv(
    session: SessionDep, principal: ReaderDep, _: ReachWorkDep, filters: FiltersDep, settings: SettingsDep
) -> Response:
    body = await service.export_csv(session, principal, filters, settings.award_export_max_rows)
    return download(body, "awards.csv")


@router.get(
    "/export.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
    summary="The awards the filters select as an Excel workbook, with totals, for the official documents",
)
async def export_xlsx(
    session: SessionDep, principal: ReaderDep, _: ReachWorkDep, filters: FiltersDep, settings: SettingsDep
) -> Response:
    body = await service.export_xlsx(session, principal, filters, settings.award_export_max_rows)
    return download(body, "awards.xlsx")


@router.get("/{award_id}", response_model=AwardDetail, summary="One award with its calculation and history")
async def read_award(session: SessionDep, principal: ReaderDep, award_id: AwardIdPath, clock: ClockDep) -> AwardDetail:
    return await service.read(session, principal, award_id, clock.today())


@router.post(
    "/{award_id}/transitions",
    response_model=AwardDetail,
    summary="approve → publicise (公示) → pay; object within the notice window; reject or withdraw (city)",
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
