"""The award workflow as data (pure): which action leads from which status to which, and what the notice allows.

proposed → approved → publicised (公示) → paid; an objection lodged within the notice window sends a publicised
award back to proposed for review; rejected and withdrawn from any open state. Superseded is set by the ledger,
never by an action. The notice window runs in official working days (services.eligibility.calendar).
"""

from dataclasses import dataclass
from datetime import date
from typing import Literal

from typing_extensions import TypeAliasType

from shared.events import EventType

AwardAction = TypeAliasType("AwardAction", Literal["approve", "publicise", "object", "pay", "reject", "withdraw"])
ACTIONS: tuple[AwardAction, ...] = ("approve", "publicise", "object", "pay", "reject", "withdraw")
OPEN_STATUSES = ("proposed", "approved", "publicised")


@dataclass(frozen=True, slots=True)
class Step:
    sources: tuple[str, ...]
    target: str
    reason_required: bool


STEPS: dict[AwardAction, Step] = {
    "approve": Step(("proposed",), "approved", False),
    "publicise": Step(("approved",), "publicised", False),
    "object": Step(("publicised",), "proposed", True),
    "pay": Step(("publicised",), "paid", False),
    "reject": Step(OPEN_STATUSES, "rejected", True),
    "withdraw": Step(OPEN_STATUSES, "withdrawn", True),
}

# The domain event each action records (shared.events); a proposal records award.proposed, and the award it
# supersedes award.superseded.
ACTION_EVENTS: dict[AwardAction, EventType] = {
    "approve": EventType.AWARD_APPROVED,
    "publicise": EventType.AWARD_PUBLICISED,
    "object": EventType.AWARD_OBJECTED,
    "pay": EventType.AWARD_PAID,
    "reject": EventType.AWARD_REJECTED,
    "withdraw": EventType.AWARD_WITHDRAWN,
}


def allowed_actions(status: str, notice_ends_on: date | None, today: date) -> list[AwardAction]:
    """The actions that would be accepted today: inside the notice window an objection, after it the payment."""
    allowed: list[AwardAction] = []
    for action in ACTIONS:
        if status not in STEPS[action].sources:
            continue
        if action == "object" and (notice_ends_on is None or today > notice_ends_on):
            continue
        if action == "pay" and (notice_ends_on is None or today <= notice_ends_on):
            continue
        allowed.append(action)
    return allowed
