"""The award workflow as data (pure): which action leads from which status to which, and the notice window.

proposed → approved → publicised (公示) → paid; an objection lodged within the notice window sends a publicised
award back to proposed for review; rejected and withdrawn from any open state. Superseded is set by the ledger,
never by an action.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Action = Literal["approve", "publicise", "object", "pay", "reject", "withdraw"]
ACTIONS: tuple[Action, ...] = ("approve", "publicise", "object", "pay", "reject", "withdraw")
OPEN_STATUSES = ("proposed", "approved", "publicised")


@dataclass(frozen=True, slots=True)
class Step:
    sources: tuple[str, ...]
    target: str
    reason_required: bool


STEPS: dict[Action, Step] = {
    "approve": Step(("proposed",), "approved", False),
    "publicise": Step(("approved",), "publicised", False),
    "object": Step(("publicised",), "proposed", True),
    "pay": Step(("publicised",), "paid", False),
    "reject": Step(OPEN_STATUSES, "rejected", True),
    "withdraw": Step(OPEN_STATUSES, "withdrawn", True),
}


def allowed_actions(status: str) -> list[Action]:
    return [action for action in ACTIONS if status in STEPS[action].sources]


def add_working_days(start: date, days: int) -> date:
    """The `days`-th working day (Monday to Friday) after `start`; `start` itself does not count."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current
