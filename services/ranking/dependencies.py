"""The ranking service's dependencies: its settings, the clients of its upstreams, and the admission of heavy work.

The clients are made once, in the app's lifespan (services.ranking.main), and reached only through `get_upstreams`:
a test replaces them with `app.dependency_overrides[get_upstreams] = …`. The session (shared.db.SessionDep), the
principal (shared.auth) and the clock (shared.clock.ClockDep) are every service's and are defined once there.
"""

from typing import Annotated

from fastapi import Depends, Request

from services.ranking.settings import RankingSettings
from services.ranking.upstream.client import Upstreams
from shared.admission import by_query, heavy_work


async def get_settings(request: Request) -> RankingSettings:
    settings: RankingSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[RankingSettings, Depends(get_settings)]


async def get_upstreams(request: Request) -> Upstreams:
    upstreams: Upstreams = request.app.state.upstreams
    return upstreams


UpstreamsDep = Annotated[Upstreams, Depends(get_upstreams)]

# Heavy work, admitted by cost (shared/admission.py): a sensitivity analysis by its draws, 100,000 (the most one
# request may ask for by default) a full-size request; the default of 1,000 the smallest.
SensitivityWorkDep = Annotated[None, heavy_work(by_query("draws", 100_000, default=1000))]
