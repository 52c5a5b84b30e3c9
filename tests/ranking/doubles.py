"""The ranking service's upstreams answering in-process, swapped in through `app.dependency_overrides`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.ranking.dependencies import get_upstreams
from services.ranking.settings import RankingSettings
from services.ranking.upstream.client import Upstreams, make_upstreams


@asynccontextmanager
async def upstreams_in_process(
    app: FastAPI,
    settings: RankingSettings,
    *,
    registry: httpx.AsyncBaseTransport | None = None,
    eligibility: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Upstreams]:
    """The app reads the upstreams given through their transports (`httpx.ASGITransport(app=…)`), the others at
    their settings' URLs, until the block ends."""
    upstreams = make_upstreams(settings, registry_transport=registry, eligibility_transport=eligibility)
    previous = app.dependency_overrides.get(get_upstreams)

    async def answer() -> Upstreams:  # a coroutine, as the dependency it stands for: no thread-pool hop
        return upstreams

    app.dependency_overrides[get_upstreams] = answer
    try:
        yield upstreams
    finally:
        if previous is None:
            app.dependency_overrides.pop(get_upstreams, None)
        else:
            app.dependency_overrides[get_upstreams] = previous
        await upstreams.aclose()
