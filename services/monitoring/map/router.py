import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.monitoring.dependencies import HeavyReadDep, SettingsDep, UpstreamsDep
from services.monitoring.map import service
from services.monitoring.map.schemas import MapIndicator, MapReport
from services.monitoring.reports import tilemap
from shared.auth import KeyHolderDep
from shared.clock import ClockDep
from shared.downloads import SVG, download, file_responses
from shared.http import upstream_unavailable
from shared.openapi import problems

router = APIRouter(prefix="/map", tags=["map"])

YearPath = Annotated[int, Path(ge=2000, le=2100, examples=[2025])]
WITHHELD = (
    " A caller who may not read a district (a district key, for the others) sees its counts but not its revenue, "
    "employees and award amount where the cell is small."
)
HEAVY = " Heavy work: a caller already running some is answered 429."
# The map reads the registry's verified figures and the eligibility service's award ledger.
UPSTREAM_UNAVAILABLE = upstream_unavailable("registry", "eligibility")


@router.get(
    "/{year}",
    response_model=MapReport,
    operation_id="getMap",
    summary="The producer-services map of a year",
    description="Per district, per sector and per district × sector: above-size enterprises, revenue, employees, "
    "growth, clusters, leading enterprises and awards, from the registry's verified figures and the award ledger."
    + WITHHELD
    + HEAVY,
    responses=problems(
        {422: "The year is not a year of the plan; `errors` names `path.year`.", 503: UPSTREAM_UNAVAILABLE}
    ),
)
async def read_map(
    year: YearPath, upstreams: UpstreamsDep, clock: ClockDep, principal: KeyHolderDep, _: HeavyReadDep
) -> MapReport:
    return await service.producer_services_map(upstreams, year, principal.may_read_district, clock.now())


@router.get(
    "/{year}/tiles.svg",
    response_class=Response,
    operation_id="getTileMap",
    summary="The 38 districts as a tile map",
    description="The districts as tiles grouped by region, coloured by one indicator of the map, with a legend, as "
    "SVG." + WITHHELD + HEAVY,
    responses={
        **file_responses(SVG, "The map (`map-<year>-<indicator>.svg`).", disposition="inline"),
        **problems(
            {
                422: "The year is not a year of the plan, or `indicator` is not one of the map's.",
                503: UPSTREAM_UNAVAILABLE,
            }
        ),
    },
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
    return download(body, f"map-{year}-{indicator}.svg", disposition="inline")
