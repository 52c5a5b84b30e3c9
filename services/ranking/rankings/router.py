from typing import Annotated

from fastapi import APIRouter, Path, Response

from services.ranking.dependencies import UpstreamsDep
from services.ranking.rankings import exports, service
from services.ranking.rankings.schemas import RankingHistory, RankingOut
from shared.auth import PrincipalDep
from shared.clock import ClockDep
from shared.db import SessionDep
from shared.downloads import CSV, XLSX, download, file_responses
from shared.http import upstream_unavailable
from shared.openapi import problems

router = APIRouter(prefix="/rankings", tags=["published rankings"])
YearPath = Annotated[int, Path(ge=1, le=9999, description="The year ranked", examples=[2025])]

# A year with no publication is checked against the policy's rewarded years, read from the eligibility service.
UPSTREAM_UNAVAILABLE = upstream_unavailable("eligibility")
NOT_PUBLISHED = problems(
    {
        404: "No ranking has been published for the year (it is one the policy rewards).",
        422: "The year is not one the policy rewards (`errors` names `path.year`), or not a year at all.",
        503: UPSTREAM_UNAVAILABLE,
    }
)


@router.get(
    "/{year}",
    response_model=RankingOut,
    operation_id="getRanking",
    summary="The published ranking of a year",
    description="The run published for the year: its `run_id`, methodology, input hash, every district's indicators, "
    "score, rank and award, and the award boundaries held by districts of equal score. A superseded publication is "
    "in the history, not here.",
    responses=NOT_PUBLISHED,
)
async def read_ranking(
    year: YearPath, session: SessionDep, upstreams: UpstreamsDep, clock: ClockDep, _: PrincipalDep
) -> RankingOut:
    return await service.published(session, upstreams, clock, year)


@router.get(
    "/{year}/history",
    response_model=RankingHistory,
    operation_id="getRankingHistory",
    summary="Every publication of a year's ranking",
    description="Every run published for the year, oldest first, superseded ones included, each with its reason "
    "and the districts whose rank or award changed against the run it replaced. A year the policy rewards with no "
    "publication yet answers an empty list.",
    responses=problems(
        {422: "The year is not one the policy rewards (`errors` names `path.year`).", 503: UPSTREAM_UNAVAILABLE}
    ),
)
async def read_history(
    year: YearPath, session: SessionDep, upstreams: UpstreamsDep, clock: ClockDep, _: PrincipalDep
) -> RankingHistory:
    return await service.history(session, upstreams, clock, year)


@router.get(
    "/{year}/export.csv",
    response_class=Response,
    operation_id="downloadRankingCsv",
    summary="The published ranking as CSV",
    description="For the official notice: rank, district code and name, score and award of every district, UTF-8 "
    "with a byte-order mark so that spreadsheet programs read the Chinese names.",
    responses={
        **file_responses(CSV, "The CSV file (`ranking-<year>.csv`)."),
        **NOT_PUBLISHED,
    },
)
async def export_csv(
    year: YearPath, session: SessionDep, upstreams: UpstreamsDep, clock: ClockDep, _: PrincipalDep
) -> Response:
    ranking = await service.published(session, upstreams, clock, year)
    return download(exports.to_csv(ranking), f"ranking-{year}.csv")


@router.get(
    "/{year}/export.xlsx",
    response_class=Response,
    operation_id="downloadRankingXlsx",
    summary="The published ranking as an Excel workbook",
    description="For the official notice: the ranking sheet (rank, district, score, award and the total) and a "
    "provenance sheet (run, methodology, input hash, code version, publication).",
    responses={**file_responses(XLSX, "The workbook (`ranking-<year>.xlsx`)."), **NOT_PUBLISHED},
)
async def export_xlsx(
    year: YearPath, session: SessionDep, upstreams: UpstreamsDep, clock: ClockDep, _: PrincipalDep
) -> Response:
    ranking = await service.published(session, upstreams, clock, year)
    return download(exports.to_xlsx(ranking), f"ranking-{year}.xlsx")
