from pydantic import BaseModel, Field

from shared.events import Event


class EventPage(BaseModel):
    items: list[Event] = Field(description="Events in the order this service received them")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the events after these. Unlike other listings, a feed's last page also "
        "has one: keep it and ask again later for the events that arrived since."
    )
