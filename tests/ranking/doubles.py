"""The ranking service's upstreams answering in-process, swapped in through `app.dependency_overrides`."""

from contextlib import AbstractAsyncContextManager

import httpx
from fastapi import FastAPI

from services.ranking.dependencies import get_upstreams
from services.ranking.settings import RankingSettings
from services.ranking.upstream.client import Upstreams, make_upstreams
from tests.support import overridden


def upstreams_in_process(
    app: FastAPI,
    settings: RankingSettings,
    *,
    registry: httpx.AsyncBaseTransport | None = None,
    eligibility: httpx.AsyncBaseTransport | None = None,
) -> AbstractAsyncContextManager[Upstreams]:
    """The app reads the upstreams given through their transports (`httpx.ASGITransport(app=…)`), the others at
    their settings' URLs, until the block ends."""
    return overridden(
        app, get_upstreams, make_upstreams(settings, registry_transport=registry, eligibility_transport=eligibility)
    )
