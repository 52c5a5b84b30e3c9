from typing import Annotated

from fastapi import APIRouter, Path, Response

from services.ranking.dependencies import UpstreamsDep
from services.ranking.rankings import exports, service
from services.ranking.rankings.schemas import RankingHistory, RankingOut
from shared.auth import PrincipalDep
from shared.clock import ClockDep
from shared.db import SessionDep
from shared.downloads import XLSX, download

router = APIRouter(prefix="/rankings", tags=["published rankings"])
YearPath = Annotated[int, Path(ge=1, le=9999, description="The year ranked")]


@router.get("/{year}", response_model=RankingOut, summary="The published ranking of a year (public)")
async def read_ranking(
    year: YearPath, session: SessionDep, upstreams: UpstreamsDep, clock: ClockDep, _: PrincipalDep
) -> RankingOut:
    return await service.published(session, upstreams, clock, year)


@router.get(
    "/{year}/history",
    response_model=RankingHistory,
    summary="Every publication of a year's ranking, superseded ones included, with what changed (public)",
)
async def read_history(
    year: YearPath, session: SessionDep, upstreams: UpstreamsDep, clock: ClockDep, _: PrincipalDep
) -> RankingHistory:
    return await service.history(session, upstreams, clock, year)


@router.get(
    "/{year}/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
    summary="The published ranking as CSV for the official notice: rank, district, score, award (public)",
)
async def export_csv(
    year: YearPath, session: SessionDep, upstreams: UpstreamsDep, clock: ClockDep, _: PrincipalDep
) -> Response:
    ranking = await service.published(session, upstreams, clock, year)
    return download(exports.to_csv(ranking), f"ranking-{year}.csv")


@router.get(
    "/{year}/export.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
    summary="The published ranking as an Excel workbook for the official notice (public)",
)
async def export_xlsx(
    year: YearPath, session: SessionDep, upstreams: UpstreamsDep, clock: ClockDep, _: PrincipalDep
) -> Response:
    ranking = await service.published(session, upstreams, clock, year)
    return download(exports.to_xlsx(ranking), f"ranking-{year}.xlsx")
