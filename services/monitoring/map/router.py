import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.monitoring.dependencies import HeavyReadDep, SettingsDep, UpstreamsDep
from services.monitoring.map import service
from services.monitoring.map.schemas import MapIndicator, MapReport
from services.monitoring.reports import tilemap
from shared.auth import KeyHolderDep
from shared.clock import ClockDep

router = APIRouter(prefix="/map", tags=["map"])

YearPath = Annotated[int, Path(ge=2000, le=2100)]
SVG = "image/svg+xml"


@router.get(
    "/{year}",
    response_model=MapReport,
    summary="Per district × sector: above-size enterprises, revenue, employment, growth, clusters, awards "
    "(a district key: other districts' small cells withheld)",
)
async def read_map(
    year: YearPath, upstreams: UpstreamsDep, clock: ClockDep, principal: KeyHolderDep, _: HeavyReadDep
) -> MapReport:
    return await service.producer_services_map(upstreams, year, principal.may_read_district, clock.now())


@router.get(
    "/{year}/tiles.svg",
    response_class=Response,
    responses={200: {"content": {SVG: {}}}},
    summary="The 38 districts as a tile map coloured by one indicator, with a legend (SVG)",
)
async def tile_map(
    year: YearPath,
    upstreams: UpstreamsDep,
    clock: ClockDep,
    settings: SettingsDep,
    principal: KeyHolderDep,
    __: HeavyReadDep,
    indicator: Annotated[MapIndicator, Query(description="What colours the tiles")] = "above_scale_count",
) -> Response:
    report = await service.producer_services_map(upstreams, year, principal.may_read_district, clock.now())
    body = await asyncio.to_thread(tilemap.tile_map_svg, report, indicator=indicator, font_file=settings.cjk_font_file)
    return Response(body, media_type=SVG)
