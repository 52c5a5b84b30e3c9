import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Response

from services.monitoring.assessments import service
from services.monitoring.assessments.schemas import AssessmentReport
from services.monitoring.dependencies import HeavyReadDep, SettingsDep, UpstreamsDep
from services.monitoring.reports import charts, workbook
from shared.auth import KeyHolderDep
from shared.clock import ClockDep
from shared.db import SessionDep
from shared.downloads import XLSX, download

router = APIRouter(prefix="/assessments", tags=["assessments"])

YearPath = Annotated[int, Path(ge=2000, le=2100)]
SVG = "image/svg+xml"


@router.get(
    "/{year}",
    response_model=AssessmentReport,
    summary="Every target in the year: value, progress against the trajectory, status, forecast, provenance",
)
async def read_assessment(
    year: YearPath, session: SessionDep, upstreams: UpstreamsDep, clock: ClockDep, _: KeyHolderDep, __: HeavyReadDep
) -> AssessmentReport:
    return await service.assessment(session, upstreams, year, clock)


@router.get(
    "/{year}/report.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
    summary="The assessment as a workbook for the meeting: a summary, a sheet per sector, provenance",
)
async def assessment_workbook(
    year: YearPath,
    session: SessionDep,
    upstreams: UpstreamsDep,
    clock: ClockDep,
    _: KeyHolderDep,
    __: HeavyReadDep,
) -> Response:
    report = await service.assessment(session, upstreams, year, clock)
    body = await asyncio.to_thread(workbook.assessment_workbook, report)
    return download(body, f"monitoring-{year}.xlsx")


@router.get(
    "/{year}/targets/{target_id}/chart.svg",
    response_class=Response,
    responses={200: {"content": {SVG: {}}}},
    summary="One target: observed values against the trajectory and the target (SVG)",
)
async def target_chart(
    year: YearPath,
    target_id: Annotated[str, Path(max_length=8)],
    session: SessionDep,
    upstreams: UpstreamsDep,
    clock: ClockDep,
    settings: SettingsDep,
    _: KeyHolderDep,
    __: HeavyReadDep,
) -> Response:
    service.check_target(target_id)
    report = await service.assessment(session, upstreams, year, clock)
    chosen = next(target for target in report.targets if target.target_id == target_id)
    body = await asyncio.to_thread(charts.target_chart_svg, chosen, font_file=settings.cjk_font_file)
    return Response(body, media_type=SVG)


@router.get(
    "/{year}/sectors/chart.svg",
    response_class=Response,
    responses={200: {"content": {SVG: {}}}},
    summary="Progress of every target by sector, coloured by status (SVG)",
)
async def sector_chart(
    year: YearPath,
    session: SessionDep,
    upstreams: UpstreamsDep,
    clock: ClockDep,
    settings: SettingsDep,
    _: KeyHolderDep,
    __: HeavyReadDep,
) -> Response:
    report = await service.assessment(session, upstreams, year, clock)
    body = await asyncio.to_thread(charts.sector_progress_svg, report, font_file=settings.cjk_font_file)
    return Response(body, media_type=SVG)
