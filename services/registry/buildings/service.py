"""Star buildings (星级楼宇) and their yearly revenue, which decides M05."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.audit.service import Change, record
from services.registry.buildings import repository
from services.registry.buildings.models import Building, BuildingYear
from services.registry.buildings.schemas import (
    BuildingCreate,
    BuildingOut,
    BuildingPage,
    BuildingYearIn,
    BuildingYearOut,
)
from services.registry.verification.service import apply_written_by, written_by
from shared.auth import Principal
from shared.clock import utcnow
from shared.errors import NotFound
from shared.pagination import page_of
from shared.scoping import ensure_readable, ensure_writable, listing_district


async def _load(session: AsyncSession, building_id: int, *, for_update: bool = False) -> Building:
    building = await repository.get(session, building_id, for_update=for_update)
    if building is None:
        raise NotFound(f"No building with id {building_id}.")
    return building


async def create(session: AsyncSession, principal: Principal, data: BuildingCreate) -> BuildingOut:
    ensure_writable(principal, data.district_code)
    building = Building(**data.model_dump(), **written_by(principal, utcnow()), years=[])
    repository.add(session, building)
    await session.flush()
    out = BuildingOut.model_validate(building)
    await record(
        session,
        principal,
        [Change("create", "building", str(building.id), building.district_code, None, out.model_dump(mode="json"))],
    )
    return out


async def read(session: AsyncSession, principal: Principal, building_id: int) -> BuildingOut:
    building = await _load(session, building_id)
    ensure_readable(principal, building.district_code)
    return BuildingOut.model_validate(building)


async def list_page(
    session: AsyncSession, principal: Principal, *, district_code: str | None, after_id: int | None, limit: int
) -> BuildingPage:
    rows = await repository.page(
        session,
        district_code=listing_district(principal, district_code),
        after_id=after_id,
        limit=limit + 1,
    )
    # One validation of the whole page runs in pydantic's core, far faster than a model per row.
    return BuildingPage.model_validate(page_of(rows, limit, lambda row: row["id"]))


async def put_year(
    session: AsyncSession, principal: Principal, building_id: int, year: int, data: BuildingYearIn
) -> tuple[BuildingYearOut, bool]:
    building = await _load(session, building_id, for_update=True)
    ensure_writable(principal, building.district_code)
    existing = await repository.get_year(session, building_id, year)
    before = BuildingYearOut.model_validate(existing).model_dump(mode="json") if existing else None
    now = utcnow()
    if existing is None:
        existing = BuildingYear(
            building_id=building_id, year=year, revenue_yuan=data.revenue_yuan, **written_by(principal, now)
        )
        repository.add(session, existing)
    elif existing.revenue_yuan == data.revenue_yuan:
        return BuildingYearOut.model_validate(existing), False
    else:
        existing.revenue_yuan = data.revenue_yuan
        apply_written_by(existing, principal, now)
    await session.flush()
    out = BuildingYearOut.model_validate(existing)
    after = out.model_dump(mode="json")
    await record(
        session,
        principal,
        [Change("upsert", "building_year", f"{building_id}/{year}", building.district_code, before, after)],
    )
    return out, before is None
