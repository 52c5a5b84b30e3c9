from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from services.notifications.events import service
from services.notifications.events.schemas import EventPage
from shared.auth import Principal, Role, require_roles
from shared.db import SessionDep
from shared.events import EventType
from shared.identifiers import DistrictCode
from shared.openapi import problems
from shared.pagination import DEFAULT_LIMIT, MAX_ID, LimitQuery, cursor_after

router = APIRouter(prefix="/events", tags=["events"])

ReaderDep = Annotated[Principal, require_roles(Role.CITY, Role.DISTRICT, Role.AUDITOR)]
# (txid, seq) of the last event read, each within its bigint column.
Position = tuple[Annotated[int, Field(ge=0, le=MAX_ID)], Annotated[int, Field(ge=1, le=MAX_ID)]]
AfterPosition = Annotated[Position | None, Depends(cursor_after(Position))]


@router.get(
    "",
    response_model=EventPage,
    operation_id="listEvents",
    summary="The events you may see, as a pull feed",
    description="The same events the webhooks deliver (the same `Event` body), in the order this service received "
    "them: per subject, in the order they happened. A district key sees its own district's events and those that "
    "concern no one district; the city and the auditor see every one (or one district's, with `district_code`). "
    "Start without `cursor`, then pass `next_cursor`: the last page has one too, to ask again later for what "
    "arrived since (an event appears only once the transactions before it have committed, so none is skipped).",
    responses=problems(
        {
            403: "A district key asked for another district's events, or the key may not read events.",
            422: "`limit`, `type`, `district_code` or `cursor` is invalid.",
        }
    ),
)
async def list_events(
    session: SessionDep,
    principal: ReaderDep,
    after: AfterPosition,
    district_code: DistrictCode | None = None,
    type: Annotated[list[EventType] | None, Query(description="Only events of these types")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> EventPage:
    return await service.feed(session, principal, district_code, type, after, limit)
