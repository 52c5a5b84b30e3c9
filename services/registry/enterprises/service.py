"""Enterprises: create, read, change, yearly figures and bulk import, with district scoping and audit."""

import asyncio
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.audit.service import Change, record
from services.registry.enterprises import repository
from services.registry.enterprises.models import Enterprise, EnterpriseYear
from services.registry.enterprises.schemas import (
    EnterpriseCreate,
    EnterpriseImportRow,
    EnterpriseOut,
    EnterprisePage,
    EnterprisePatch,
    YearFigures,
    YearFiguresOut,
)
from services.registry.problems import EnterpriseExists, ImportRefused
from services.registry.registrations import service as registrations
from services.registry.registrations.schemas import RegistrationOut
from services.registry.verification.service import apply_written_by, written_by
from shared.auth import Principal, Role
from shared.clock import utcnow
from shared.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    clean_message,
    field_error,
    storable_text,
)
from shared.pagination import page_of
from shared.perf import gc_paused
from shared.reference import DISTRICT_CODES
from shared.scoping import ensure_readable, ensure_writable, listing_district

ENTERPRISE_FIELDS = (
    "name",
    "district_code",
    "sector",
    "established_on",
    "spun_off_from_manufacturer",
    "parent_uscc",
    "spun_off_on",
)
# An import that writes this many yearly figures renews their planner statistics (a directory of the year).
BULK_LOAD_ROWS = 10_000
YEAR_FIELDS = ("revenue_yuan", "employees", "above_scale", "top500_service")
SPIN_OFF_FIELDS = ("parent_uscc", "spun_off_on")


def foreign_division(principal: Principal, uscc: str) -> str | None:
    """The district a district principal's new credit code names in its division segment (positions 3–8), when that
    is another of the 38 districts: such a registration is held for the city's confirmation."""
    division = uscc[2:8]
    if principal.role is Role.DISTRICT and division in DISTRICT_CODES and division != principal.district_code:
        return division
    return None


def _parent_problem(uscc: str, parent_uscc: str | None) -> str | None:
    if parent_uscc is not None and parent_uscc == uscc:
        return "an enterprise cannot be spun off from itself"
    return None


def _snapshot(enterprise: Enterprise) -> dict[str, Any]:
    return EnterpriseOut.model_validate(enterprise).model_dump(mode="json", exclude={"created_at", "updated_at"})


async def _load(session: AsyncSession, uscc: str, *, for_update: bool = False) -> Enterprise:
    enterprise = await repository.get(session, uscc, for_update=for_update)
    if enterprise is None:
        raise NotFound(f"No enterprise with credit code {uscc}.")
    return enterprise


async def create(
    session: AsyncSession, principal: Principal, data: EnterpriseCreate
) -> EnterpriseOut | RegistrationOut:
    """Register an enterprise; a district's registration of a code that names another district's division is held
    for the city's confirmation (a RegistrationOut, 202) instead."""
    ensure_writable(principal, data.district_code)
    problem = _parent_problem(data.uscc, data.parent_uscc)
    if problem is not None:
        raise InvalidInput(f"parent_uscc: {problem}.", errors=[field_error(["body", "parent_uscc"], problem)])
    if await repository.exists(session, data.uscc):
        raise EnterpriseExists(f"An enterprise with credit code {data.uscc} already exists.", uscc=data.uscc)
    division = foreign_division(principal, data.uscc)
    if division is not None:
        return await registrations.hold(session, principal, data, division)
    return await insert_new(session, principal, data)


async def insert_new(session: AsyncSession, principal: Principal, data: EnterpriseCreate) -> EnterpriseOut:
    """Insert an enterprise whose code is known to be free (checked by the caller in this transaction)."""
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
    after_uscc: str | None,
    limit: int,
    year: int | None = None,
) -> EnterprisePage:
    if year is not None and district_code is None:
        raise InvalidInput(
            "`year` narrows a district's listing to the enterprises of that district in that year: give district_code.",
            errors=[field_error(["query", "year"], "only with district_code")],
        )
    district_code = listing_district(principal, district_code)
    rows = await repository.page(
        session,
        district_code=district_code,
        sector=sector,
        name_contains=name_contains,
        after_uscc=after_uscc,
        limit=limit + 1,
        year=year,
    )
    return EnterprisePage.model_validate(page_of(rows, limit, lambda row: row["uscc"]))


