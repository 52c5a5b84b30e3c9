from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.audit.models import AuditEntry
from shared import bulk
from shared.db import read_dicts

_TABLE = cast(Table, AuditEntry.__table__)
_INSERT_ONE = insert(_TABLE)


async def add_entries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if len(rows) == 1:
        await session.execute(_INSERT_ONE, rows[0])  # one row: a plain INSERT (not the ORM's bulk path)
    else:
        await bulk.insert_rows(session, _TABLE, rows)


_FILTERS = ("entity_type", "entity_id", "district_code")
# Built once for each combination of filters, with the values as parameters: building and hashing a statement
# costs more than running it.
_PAGES: dict[tuple[bool, ...], Any] = {}


def _page_query(present: tuple[bool, ...], before: bool) -> Any:
    key = (*present, before)
    query = _PAGES.get(key)
    if query is None:
        query = select(*_TABLE.c).order_by(_TABLE.c.id.desc()).limit(bindparam("limit"))
        for name, wanted in zip(_FILTERS, present, strict=True):
            if wanted:
                query = query.where(_TABLE.c[name] == bindparam(name))
        if before:
            query = query.where(_TABLE.c.id < bindparam("before_id"))
        _PAGES[key] = query
    return query


async def page(
    session: AsyncSession,
    *,
    entity_type: str | None,
    entity_id: str | None,
    district_code: str | None,
    before_id: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """A page of entries, newest first, as plain values."""
    filters = {"entity_type": entity_type, "entity_id": entity_id, "district_code": district_code}
    parameters: dict[str, Any] = {name: value for name, value in filters.items() if value is not None}
    parameters["limit"] = limit
    if before_id is not None:
        parameters["before_id"] = before_id
    query = _page_query(tuple(filters[name] is not None for name in _FILTERS), before_id is not None)
    return await read_dicts(session, query, parameters)
