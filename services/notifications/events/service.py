"""The pull feed: the events a caller may see, in the order this service received them, for a system that would
rather poll than receive webhooks. A district key sees its own district's events and those of no district; the
city and the auditor see every one. Pings are not events of the system and are never listed."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.events import repository
from services.notifications.events.models import StoredEvent
from services.notifications.events.schemas import EventPage
from shared.auth import Principal
from shared.events import Event, EventType
from shared.pagination import encode_cursor
from shared.scoping import listing_district


def wire(event: StoredEvent) -> Event:
    return Event.model_validate(
        {
            "id": event.id,
            "type": event.type,
            "occurred_at": event.occurred_at,
            "source": event.source,
            "district_code": event.district_code,
            "subject": event.subject,
            "data": event.data,
        }
    )


async def feed(
    session: AsyncSession,
    principal: Principal,
    district_code: str | None,
    types: Sequence[EventType] | None,
    after: tuple[int, int] | None,
    limit: int,
) -> EventPage:
    district = listing_district(principal, district_code)
    rows = await repository.feed_page(session, district, [t.value for t in types or ()], after, limit)
    page = rows[:limit]
    # The cursor after the last event shown (or the one given): the feed is read again from there later.
    position = [page[-1].txid, page[-1].seq] if page else (list(after) if after is not None else None)
    return EventPage(
        items=[wire(row) for row in page], next_cursor=None if position is None else encode_cursor(position)
    )