async def update(
    session: AsyncSession,
    principal: Principal,
    uscc: str,
    patch: EnterprisePatch,
    expected_versions: frozenset[int] | None,
) -> EnterpriseOut:
    """Change some fields of the enterprise, if it is at one of `expected_versions` (None: at any)."""
    enterprise = await _load(session, uscc, for_update=True)
    ensure_writable(principal, enterprise.district_code)
    if expected_versions is not None and enterprise.version not in expected_versions:
        raise PreconditionFailed(
            f"The enterprise has changed: it is at version {enterprise.version}, not the one the request expected; "
            "read it again and retry."
        )
    changes = {
        name: value
        for name, value in patch.model_dump(exclude_unset=True).items()
        if getattr(enterprise, name) != value
    }
    if "district_code" in changes:
        ensure_writable(principal, changes["district_code"])
    sent = patch.model_fields_set
    if changes.get("spun_off_from_manufacturer") is False:
        # No longer a spin-off: the parent and the date go with it unless the patch says otherwise (checked below).
        for name in SPIN_OFF_FIELDS:
            if name not in sent and getattr(enterprise, name) is not None:
                changes[name] = None
    _check_spin_off(enterprise, changes)
    if not changes:
        return EnterpriseOut.model_validate(enterprise)
    before = _snapshot(enterprise)
    if not await repository.update_fields(session, uscc, enterprise.version, changes):
        raise PreconditionFailed("The enterprise was changed by another request; read it again and retry.")
    await session.refresh(enterprise, attribute_names=[*changes, "version", "updated_at"])
    after = _snapshot(enterprise)
    await record(session, principal, [Change("update", "enterprise", uscc, enterprise.district_code, before, after)])
    return EnterpriseOut.model_validate(enterprise)


def _check_spin_off(enterprise: Enterprise, changes: dict[str, Any]) -> None:
    """The enterprise as the change leaves it: parent_uscc and spun_off_on set exactly when it is a spin-off."""
    merged = {
        name: changes.get(name, getattr(enterprise, name)) for name in ("spun_off_from_manufacturer", *SPIN_OFF_FIELDS)
    }
    errors = []
    for name in SPIN_OFF_FIELDS:
        if merged["spun_off_from_manufacturer"] and merged[name] is None:
            errors.append(field_error(["body", name], "required when spun_off_from_manufacturer is true (主辅分离)"))
        if not merged["spun_off_from_manufacturer"] and merged[name] is not None:
            errors.append(
                field_error(
                    ["body", name],
                    "only for an enterprise spun off from a manufacturer (spun_off_from_manufacturer true)",
                )
            )
    problem = _parent_problem(enterprise.uscc, merged["parent_uscc"])
    if problem is not None:
        errors.append(field_error(["body", "parent_uscc"], problem))
    if errors:
        raise InvalidInput("The spin-off (主辅分离) fields do not fit together.", errors=errors)


async def put_year(
    session: AsyncSession, principal: Principal, uscc: str, year: int, figures: YearFigures
) -> tuple[YearFiguresOut, bool, int]:
    """Create or replace one year's figures; returns them, whether they were created, and the enterprise's new version.

    The year records the enterprise's district for that year: the one named, else the one the record already has,
    else the enterprise's current district. A district key writes only its own district's years. A changed record
    is verified when the city writes it and submitted (waiting for the city) when a district does.
    """
    enterprise = await _load(session, uscc, for_update=True)
    ensure_writable(principal, enterprise.district_code)
    existing = await repository.get_year(session, uscc, year)
    year_district = figures.district_code or (existing.district_code if existing else enterprise.district_code)
    ensure_writable(principal, year_district)
    if existing is not None and existing.district_code != year_district:
        ensure_writable(principal, existing.district_code)
    values = {**figures.model_dump(exclude={"district_code"}), "district_code": year_district}
    now = utcnow()
    if existing is not None:
        before = YearFiguresOut.model_validate(existing).model_dump(mode="json")
        if all(getattr(existing, name) == value for name, value in values.items()):
            return YearFiguresOut.model_validate(existing), False, enterprise.version
        for name, value in values.items():
            setattr(existing, name, value)
        apply_written_by(existing, principal, now)
        existing.updated_at = now
        row = existing
    else:
        before = None
        row = EnterpriseYear(uscc=uscc, year=year, **values, **written_by(principal, now), updated_at=now)
        repository.add_year(session, row)
    await session.flush()
    if not await repository.update_fields(session, uscc, enterprise.version, {}):
        raise PreconditionFailed("The enterprise was changed by another request; retry.")
    out = YearFiguresOut.model_validate(row)
    await record(
        session,
        principal,
        [Change("upsert", "enterprise_year", f"{uscc}/{year}", year_district, before, out.model_dump(mode="json"))],
    )
    return out, before is None, enterprise.version + 1


