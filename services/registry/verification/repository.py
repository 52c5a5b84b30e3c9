"""Every query on the verification state of the six kinds of record that carry one."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    FromClause,
    String,
    Table,
    bindparam,
    literal_column,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.buildings.models import Building, BuildingYear
from services.registry.clusters.models import Cluster, ClusterEvaluation, ClusterYear
from services.registry.db import utcnow
from services.registry.enterprises.models import Enterprise, EnterpriseYear
from services.registry.projects.models import Project
from services.registry.verification.schemas import FLAT_KEYS
from shared.repository import read_dicts


@dataclass(frozen=True)
class Kind:
    """One kind of verified record: its table, its key columns, where its district is, its id as text, and (for
    yearly figures) the figures its verification covers, which a decision's state carries for the event."""

    table: Table
    keys: tuple[str, ...]
    source: FromClause
    district: ColumnElement[Any]
    id_text: ColumnElement[Any]
    figures: tuple[str, ...] = ()


def _table(model: type) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


_SLASH = literal_column("'/'", String)
_EY, _CE, _B, _BY, _P = (_table(m) for m in (EnterpriseYear, ClusterEvaluation, Building, BuildingYear, Project))
_C = _table(Cluster)
_CY = _table(ClusterYear)

KINDS: dict[str, Kind] = {
    "enterprise_year": Kind(
        _EY,
        ("uscc", "year"),
        _EY,
        _EY.c.district_code,
        _EY.c.uscc + _SLASH + _EY.c.year.cast(String),
        ("revenue_yuan", "employees", "above_scale", "top500_service"),
    ),
    "cluster_evaluation": Kind(
        _CE,
        ("cluster_id", "year"),
        _CE.join(_C, _C.c.id == _CE.c.cluster_id),
        _C.c.district_code,
        _CE.c.cluster_id.cast(String) + _SLASH + _CE.c.year.cast(String),
    ),
    "cluster_year": Kind(
        _CY,
        ("cluster_id", "year"),
        _CY.join(_C, _C.c.id == _CY.c.cluster_id),
        _C.c.district_code,
        _CY.c.cluster_id.cast(String) + _SLASH + _CY.c.year.cast(String),
        ("revenue_yuan",),
    ),
    "building": Kind(_B, ("id",), _B, _B.c.district_code, _B.c.id.cast(String)),
    "building_year": Kind(
        _BY,
        ("building_id", "year"),
        _BY.join(_B, _B.c.id == _BY.c.building_id),
        _B.c.district_code,
        _BY.c.building_id.cast(String) + _SLASH + _BY.c.year.cast(String),
        ("revenue_yuan",),
    ),
    "project": Kind(_P, ("id",), _P, _P.c.district_code, _P.c.id.cast(String)),
}


def _key_clause(kind: Kind) -> ColumnElement[bool]:
    clause: ColumnElement[bool] = kind.table.c[kind.keys[0]] == bindparam("k0")
    for index, name in enumerate(kind.keys[1:], start=1):
        clause = clause & (kind.table.c[name] == bindparam(f"k{index}"))
    return clause


_STATE = {
    name: select(
        kind.district.label("district_code"),
        *(kind.table.c[flat] for flat in FLAT_KEYS),
        *(kind.table.c[figure] for figure in kind.figures),
    )
    .select_from(kind.source)
    .where(_key_clause(kind))
    .with_for_update(of=kind.table)
    for name, kind in KINDS.items()
}
_SET = {
    name: update(kind.table).where(_key_clause(kind)).values({flat: bindparam(f"v_{flat}") for flat in FLAT_KEYS})
    for name, kind in KINDS.items()
}
_BUMP_ENTERPRISE = (
    update(Enterprise)
    .where(Enterprise.uscc == bindparam("the_uscc"))
    .values(version=Enterprise.version + 1, updated_at=bindparam("the_now"))
)


def _key_parameters(key: Sequence[Any]) -> dict[str, Any]:
    return {f"k{index}": value for index, value in enumerate(key)}


async def lock_state(session: AsyncSession, kind: str, key: Sequence[Any]) -> dict[str, Any] | None:
    """The record's district, verification columns and figures (yearly figures only), locked for the transaction;
    None if there is no record."""
    row = (await session.execute(_STATE[kind], _key_parameters(key))).mappings().first()
    return dict(row) if row is not None else None


async def set_state(session: AsyncSession, kind: str, key: Sequence[Any], values: dict[str, Any]) -> None:
    parameters = _key_parameters(key) | {f"v_{flat}": values[flat] for flat in FLAT_KEYS}
    await session.execute(_SET[kind], parameters)
    if kind == "enterprise_year":  # the enterprise's ETag covers its yearly figures
        await session.execute(_BUMP_ENTERPRISE, {"the_uscc": key[0], "the_now": utcnow()})


# ---- the queue ----------------------------------------------------------------------------------------------------

_QUEUE = union_all(
    *(
        select(
            literal_column(f"'{name}'", String).label("record"),
            kind.id_text.label("id"),
            kind.district.label("district_code"),
            *(kind.table.c[flat] for flat in FLAT_KEYS),
        ).select_from(kind.source)
        for name, kind in KINDS.items()
    )
).subquery("queue")


async def queue_page(
    session: AsyncSession,
    *,
    status: str,
    record: str | None,
    district_code: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    query = (
        select(*_QUEUE.c)
        .where(_QUEUE.c.verification_status == status)
        .order_by(_QUEUE.c.record, _QUEUE.c.id)
        .limit(limit)
    )
    if record is not None:
        query = query.where(_QUEUE.c.record == record)
    if district_code is not None:
        query = query.where(_QUEUE.c.district_code == district_code)
    if after is not None:
        query = query.where(tuple_(_QUEUE.c.record, _QUEUE.c.id) > tuple_(*after))
    return await read_dicts(session, query)
