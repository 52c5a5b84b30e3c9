"""Helpers of the eligibility jobs' tests."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text


async def rows(app: FastAPI, table: str) -> int:
    async with app.state.engine.connect() as connection:
        return int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def outbox(app: FastAPI) -> list[dict[str, Any]]:
    """The eligibility service's recorded events, in order."""
    async with app.state.engine.connect() as connection:
        result = await connection.execute(
            text("SELECT type, district_code, subject, data FROM outbox_events ORDER BY seq")
        )
        return [dict(row._mapping) for row in result]


async def wait_for(read: Callable[[], Awaitable[int]], at_least: int, within: float = 30.0) -> int:
    """Poll `read` until it gives `at_least` (or the time is up): its last value."""
    deadline = asyncio.get_running_loop().time() + within
    value = await read()
    while value < at_least and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
        value = await read()
    return value