# ---- bulk import -------------------------------------------------------------------------------------------

# One year's figures as plain values, in YEAR_FIELDS order: cheap to compare and to write for 100,000 rows.
Figures = tuple[Decimal, int, bool, bool]
# Enterprises read, checked and written at a time. What an import holds beyond its plan (the rows to write, their
# COPY records, the audit entries) is one chunk's worth, and so is each stretch of work on the event loop.
IMPORT_CHUNK = 5_000
# Distinct validation errors kept to be shared by the rows that have them (200,000 rows missing the same field
# carry one error object, not 200,000).
_SHARED_ERRORS = 1_000


@dataclass(slots=True)
class _Planned:
    """One enterprise an import asks for: its values (in ENTERPRISE_FIELDS order), its first row, its years."""

    fields: tuple[Any, ...]
    first_row: int
    years: dict[int, Figures]


@dataclass(slots=True)
class _Plan:
    """What an import asks for, after validation, before anything is read or written; kept as plain values (a
    validated model per row would cost several times as much for 200,000 rows)."""

    max_errors: int
    rows: int = 0
    enterprises: dict[str, _Planned] = field(default_factory=dict)
    # Report entries, as the report shows them: {row, uscc, errors: [{loc, msg}]}.
    rejected: list[dict[str, Any]] = field(default_factory=list)
    _errors: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)

    def reject(self, row: int, uscc: str | None, errors: list[dict[str, Any]]) -> None:
        self.rejected.append({"row": row, "uscc": uscc, "errors": errors})

    def errors_of(self, exc: ValidationError) -> list[dict[str, Any]]:
        errors = []
        for err in exc.errors(include_url=False)[: self.max_errors]:
            key = (*err["loc"], err["msg"])
            error = self._errors.get(key)
            if error is None:
                error = _error([storable_text(str(part)) for part in err["loc"]] or ["row"], clean_message(err["msg"]))
                if len(self._errors) < _SHARED_ERRORS:
                    self._errors[key] = error
            errors.append(error)
        return errors


def _error(loc: list[str | int], msg: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg}


def _row_problem(
    principal: Principal, plan: _Plan, row: EnterpriseImportRow, fields: tuple[Any, ...]
) -> dict[str, Any] | None:
    if not principal.may_write_district(row.district_code):
        return _error(["district_code"], f"the {principal.label} principal may not write district {row.district_code}")
    first = plan.enterprises.get(row.uscc)
    if first is not None:
        differing = [name for name, old, new in zip(ENTERPRISE_FIELDS, first.fields, fields, strict=True) if old != new]
        if differing:
            return _error(
                [differing[0]],
                f"conflicts with row {first.first_row} for the same enterprise ({', '.join(differing)})",
            )
        if row.year is not None and row.year in first.years:
            return _error(["year"], f"the figures of {row.uscc} for {row.year} appear more than once")
    problem = _parent_problem(row.uscc, row.parent_uscc)
    if problem is not None:
        return _error(["parent_uscc"], problem)
    return None


def _add(principal: Principal, plan: _Plan, number: int, row: EnterpriseImportRow) -> None:
    fields = tuple(getattr(row, name) for name in ENTERPRISE_FIELDS)
    problem = _row_problem(principal, plan, row, fields)
    if problem is not None:
        plan.reject(number, row.uscc, [problem])
        return
    planned = plan.enterprises.get(row.uscc)
    if planned is None:
        planned = plan.enterprises[row.uscc] = _Planned(fields, number, {})
    if row.year is not None:
        planned.years[row.year] = (
            row.revenue_yuan or Decimal("0.00"),
            row.employees or 0,
            bool(row.above_scale),
            bool(row.top500_service),
        )


