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

# A picture or a workbook: a few hundred milliseconds of matplotlib or openpyxl in a worker thread, admitted as two
# units of heavy work (shared/admission.py: 10 is a full-size screening) so that many at once cannot starve reads.
RENDER_UNITS = 2
RenderWorkDep = Annotated[None, heavy_work(lambda request, principal: RENDER_UNITS)]
