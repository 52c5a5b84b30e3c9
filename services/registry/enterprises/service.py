"""Enterprises: create, read, change, yearly figures and bulk import, with district scoping and audit."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.audit.service import Change, record
from services.registry.db import utcnow
from services.registry.enterprises import repository
from services.registry.enterprises.models import Enterprise, EnterpriseYear
from services.registry.enterprises.schemas import (
    EnterpriseCreate,
    EnterpriseOut,
    EnterprisePage,
    EnterprisePatch,
    ImportReport,
    ImportRow,
    RejectedRow,
    RowError,
    YearFigures,
    YearFiguresOut,
)
from services.registry.scoping import cursor_key, ensure_readable, ensure_writable, listing_district, next_cursor
from shared.auth import Principal
from shared.errors import Conflict, InvalidInput, NotFound, PreconditionFailed, clean_message, storable_text

ENTERPRISE_FIELDS = ("name", "district_code", "sector", "established_on", "spun_off_from_manufacturer")
YEAR_FIELDS = ("revenue_yuan", "employees", "above_scale", "top500_service")


def etag(version: int) -> str:
    return f'"{version}"'


def _if_match_allows(if_match: str | None, version: int) -> bool:
    if if_match is None:
        return True
    tags = [tag.strip() for tag in if_match.split(",")]
    return "*" in tags or etag(version) in tags


def _snapshot(enterprise: Enterprise) -> dict[str, Any]:
    return EnterpriseOut.model_validate(enterprise).model_dump(mode="json", exclude={"created_at", "updated_at"})


async def _load(session: AsyncSession, uscc: str, *, for_update: bool = False) -> Enterprise:
    enterprise = await repository.get(session, uscc, for_update=for_update)
    if enterprise is None:
        raise NotFound(f"No enterprise with credit code {uscc}.")
    return enterprise


async def create(session: AsyncSession, principal: Principal, data: EnterpriseCreate) -> EnterpriseOut:
    ensure_writable(principal, data.district_code)
    if await repository.exists(session, data.uscc):
        raise Conflict(f"An enterprise with credit code {data.uscc} already exists.", uscc=data.uscc)
    now = utcnow()
    values = {**data.model_dump(), "version": 1, "created_at": now, "updated_at": now}
    await repository.insert_one(session, values)
    out = EnterpriseOut.model_validate({**values, "years": []})
    after = out.model_dump(mode="json", exclude={"created_at", "updated_at"})
    await record(session, principal, [Change("create", "enterprise", data.uscc, data.district_code, None, after)])
    return out


async def read(session: AsyncSession, principal: Principal, uscc: str) -> EnterpriseOut:
    enterprise = await repository.read(session, uscc)
    if enterprise is None:
        raise NotFound(f"No enterprise with credit code {uscc}.")
    ensure_readable(principal, enterprise["district_code"])
    return EnterpriseOut.model_validate(enterprise)


async def list_page(
    session: AsyncSession,
    principal: Principal,
    *,
    district_code: str | None,
    sector: str | None,
    name_contains: str | None,
    cursor: str | None,
    limit: int,
) -> EnterprisePage:
    district_code = listing_district(principal, district_code)
    after = cursor_key(cursor, str)
    rows = await repository.page(
        session,
        district_code=district_code,
        sector=sector,
        name_contains=name_contains,
        after_uscc=after,
        limit=limit + 1,
    )
    # One validation of the whole page runs in pydantic's core, far faster than a model per row.
    return EnterprisePage.model_validate(
        {"items": rows[:limit], "next_cursor": next_cursor(rows, limit, lambda row: row["uscc"])}
    )


async def update(
    session: AsyncSession, principal: Principal, uscc: str, patch: EnterprisePatch, if_match: str | None
) -> EnterpriseOut:
    enterprise = await _load(session, uscc, for_update=True)
    ensure_writable(principal, enterprise.district_code)
    if not _if_match_allows(if_match, enterprise.version):
        raise PreconditionFailed(
            f"The enterprise has changed: its ETag is {etag(enterprise.version)}, the request expected {if_match}."
        )
    changes = {
        name: value
        for name, value in patch.model_dump(exclude_unset=True).items()
        if getattr(enterprise, name) != value
    }
    if "district_code" in changes:
        ensure_writable(principal, changes["district_code"])
    if not changes:
        return EnterpriseOut.model_validate(enterprise)
    before = _snapshot(enterprise)
    if not await repository.update_fields(session, uscc, enterprise.version, changes):
        raise PreconditionFailed("The enterprise was changed by another request; read it again and retry.")
    await session.refresh(enterprise, attribute_names=[*changes, "version", "updated_at"])
    after = _snapshot(enterprise)
    await record(session, principal, [Change("update", "enterprise", uscc, enterprise.district_code, before, after)])
    return EnterpriseOut.model_validate(enterprise)


async def put_year(
    session: AsyncSession, principal: Principal, uscc: str, year: int, figures: YearFigures
) -> tuple[YearFiguresOut, bool, int]:
    """Create or replace one year's figures; returns them, whether they were created, and the new ETag version."""
    enterprise = await _load(session, uscc, for_update=True)
    ensure_writable(principal, enterprise.district_code)
    existing = await repository.get_year(session, uscc, year)
    values = figures.model_dump()
    if existing is not None:
        before = YearFiguresOut.model_validate(existing).model_dump(mode="json")
        if all(getattr(existing, name) == value for name, value in values.items()):
            return YearFiguresOut.model_validate(existing), False, enterprise.version
        for name, value in values.items():
            setattr(existing, name, value)
        row = existing
    else:
        before = None
        row = EnterpriseYear(uscc=uscc, year=year, **values, updated_at=utcnow())
        repository.add_year(session, row)
    await session.flush()
    if not await repository.update_fields(session, uscc, enterprise.version, {}):
        raise PreconditionFailed("The enterprise was changed by another request; retry.")
    out = YearFiguresOut.model_validate(row)
    await record(
        session,
        principal,
        [
            Change(
                "upsert",
                "enterprise_year",
                f"{uscc}/{year}",
                enterprise.district_code,
                before,
                out.model_dump(mode="json"),
            )
        ],
    )
    return out, before is None, enterprise.version + 1