def _validated_plan(principal: Principal, raw_rows: Iterable[Any], max_errors: int) -> _Plan:
    """Read, validate and plan the rows one at a time (CPU only: run in a worker thread)."""
    plan = _Plan(max_errors)
    # A burst of 200,000 rows' objects: a full collection of the cyclic collector over them would stop every thread.
    with gc_paused():
        for number, raw in enumerate(raw_rows, start=1):
            plan.rows = number
            try:
                row = EnterpriseImportRow.model_validate(raw)
            except ValidationError as exc:
                candidate = raw.get("uscc") if isinstance(raw, dict) else None
                uscc = storable_text(candidate[:32]) if isinstance(candidate, str) else None
                plan.reject(number, uscc, plan.errors_of(exc))
                continue
            _add(principal, plan, number, row)
    return plan


def _enterprise_json(uscc: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "uscc": uscc,
        **{name: fields[name] for name in ENTERPRISE_FIELDS},
        "established_on": fields["established_on"].isoformat(),
        "spun_off_on": fields["spun_off_on"].isoformat() if fields["spun_off_on"] is not None else None,
    }


def _figures_json(figures: Figures, district_code: str) -> dict[str, Any]:
    revenue, employees, above_scale, top500_service = figures
    return {
        "revenue_yuan": f"{revenue:.2f}",
        "employees": employees,
        "above_scale": above_scale,
        "top500_service": top500_service,
        "district_code": district_code,
    }


def _checked(
    principal: Principal,
    plan: _Plan,
    usccs: Sequence[str],
    existing: dict[str, dict[str, Any]],
    stored_years: dict[tuple[str, int], dict[str, Any]],
) -> list[str]:
    """The enterprises of `usccs` the principal may write as asked; the others are rejected at their first row."""
    accepted = []
    for uscc in usccs:
        planned = plan.enterprises[uscc]
        stored = existing.get(uscc)
        if stored is None:
            # A district's new credit code that names another district's division is registered singly, and held.
            division = foreign_division(principal, uscc)
            if division is not None:
                message = (
                    f"the credit code's division segment names district {division}: register it singly with "
                    "POST /enterprises, where it is held for the city's confirmation"
                )
                plan.reject(planned.first_row, uscc, [_error(["uscc"], message)])
                continue
        elif not principal.may_write_district(stored["district_code"]):
            # A district may not take over another district's enterprise by importing it under its own code.
            message = f"this enterprise belongs to district {stored['district_code']}"
            plan.reject(planned.first_row, uscc, [_error(["uscc"], message)])
            continue
        else:
            # Nor rewrite a year another district recorded (the enterprise moved in since).
            foreign = [
                (year, old["district_code"])
                for year in planned.years
                if (old := stored_years.get((uscc, year))) is not None
                and not principal.may_write_district(old["district_code"])
            ]
            if foreign:
                year, recorded = foreign[0]
                message = f"the figures of {year} are recorded for district {recorded}"
                plan.reject(planned.first_row, uscc, [_error(["year"], message)])
                continue
        accepted.append(uscc)
    return accepted


