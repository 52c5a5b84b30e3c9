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
from shared.downloads import SVG, XLSX, download, file_responses
from shared.http import upstream_unavailable
from shared.openapi import problems

router = APIRouter(prefix="/assessments", tags=["assessments"])

YearPath = Annotated[int, Path(ge=2000, le=2100, examples=[2025])]
NOT_A_PLAN_YEAR = "The year is not a year of the plan; `errors` names `path.year`."
# Every assessment reads the registry's verified figures.
REGISTRY_UNAVAILABLE = upstream_unavailable("registry")
HEAVY = " Heavy work: a caller already running some is answered 429."


@router.get(
    "/{year}",
    response_model=AssessmentReport,
    operation_id="getAssessment",
    summary="The assessment of every target in a year",
    description="Per target: the indicator's value in the year (recorded by the city or computed from the "
    "registry's verified figures), progress against the trajectory to the 2027 target, status, forecast and "
    "provenance; per sector, how many targets have each status; the input hash of it all." + HEAVY,
    responses=problems({422: NOT_A_PLAN_YEAR, 503: REGISTRY_UNAVAILABLE}),
)
async def read_assessment(
    year: YearPath, session: SessionDep, upstreams: UpstreamsDep, clock: ClockDep, _: KeyHolderDep, __: HeavyReadDep
) -> AssessmentReport:
    return await service.assessment(session, upstreams, year, clock)


@router.get(
    "/{year}/report.xlsx",
    response_class=Response,
    operation_id="downloadAssessmentReport",
    summary="The assessment as an Excel workbook",
    description="The assessment for the meeting: a summary sheet, a sheet per sector and the provenance of every "
    "value." + HEAVY,
    responses={
        **file_responses(XLSX, "The workbook (`monitoring-<year>.xlsx`)."),
        **problems({422: NOT_A_PLAN_YEAR, 503: REGISTRY_UNAVAILABLE}),
    },
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
    operation_id="getTargetChart",
    summary="One target's chart",
    description="The target's observed values against its trajectory and the target, as SVG (glyphs drawn as "
    "paths: no font needed to show it)." + HEAVY,
    responses={
        **file_responses(SVG, "The chart (`target-<id>-<year>.svg`).", disposition="inline"),
        **problems({404: "The plan has no target with this id.", 422: NOT_A_PLAN_YEAR, 503: REGISTRY_UNAVAILABLE}),
    },
)
async def target_chart(
    year: YearPath,
    target_id: Annotated[str, Path(max_length=8, examples=["T01"])],
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
    return download(body, f"target-{target_id}-{year}.svg", disposition="inline")


@router.get(
    "/{year}/sectors/chart.svg",
    response_class=Response,
    operation_id="getSectorProgressChart",
    summary="Progress of every target by sector",
    description="Every target's progress, grouped by sector and coloured by status, as SVG." + HEAVY,
    responses={
        **file_responses(SVG, "The chart (`sectors-<year>.svg`).", disposition="inline"),
        **problems({422: NOT_A_PLAN_YEAR, 503: REGISTRY_UNAVAILABLE}),
    },
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
    return download(body, f"sectors-{year}.svg", disposition="inline")