# ---- bulk import -------------------------------------------------------------------------------------------

# One year's figures as plain values, in YEAR_FIELDS order: cheap to compare and to write for 100,000 rows.
Figures = tuple[Decimal, int, bool, bool]


@dataclass(slots=True)
class _Plan:
    """What an import asks for, after validation, before anything is read or written."""

    enterprises: dict[str, ImportRow] = field(default_factory=dict)
    years: dict[str, dict[int, Figures]] = field(default_factory=dict)
    first_row: dict[str, int] = field(default_factory=dict)


def _row_errors(exc: ValidationError) -> list[RowError]:
    return [
        RowError(loc=[storable_text(str(part)) for part in err["loc"]] or ["row"], msg=clean_message(err["msg"]))
        for err in exc.errors()
    ]


def _validate_rows(raw_rows: Sequence[Any], rejected: list[RejectedRow]) -> list[tuple[int, ImportRow]]:
    valid: list[tuple[int, ImportRow]] = []
    for number, raw in enumerate(raw_rows, start=1):
        try:
            valid.append((number, ImportRow.model_validate(raw)))
        except ValidationError as exc:
            candidate = raw.get("uscc") if isinstance(raw, dict) else None
            uscc = storable_text(candidate[:32]) if isinstance(candidate, str) else None
            rejected.append(RejectedRow(row=number, uscc=uscc, errors=_row_errors(exc)))
    return valid


def _row_problem(principal: Principal, plan: _Plan, row: ImportRow) -> RowError | None:
    if not principal.may_write_district(row.district_code):
        return RowError(
            loc=["district_code"], msg=f"the {principal.label} principal may not write district {row.district_code}"
        )
    first = plan.enterprises.get(row.uscc)
    if first is not None:
        differing = [name for name in ENTERPRISE_FIELDS if getattr(first, name) != getattr(row, name)]
        if differing:
            return RowError(
                loc=[differing[0]],
                msg=f"conflicts with row {plan.first_row[row.uscc]} for the same enterprise ({', '.join(differing)})",
            )
    if row.year is not None and row.year in plan.years.get(row.uscc, {}):
        return RowError(loc=["year"], msg=f"the figures of {row.uscc} for {row.year} appear more than once")
    return None


def _plan(principal: Principal, rows: list[tuple[int, ImportRow]], rejected: list[RejectedRow]) -> _Plan:
    plan = _Plan()
    for number, row in rows:
        problem = _row_problem(principal, plan, row)
        if problem is not None:
            rejected.append(RejectedRow(row=number, uscc=row.uscc, errors=[problem]))
            continue
        if row.uscc not in plan.enterprises:
            plan.enterprises[row.uscc] = row
            plan.first_row[row.uscc] = number
            plan.years[row.uscc] = {}
        if row.year is not None:
            plan.years[row.uscc][row.year] = (
                row.revenue_yuan or Decimal("0.00"),
                row.employees or 0,
                bool(row.above_scale),
                bool(row.top500_service),
            )
    return plan


