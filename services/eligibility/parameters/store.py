"""The parameters a process uses: the parameter files of shared/policy/ plus the amendments in the database,
re-read when stale."""

import asyncio
import time
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.eligibility.parameters import repository
from services.eligibility.parameters.definitions import DatedValue, ParameterDataError, ParameterSet
from services.eligibility.parameters.models import ParameterAmendment
from shared.logging import get_logger

logger = get_logger("eligibility.parameters")


def amendment_values(base: ParameterSet, rows: Sequence[ParameterAmendment]) -> list[tuple[str, DatedValue]]:
    values: list[tuple[str, DatedValue]] = []
    for row in rows:
        definition = base.definitions.get(row.name)
        if definition is None:
            raise ParameterDataError([(row.name, "an amendment names a parameter the parameter files no longer have")])
        values.append(
            (
                row.name,
                DatedValue(
                    effective_from=row.effective_from,
                    value=definition.coerce(row.value),
                    note=row.reason,
                    source="amendment",
                    recorded_at=row.recorded_at,
                    recorded_by=row.recorded_by,
                ),
            )
        )
    return values


class ParameterStore:
    def __init__(
        self, base: ParameterSet, sessionmaker: async_sessionmaker[AsyncSession], refresh_seconds: float
    ) -> None:
        self.base = base
        self.current = base
        self._sessionmaker = sessionmaker
        self._refresh_seconds = refresh_seconds
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    def _stale(self) -> bool:
        return self._loaded_at is None or time.monotonic() - self._loaded_at >= self._refresh_seconds

    def invalidate(self) -> None:
        self._loaded_at = None

    async def get(self) -> ParameterSet:
        if self._stale():
            await self.reload(only_if_stale=True)
        return self.current

    async def reload(self, *, only_if_stale: bool = False) -> None:
        async with self._lock:
            if only_if_stale and not self._stale():
                return
            try:
                async with self._sessionmaker() as session:
                    rows = await repository.list_amendments(session)
                self.current = self.base.with_values(amendment_values(self.base, rows))
            except Exception as exc:
                # The calculator keeps answering with the values it has; the next request tries again.
                logger.exception("parameter amendments could not be read", exc_info=exc)
            self._loaded_at = time.monotonic()
