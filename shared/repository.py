"""What the repositories share: reading parents with their children, and records kept per district with yearly rows.

Listings are read as plain values (dicts), not ORM objects: a page is serialised straight away, and loading
hundreds of objects into the session would cost more than the query.
"""

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Column, ColumnElement, Select, any_, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, selectinload

ParentT = TypeVar("ParentT")
ChildT = TypeVar("ChildT")


def table_columns(attributes: Sequence[InstrumentedAttribute[Any]]) -> tuple[Column[Any], ...]:
    """The table columns of mapped attributes. A listing is a Core statement of table columns: ORM attributes in a
    statement send it through the ORM's compile step, which costs more than running such a query."""
    return tuple(attribute.property.columns[0] for attribute in attributes)


def among(column: InstrumentedAttribute[Any] | ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """`column = ANY(values)`: one array parameter however many values (an IN list binds one per value, and a
    statement takes at most 32,767)."""
    return column == any_(literal(list(values), ARRAY(column.type)))


async def read_dicts(session: AsyncSession, statement: Select[Any]) -> list[dict[str, Any]]:
    """The rows of a SELECT of columns, each a dict keyed by column key.

    Run on the session's connection (and transaction) as a Core statement: a page of plain values needs none of
    the ORM's execution (autoflush, loading), which costs more than the query itself. So, for reads only: pending
    ORM changes are not flushed first.
    """
    result = await (await session.connection()).execute(statement)
    keys = tuple(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


async def with_children(
    session: AsyncSession,
    parents: Select[Any],
    children: Sequence[ColumnElement[Any]],
    parent_key: ColumnElement[Any],
    order_by: Sequence[ColumnElement[Any]],
    field: str,
) -> list[dict[str, Any]]:
    """The rows `parents` selects (as dicts, the parent's key first), each with the list of its children under
    `field`: the `children` columns of the rows whose `parent_key` is the parent's key, in `order_by` order.

    Two statements rather than a join: joined with a page whose LIMIT is a parameter, the statement gets a generic
    plan from PostgreSQL that reads every parent matching the filters.
    """
    found = await read_dicts(session, parents)
    if not found:
        return found
    first = next(iter(found[0]))
    by_key: dict[Any, dict[str, Any]] = {}
    for parent in found:
        parent[field] = []
        by_key[parent[first]] = parent
    query = select(parent_key.label("parent_key"), *children).where(among(parent_key, list(by_key))).order_by(*order_by)
    for child in await read_dicts(session, query):
        by_key[child.pop("parent_key")][field].append(child)
    return found


class DistrictRecords(Generic[ParentT, ChildT]):
    """A kind of record with an integer `id` and a `district_code`, and yearly rows keyed (`<record>_id`, `year`):
    get one (with its yearly rows loaded), list a district's by id, find one yearly row.

    The domains keep their own writes and checks; this is only the part their repositories had in common.
    """

    def __init__(
        self,
        model: type[ParentT],
        child_model: type[ChildT],
        *,
        children: InstrumentedAttribute[Any],
        columns: Sequence[InstrumentedAttribute[Any]],
        child_key: InstrumentedAttribute[Any],
        child_columns: Sequence[InstrumentedAttribute[Any]],
    ) -> None:
        self.model = model
        self.child_model = child_model
        self.children = children
        self.columns = table_columns(columns)
        (self.child_key,) = table_columns([child_key])
        self.child_columns = table_columns(child_columns)
        # The columns every such model has, by name (the models are the domains').
        self.id: InstrumentedAttribute[int] = getattr(model, "id")  # noqa: B009
        self.id_column, self.district_code, self.year = table_columns(
            [self.id, getattr(model, "district_code"), getattr(child_model, "year")]  # noqa: B009
        )

    def add(self, session: AsyncSession, row: ParentT | ChildT) -> None:
        session.add(row)

    async def get(self, session: AsyncSession, record_id: int, *, for_update: bool = False) -> ParentT | None:
        """The record with its yearly rows, read afresh; with `for_update`, its row locked for the transaction."""
        query = select(self.model).where(self.id == record_id).options(selectinload(self.children))
        if for_update:
            query = query.with_for_update(of=self.model)
        return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()

    async def page(
        self, session: AsyncSession, *, district_code: str | None, after_id: int | None, limit: int
    ) -> list[dict[str, Any]]:
        """A page of records by id (of one district, if given), each a dict with its yearly rows under the
        relationship's name, by year."""
        query = select(*self.columns).order_by(self.id_column).limit(limit)
        if district_code is not None:
            query = query.where(self.district_code == district_code)
        if after_id is not None:
            query = query.where(self.id_column > after_id)
        return await with_children(
            session, query, self.child_columns, self.child_key, (self.child_key, self.year), self.children.key
        )

    async def get_year(self, session: AsyncSession, record_id: int, year: int) -> ChildT | None:
        return await session.get(self.child_model, (record_id, year))
