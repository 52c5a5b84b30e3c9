"""Getting the registry ready for a run: the demo data when it is empty, what it holds, and fresh event projects
for the award proposals. All of it through the gateway, before the clock starts."""

import asyncio
import math
from typing import Any

import httpx

from deploy.seed_demo import registry_is_empty, seed
from tests.load.mix import AWARD_SHARE, REGISTRY, YEAR, World

WORKERS = 8
# Award proposals drawn beyond their expected number, so that a run never runs short of fresh subjects.
AWARD_MARGIN = 1.5


class SetupError(RuntimeError):
    pass


async def _pages(client: httpx.AsyncClient, path: str, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(items) < limit:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(REGISTRY + path, params=params)
        if response.status_code != 200:
            raise SetupError(f"GET {path}: {response.status_code} {response.text[:300]}")
        page = response.json()
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return items[:limit]


async def _event_projects(client: httpx.AsyncClient, owners: list[dict[str, Any]], count: int) -> list[int]:
    made: list[int] = []
    queue = list(range(count))

    async def worker() -> None:
        while queue:
            index = queue.pop()
            owner = owners[index % len(owners)]
            body = {
                "kind": "event",
                "owner_uscc": owner["uscc"],
                "district_code": owner["district_code"],
                "name": f"压测生产性服务业推介会{index + 1}",
                "year": YEAR,
                "actual_spend_yuan": "800000.00",
            }
            response = await client.post(REGISTRY + "/projects", json=body)
            if response.status_code != 201:
                raise SetupError(f"POST /projects: {response.status_code} {response.text[:300]}")
            made.append(int(response.json()["id"]))

    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return made


async def _draft_run(client: httpx.AsyncClient) -> int | None:
    response = await client.post("/api/v1/ranking/runs", json={"year": YEAR})
    if response.status_code != 201:
        raise SetupError(f"POST /ranking/runs: {response.status_code} {response.text[:300]}")
    return int(response.json()["run_id"])


async def prepare(
    gateway: str, city_key: str, auditor_key: str, district_keys: dict[str, str], *, rate: float, seconds: float
) -> World:
    if await asyncio.to_thread(registry_is_empty, gateway, city_key):
        await asyncio.to_thread(seed, gateway, city_key)
    headers = {"Authorization": f"Bearer {city_key}"}
    async with httpx.AsyncClient(base_url=gateway, headers=headers, timeout=60, trust_env=False) as client:
        enterprises = await _pages(client, "/enterprises", 5_000)
        projects = [int(project["id"]) for project in await _pages(client, "/projects", 1_000)]
        clusters = [int(cluster["id"]) for cluster in await _pages(client, "/clusters", 1_000)]
        buildings = [int(building["id"]) for building in await _pages(client, "/buildings", 1_000)]
        if not enterprises or not projects:
            raise SetupError("the registry holds no enterprises or projects to read")
        award_projects = await _event_projects(
            client, enterprises, math.ceil(rate * seconds * AWARD_SHARE * AWARD_MARGIN) + 10
        )
        run_id = await _draft_run(client)
    return World(
        city_key=city_key,
        auditor_key=auditor_key,
        district_keys=district_keys,
        enterprises=enterprises,
        projects=projects,
        clusters=clusters,
        buildings=buildings,
        award_projects=award_projects,
        run_id=run_id,
    )
