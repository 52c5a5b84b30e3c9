"""The relay: the producers' outbox feeds pulled into this service's events, and a delivery per matching
subscription, all in one transaction per batch.

Per source, a batch claims the source (a transaction-scoped advisory lock, skipped when another replica holds it:
replicas of the worker share the sources and never relay one batch twice; see relay.repository.claim for why not
the row's FOR UPDATE), reads the feed after the cursor (signed as the service), stores the
events not stored yet (an event's id is its identity: a batch read again after a crash stores nothing twice),
makes a delivery per live subscription that asks for it — queued as a job, or held while the subscription is
paused — and advances the cursor; then commits. A crash anywhere before the commit leaves the cursor where it was,
so the next batch reads the same events again: none is lost, none delivered twice by this service.
"""

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.deliveries import service as delivering
from services.notifications.events import repository as events
from services.notifications.events.models import StoredEvent
from services.notifications.relay import repository
from services.notifications.subscriptions import repository as subscriptions
from shared.clock import utcnow
from shared.events import Event, EventType
from shared.http import ServiceClient, UpstreamUnavailable
from shared.logging import get_logger

logger = get_logger("services.notifications.relay")
FEED_PATH = "/outbox/events"


def _rows(source: str, items: list[Any]) -> list[dict[str, Any]]:
    """The feed's items as rows of `events`; an item this version cannot read is logged and left out (a relay that
    stopped at it would hold back every later event of the source)."""
    rows: dict[Any, dict[str, Any]] = {}
    now = utcnow()
    for item in items:
        try:
            event = Event.model_validate(item)
        except ValidationError as error:
            identity = item.get("id") if isinstance(item, dict) else None
            logger.error("unreadable event skipped", source=source, event_id=identity, errors=error.error_count())
            continue
        if event.type is EventType.WEBHOOK_PING or event.id in rows:  # a ping is never a producer's; a repeat
            continue
        rows[event.id] = {
            "id": event.id,
            "source": event.source.value,
            "type": event.type.value,
            "occurred_at": event.occurred_at,
            "district_code": event.district_code,
            "subject": event.subject,
            "data": event.data.model_dump(mode="json", by_alias=True, exclude_none=True),
            "received_at": now,
        }
    return list(rows.values())


async def fan_out(session: AsyncSession, event: StoredEvent) -> int:
    """A delivery of the event per live subscription that asks for it; how many."""
    made = 0
    for subscription in await subscriptions.matching(session, event.type, event.district_code):
        if delivering.passes_filters(subscription, event):
            await delivering.deliver(session, subscription, event)
            made += 1
    return made


async def relay_batch(
    sessions: async_sessionmaker[AsyncSession], source: str, client: ServiceClient, limit: int
) -> int:
    """One batch of one source; how many events the feed gave (0: drained, or another relay holds the source)."""
    async with sessions.begin() as session:
        cursor = await repository.claim(session, source)
        if cursor is None:
            return 0
        params: dict[str, str | int] = {"limit": limit}
        if cursor.cursor:
            params["after"] = cursor.cursor
        page = await client.get(FEED_PATH, params)
        if not isinstance(page, dict) or not isinstance(page.get("items"), list) or not page.get("cursor"):
            raise UpstreamUnavailable(f"The {source} service has no outbox feed at {FEED_PATH}.", upstream=source)
        items: list[Any] = page["items"]
        rows = _rows(source, items)
        stored = set(await events.insert_new(session, rows))
        deliveries = 0
        for row in rows:
            if row["id"] in stored:
                deliveries += await fan_out(session, StoredEvent(**row))
        cursor.cursor = str(page["cursor"])
        cursor.relayed += len(stored)
        cursor.updated_at = utcnow()
    if items:
        logger.info("relayed", source=source, events=len(stored), deliveries=deliveries)
    return len(items)


# A source whose batch failed is left alone a while, doubling up to this (seconds), so that a producer that is down
# costs a warning now and then rather than one every poll.
MAX_BACKOFF_SECONDS = 30.0


@dataclass
class Backoff:
    """When each failing source is tried again, and how long it waited last."""

    until: dict[str, float] = field(default_factory=dict)
    waits: dict[str, float] = field(default_factory=dict)

    def ready(self, source: str) -> bool:
        return time.monotonic() >= self.until.get(source, 0.0)

    def failed(self, source: str, first_wait: float) -> float:
        wait = min(self.waits.get(source, first_wait / 2) * 2, MAX_BACKOFF_SECONDS)
        self.waits[source] = wait
        self.until[source] = time.monotonic() + wait
        return wait

    def succeeded(self, source: str) -> None:
        self.until.pop(source, None)
        self.waits.pop(source, None)


async def relay_round(
    sessions: async_sessionmaker[AsyncSession],
    sources: Mapping[str, ServiceClient],
    limit: int,
    backoff: Backoff | None = None,
    first_wait: float = 0.5,
) -> bool:
    """A batch of every source (but those waiting after a failure); whether any gave a full batch (more waits)."""
    backoff = backoff if backoff is not None else Backoff()
    more = False
    for source, client in sources.items():
        if not backoff.ready(source):
            continue
        try:
            more |= await relay_batch(sessions, source, client, limit) >= limit
        except UpstreamUnavailable as error:
            wait = backoff.failed(source, first_wait)
            logger.warning("outbox feed unavailable", source=source, problem=str(error), retry_in_seconds=wait)
        except Exception:
            wait = backoff.failed(source, first_wait)
            logger.exception("relay batch failed", source=source, retry_in_seconds=wait)
        else:
            backoff.succeeded(source)
    return more


async def prepare(sessions: async_sessionmaker[AsyncSession], sources: Mapping[str, ServiceClient]) -> None:
    async with sessions.begin() as session:
        for source in sources:
            await repository.ensure(session, source)


async def run(
    sessions: async_sessionmaker[AsyncSession],
    sources: Mapping[str, ServiceClient],
    *,
    limit: int,
    poll_seconds: float,
) -> None:
    """The relay loop of the worker: a round, then a pause of `poll_seconds` unless a source had more."""
    while True:
        try:
            await prepare(sessions, sources)
            break
        except Exception:
            logger.exception("relay cannot start: the database is away?")
            await asyncio.sleep(max(poll_seconds, 1.0))
    backoff = Backoff()
    while True:
        if not await relay_round(sessions, sources, limit, backoff, first_wait=poll_seconds):
            await asyncio.sleep(poll_seconds)