@dataclass(slots=True)
class _Writes:
    """What an import writes for one chunk, worked out from the plan and what the registry holds."""

    new_enterprises: list[dict[str, Any]] = field(default_factory=list)
    changed_enterprises: list[dict[str, Any]] = field(default_factory=list)
    new_years: list[dict[str, Any]] = field(default_factory=list)
    changed_years: list[dict[str, Any]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


def _writes(
    principal: Principal,
    plan: _Plan,
    usccs: Sequence[str],
    existing: dict[str, dict[str, Any]],
    stored_years: dict[tuple[str, int], dict[str, Any]],
    now: datetime,
) -> _Writes:
    """The rows to insert and update and the audit entries (pure, CPU only: run in a worker thread)."""
    out = _Writes()
    new_enterprises, changed_enterprises, changes = out.new_enterprises, out.changed_enterprises, out.changes
    new_years, changed_years = out.new_years, out.changed_years

    verification = written_by(principal, now)
    for uscc in usccs:
        planned = plan.enterprises[uscc]
        fields = dict(zip(ENTERPRISE_FIELDS, planned.fields, strict=True))
        district_code = fields["district_code"]
        years_before: dict[str, Any] = {}
        years_after: dict[str, Any] = {}
        for year, figures in planned.years.items():
            old = stored_years.get((uscc, year))
            values = dict(zip(YEAR_FIELDS, figures, strict=True))
            # A new year is the row's district's; a stored year keeps the district it records.
            year_district = district_code if old is None else old["district_code"]
            written = {"uscc": uscc, "year": year, **values, "district_code": year_district, **verification}
            if old is None:
                new_years.append({**written, "updated_at": now})
            elif tuple(old[name] for name in YEAR_FIELDS) != figures:
                changed_years.append({**written, "updated_at": now})
                years_before[str(year)] = _figures_json(tuple(old[name] for name in YEAR_FIELDS), year_district)
            else:
                continue
            years_after[str(year)] = _figures_json(figures, year_district)
        current = existing.get(uscc)
        if current is None:
            new_enterprises.append({"uscc": uscc, **fields, "version": 1, "created_at": now, "updated_at": now})
            after = {**_enterprise_json(uscc, fields), "years": years_after}
            changes.append(Change("import", "enterprise", uscc, district_code, None, after))
        elif years_after or any(current[name] != fields[name] for name in ENTERPRISE_FIELDS):
            changed_enterprises.append({"uscc": uscc, **fields, "version": current["version"] + 1, "updated_at": now})
            before = {**_enterprise_json(uscc, current), "years": years_before}
            after = {**_enterprise_json(uscc, fields), "years": years_after}
            changes.append(Change("import", "enterprise", uscc, district_code, before, after))

    return out


async def _write(session: AsyncSession, principal: Principal, writes: _Writes) -> None:
    await repository.insert_enterprises(session, writes.new_enterprises)
    if not await repository.update_enterprises(session, writes.changed_enterprises):
        raise Conflict(
            "Some enterprises were changed by another request during the import; nothing was written, retry."
        )
    await repository.insert_years(session, writes.new_years)
    await repository.update_years(session, writes.changed_years)
    await record(session, principal, writes.changes)


# The atomic refusal's `errors` name the first this many (`rejected` has every rejected row with its errors): the
# flat list of 200,000 rows' errors took the process past 600 MB, and the problem is rendered on the event loop.
REFUSAL_ERRORS = 1_000


def _refusal(plan: _Plan) -> ImportRefused:
    errors = (
        {"loc": ["body", item["row"], *error["loc"]], "msg": error["msg"]}
        for item in plan.rejected
        for error in item["errors"]
    )
    return ImportRefused(
        f"{len(plan.rejected)} of {plan.rows} rows are invalid; with atomic=true nothing was written.",
        errors=list(itertools.islice(errors, REFUSAL_ERRORS)),
        rejected=plan.rejected,
    )


async def import_rows(
    session: AsyncSession, principal: Principal, raw_rows: Iterable[Any], *, atomic: bool, max_errors_per_row: int
) -> dict[str, Any]:
    """Create or update enterprises and their figures; invalid rows are reported, or with `atomic` refuse all.

    `raw_rows` is read once, as it comes (a stream of parsed rows). The answer is the report (ImportReport's shape)
    as plain values, listing at most `max_errors_per_row` errors of a rejected row. The enterprises are read, checked
    and written chunk by chunk in the request's transaction, so a refusal found in a later chunk (atomic) or a
    conflict rolls back what earlier chunks wrote.
    """
    # Validating 200,000 rows takes seconds of CPU: in a worker thread, so the event loop keeps serving the others.
    plan = await asyncio.to_thread(_validated_plan, principal, raw_rows, max_errors_per_row)
    if atomic and plan.rejected:
        raise _refusal(plan)

    years = sorted({year for planned in plan.enterprises.values() for year in planned.years})
    usccs = sorted(plan.enterprises)
    now = utcnow()
    accepted = created = updated = years_written = 0
    for start in range(0, len(usccs), IMPORT_CHUNK):
        chunk = usccs[start : start + IMPORT_CHUNK]
        existing, stored_years = await repository.existing_for_import(session, chunk, years)
        writable = _checked(principal, plan, chunk, existing, stored_years)
        if atomic and plan.rejected:
            continue  # refused as a whole below; the remaining chunks are only checked, for the report
        writes = await asyncio.to_thread(_writes, principal, plan, writable, existing, stored_years, now)
        await _write(session, principal, writes)
        accepted += len(writable)
        created += len(writes.new_enterprises)
        updated += len(writes.changed_enterprises)
        years_written += len(writes.new_years) + len(writes.changed_years)
        del writes, existing, stored_years  # the next chunk's take their place
    plan.rejected.sort(key=lambda item: item["row"])
    if atomic and plan.rejected:
        raise _refusal(plan)
    if years_written >= BULK_LOAD_ROWS:
        await repository.refresh_statistics(session)
    return {
        "rows": plan.rows,
        "created": created,
        "updated": updated,
        "unchanged": accepted - created - updated,
        "years_written": years_written,
        "rejected": plan.rejected,
    }
