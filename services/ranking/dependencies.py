"""Dependencies every router of the service shares."""

from typing import Annotated

from fastapi import Depends, Request

from services.ranking.settings import RankingSettings
from services.ranking.upstream.client import Upstreams


async def get_settings(request: Request) -> RankingSettings:
    settings: RankingSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[RankingSettings, Depends(get_settings)]


async def get_upstreams(request: Request) -> Upstreams:
    upstreams: Upstreams = request.app.state.upstreams
    return upstreams


UpstreamsDep = Annotated[Upstreams, Depends(get_upstreams)]
