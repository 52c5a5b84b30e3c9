"""The clocks: today's date in China's time zone (Asia/Shanghai), the one every policy date is read in, and the
UTC time every record is stamped with.

Dates that decide money (a notice's first day, whether a year has ended) are read from the service's Clock only
(`ClockDep`), never from a caller nor from another service's copy. Tests hold it at a date:
`app.state.clock.hold(date(2025, 9, 30))`, or `<PREFIX>_TODAY` for a process (refused in production).
"""

from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

CHINA = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """The time a record is written (created_at, an audit entry, a decision), in UTC."""
    return datetime.now(UTC)


class Clock:
    def __init__(self, held: date | None = None) -> None:
        self._held = held

    def hold(self, day: date | None) -> None:
        """Stop the clock at `day` (None: run with the real time again)."""
        self._held = day

    def now(self) -> datetime:
        return datetime.now(CHINA)

    def today(self) -> date:
        return self._held if self._held is not None else self.now().date()


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]
