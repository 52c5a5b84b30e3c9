"""Reading the registry over HTTP: signed as this service, paginated, with timeouts and retries on reads."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any

import httpx

from services.eligibility.settings import EligibilitySettings
from shared.http import ServiceClient


class RegistryClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        secret: str,
        retries: int,
        backoff_seconds: float,
        page_size: int,
        concurrency: int,
    ) -> None:
        self.service = ServiceClient(
            http, upstream="registry", secret=secret, retries=retries, backoff_seconds=backoff_seconds
        )
        self.page_size = page_size
        self.concurrency = concurrency

    async def aclose(self) -> None:
        await self.service.http.aclose()

    async def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any | None:
        """GET a registry resource: its JSON, or None on 404; a 503 problem when the registry cannot be read."""
        return await self.service.get(path, params)

    async def pages(self, path: str, params: Mapping[str, str | int] | None = None) -> AsyncIterator[list[Any]]:
        """Every page of a paginated list, following `next_cursor`."""
        async for page in self.service.pages(path, params, page_size=self.page_size):
            yield page

    async def list_all(self, path: str, params: Mapping[str, str | int] | None = None) -> list[Any]:
        items: list[Any] = []
        async for page in self.pages(path, params):
            items.extend(page)
        return items

    async def enterprise(self, uscc: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = await self.get(f"/enterprises/{uscc}")
        return found

    async def each_page(
        self, path: str, params: Mapping[str, str | int] | None, consume: Callable[[list[Any]], Awaitable[None]]
    ) -> None:
        """Hand every page to `consume` as it arrives, so that work on one page overlaps the next read (`consume`
        may make the reading wait)."""
        async for page in self.pages(path, params):
            await consume(page)

    async def each_page_by_district(
        self,
        path: str,
        district_codes: Iterable[str],
        params: Mapping[str, str | int] | None,
        consume: Callable[[list[Any]], Awaitable[None]],
    ) -> None:
        """Like each_page, read district by district, `concurrency` districts at once."""
        semaphore = asyncio.Semaphore(self.concurrency)

        async def one(code: str) -> None:
            async with semaphore:
                await self.each_page(path, {**(params or {}), "district_code": code}, consume)

        await run_all([one(code) for code in district_codes])


def make_registry_client(
    settings: EligibilitySettings, transport: httpx.AsyncBaseTransport | None = None
) -> RegistryClient:
    """The pooled client of the registry, made once per process; a test passes an in-process transport
    (`httpx.ASGITransport(app=registry_app)`) and puts the client in `app.dependency_overrides`."""
    http = httpx.AsyncClient(
        base_url=settings.registry_url,
        transport=transport,
        timeout=httpx.Timeout(settings.registry_timeout_seconds, connect=settings.registry_connect_timeout_seconds),
        limits=httpx.Limits(max_connections=settings.registry_concurrency * 2, max_keepalive_connections=32),
    )
    return RegistryClient(
        http,
        secret=settings.internal.secret,
        retries=settings.registry_retries,
        backoff_seconds=settings.registry_retry_backoff_seconds,
        page_size=settings.registry_page_size,
        concurrency=settings.registry_concurrency,
    )


async def run_all(coroutines: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run concurrently; the first failure cancels the others and is raised as itself (not as a group)."""
    try:
        async with asyncio.TaskGroup() as group:
            for coroutine in coroutines:
                group.create_task(coroutine)
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from None