def _enterprise_json(uscc: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "uscc": uscc,
        **{name: fields[name] for name in ENTERPRISE_FIELDS},
        "established_on": fields["established_on"].isoformat(),
    }


def _figures_json(figures: Figures) -> dict[str, Any]:
    revenue, employees, above_scale, top500_service = figures
    return {
        "revenue_yuan": f"{revenue:.2f}",
        "employees": employees,
        "above_scale": above_scale,
        "top500_service": top500_service,
    }


async def import_rows(
    session: AsyncSession, principal: Principal, raw_rows: Sequence[Any], *, atomic: bool
) -> ImportReport:
    """Create or update enterprises and their figures; invalid rows are reported, or with `atomic` refuse all."""
    rejected: list[RejectedRow] = []
    plan = _plan(principal, _validate_rows(raw_rows, rejected), rejected)

    years = sorted({year for figures in plan.years.values() for year in figures})
    existing, stored_years = await repository.existing_for_import(session, sorted(plan.enterprises), years)
    # A district may not take over another district's enterprise by importing it under its own code.
    for uscc, stored in existing.items():
        if not principal.may_write_district(stored["district_code"]):
            message = f"this enterprise belongs to district {stored['district_code']}"
            rejected.append(
                RejectedRow(row=plan.first_row[uscc], uscc=uscc, errors=[RowError(loc=["uscc"], msg=message)])
            )
            del plan.enterprises[uscc]
    rejected.sort(key=lambda item: item.row)
    if atomic and rejected:
        raise InvalidInput(
            f"{len(rejected)} of {len(raw_rows)} rows are invalid; with atomic=true nothing was written.",
            errors=[
                {"loc": ["body", item.row, *error.loc], "msg": error.msg} for item in rejected for error in item.errors
            ],
            rejected=[item.model_dump() for item in rejected],
        )

    now = utcnow()
    new_enterprises: list[dict[str, Any]] = []
    changed_enterprises: list[dict[str, Any]] = []
    new_years: list[dict[str, Any]] = []
    changed_years: list[dict[str, Any]] = []
    changes: list[Change] = []

    for uscc, row in plan.enterprises.items():
        fields = {name: getattr(row, name) for name in ENTERPRISE_FIELDS}
        years_before: dict[str, Any] = {}
        years_after: dict[str, Any] = {}
        for year, figures in plan.years[uscc].items():
            old = stored_years.get((uscc, year))
            values = dict(zip(YEAR_FIELDS, figures, strict=True))
            if old is None:
                new_years.append({"uscc": uscc, "year": year, **values, "updated_at": now})
            elif tuple(old[name] for name in YEAR_FIELDS) != figures:
                changed_years.append({"uscc": uscc, "year": year, **values, "updated_at": now})
                years_before[str(year)] = _figures_json(tuple(old[name] for name in YEAR_FIELDS))
            else:
                continue
            years_after[str(year)] = _figures_json(figures)
        current = existing.get(uscc)
        if current is None:
            new_enterprises.append({"uscc": uscc, **fields, "version": 1, "created_at": now, "updated_at": now})
            after = {**_enterprise_json(uscc, fields), "years": years_after}
            changes.append(Change("import", "enterprise", uscc, row.district_code, None, after))
        elif years_after or any(current[name] != fields[name] for name in ENTERPRISE_FIELDS):
            changed_enterprises.append({"uscc": uscc, **fields, "version": current["version"] + 1, "updated_at": now})
            before = {**_enterprise_json(uscc, current), "years": years_before}
            after = {**_enterprise_json(uscc, fields), "years": years_after}
            changes.append(Change("import", "enterprise", uscc, row.district_code, before, after))

    await repository.insert_enterprises(session, new_enterprises)
    if not await repository.update_enterprises(session, changed_enterprises):
        raise Conflict(
            "Some enterprises were changed by another request during the import; nothing was written, retry."
        )
    await repository.insert_years(session, new_years)
    await repository.update_years(session, changed_years)
    await record(session, principal, changes)
    return ImportReport(
        rows=len(raw_rows),
        created=len(new_enterprises),
        updated=len(changed_enterprises),
        unchanged=len(plan.enterprises) - len(new_enterprises) - len(changed_enterprises),
        years_written=len(new_years) + len(changed_years),
        rejected=rejected,
    )
