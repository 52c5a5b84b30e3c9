"""The monitoring service's dependencies: its settings and the clients of its upstreams.

The clients are made once, in the app's lifespan (services.monitoring.main), and reached only through
`get_upstreams`: a test replaces them with `app.dependency_overrides[get_upstreams] = …`. The session
(shared.db.SessionDep), the principal (shared.auth) and the clock (shared.clock.ClockDep) are every service's.
"""

from typing import Annotated

from fastapi import Depends, Request

from services.monitoring.settings import MonitoringSettings
from services.monitoring.upstream.client import Upstreams
from shared.admission import heavy_work


async def get_settings(request: Request) -> MonitoringSettings:
    settings: MonitoringSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[MonitoringSettings, Depends(get_settings)]


async def get_upstreams(request: Request) -> Upstreams:
    upstreams: Upstreams = request.app.state.upstreams
    return upstreams


UpstreamsDep = Annotated[Upstreams, Depends(get_upstreams)]

# An assessment, a map, a publication, a picture or a workbook: up to five aggregates of the whole registry (one per
# year from the baseline) and a few hundred milliseconds of matplotlib or openpyxl in a worker thread. Admitted as
# two units of heavy work (shared/admission.py: 10 is a full-size screening), so that many at once cannot starve
# the cheap reads of this service or the registry.
HEAVY_READ_UNITS = 2
HeavyReadDep = Annotated[None, heavy_work(lambda request, principal: HEAVY_READ_UNITS)]
