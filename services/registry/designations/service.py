"""市级领军企业 designations (渝府发〔2024〕18号: 培育领军企业100家): the city designates an enterprise of the registry
in a year under a notice, and may revoke the designation with a reason. One live designation per enterprise. Every
write is audited; a district reads the designations of its own enterprises only (shared.scoping)."""

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.audit.schemas import AuditEntityType
from services.registry.audit.service import Change, record
from services.registry.designations import repository
from services.registry.designations.models import LeadingDesignation
from services.registry.designations.schemas import DesignationCreate, DesignationOut, DesignationPage
from services.registry.problems import DesignationExists
from shared.auth import Principal, Role
from shared.clock import utcnow
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, field_error
from shared.pagination import page_of
from shared.scoping import ensure_readable, listing_district

ENTITY: AuditEntityType = "leading_designation"


def _ensure_city(principal: Principal) -> None:
    # The gateway and the route let only the city through; the service keeps the rule too.
    if principal.role is not Role.CITY:
        raise Forbidden(f"Only the city designates 市级领军企业; the {principal.label} principal may not.")


async def _read(session: AsyncSession, designation_id: int) -> DesignationOut:
    row = await repository.read(session, designation_id)
    if row is None:
        raise NotFound(f"No leading-enterprise designation with id {designation_id}.")
    return DesignationOut.model_validate(row)


def _snapshot(out: DesignationOut) -> dict[str, Any]:
    return out.model_dump(mode="json")


async def create(session: AsyncSession, principal: Principal, data: DesignationCreate, today: date) -> DesignationOut:
    _ensure_city(principal)
    if data.year > today.year:
        raise InvalidInput(
            f"A designation is made in a year that has begun: {data.year} is after {today.year}.",
            errors=[field_error(["body", "year"], f"after the current year {today.year}")],
        )
    enterprise = await repository.lock_enterprise(session, data.uscc)
    if enterprise is None:
        raise InvalidInput(
            f"{data.uscc} is not an enterprise of the registry; register it first.",
            errors=[field_error(["body", "uscc"], "not an enterprise of the registry")],
        )
    live = await repository.live_of(session, data.uscc)
    if live is not None:
        raise DesignationExists(
            f"The enterprise {data.uscc} already has a live designation ({live}); revoke it first.",
            existing_designation_id=live,
        )
    designation = LeadingDesignation(
        uscc=data.uscc,
        year=data.year,
        document=data.document,
        designated_by=principal.label,
        designated_at=utcnow(),
    )
    repository.add(session, designation)
    await session.flush()
    out = await _read(session, designation.id)
    await record(session, principal, [Change("create", ENTITY, str(out.id), out.district_code, None, _snapshot(out))])
    return out


async def revoke(session: AsyncSession, principal: Principal, designation_id: int, reason: str) -> DesignationOut:
    _ensure_city(principal)
    designation = await repository.get(session, designation_id, for_update=True)
    if designation is None:
        raise NotFound(f"No leading-enterprise designation with id {designation_id}.")
    before = await _read(session, designation_id)
    if designation.revoked_at is not None:
        raise Conflict(f"The designation {designation_id} was revoked already.")
    designation.revoked_at = utcnow()
    designation.revoked_by = principal.label
    designation.revocation_reason = reason
    await session.flush()
    out = await _read(session, designation_id)
    await record(
        session,
        principal,
        [Change("revoke", ENTITY, str(designation_id), out.district_code, _snapshot(before), _snapshot(out))],
    )
    return out


async def read(session: AsyncSession, principal: Principal, designation_id: int) -> DesignationOut:
    out = await _read(session, designation_id)
    ensure_readable(principal, out.district_code)
    return out


async def list_page(
    session: AsyncSession,
    principal: Principal,
    *,
    year: int | None,
    district_code: str | None,
    sector: str | None,
    after_id: int | None,
    limit: int,
) -> DesignationPage:
    rows = await repository.page(
        session,
        year=year,
        district_code=listing_district(principal, district_code),
        sector=sector,
        after_id=after_id,
        limit=limit + 1,
    )
    return DesignationPage.model_validate(page_of(rows, limit, lambda row: row["id"]))
