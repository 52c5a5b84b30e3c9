"""Verification of the facts that decide money by their authority, the city (渝发改规范〔2024〕7号; POLICY.md
"Facts that decide money, and their authority").

A write by the city is verified as written (verified_by "city"); a write by a district is submitted and waits for
the city; a district write that changes a verified record makes it submitted again; an unchanged write changes
nothing. Only the city verifies or rejects, singly or in bulk (all or nothing), and every decision is audited.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.audit.schemas import AuditEntityType
from services.registry.audit.service import Change, record
from services.registry.verification import repository
from services.registry.verification.schemas import (
    FLAT_KEYS,
    BulkVerification,
    BulkVerificationReport,
    QueueKey,
    VerifiableRecordKind,
    VerificationOut,
    VerificationQueuePage,
    VerificationVerdict,
    VerifiedRecord,
    nest_verification,
)
from shared.auth import Principal, Role
from shared.clock import utcnow
from shared.errors import InvalidInput, NotFound, field_error
from shared.events import EventType, EventValue, event_data, public_path, yuan
from shared.outbox import NewEvent, record_events
from shared.pagination import page_of
from shared.reference import MAX_YEAR, MIN_YEAR
from shared.uscc import uscc_problem

CITY = "city"


def written_by(principal: Principal, now: datetime) -> dict[str, Any]:
    """The verification columns of a record as `principal` writes it (or changes its content)."""
    if principal.role is Role.CITY:
        return {
            "verification_status": "verified",
            "submitted_by": principal.label,
            "submitted_at": now,
            "verified_by": CITY,
            "verified_at": now,
            "verification_reason": None,
        }
    return {
        "verification_status": "submitted",
        "submitted_by": principal.label,
        "submitted_at": now,
        "verified_by": None,
        "verified_at": None,
        "verification_reason": None,
    }


def apply_written_by(row: Any, principal: Principal, now: datetime) -> None:
    """Set an ORM row's verification columns as `principal` changed its content."""
    for name, value in written_by(principal, now).items():
        setattr(row, name, value)


def _json(state: dict[str, Any]) -> dict[str, Any]:
    return VerificationOut.model_validate(nest_verification(state)["verification"]).model_dump(mode="json")


# ---- record ids -----------------------------------------------------------------------------------------------------


def _year(text: str) -> int:
    if not text.isdigit() or not MIN_YEAR <= int(text) <= MAX_YEAR:
        raise ValueError(f"the year must be {MIN_YEAR}–{MAX_YEAR}")
    return int(text)


def _record_id(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 2**31 - 1:
        raise ValueError("the id must be a positive whole number")
    return int(text)


def parse_id(kind: VerifiableRecordKind, text: str) -> tuple[Any, ...]:
    """The key of a record from its id as the API writes it ("<uscc>/2025", "12/2025", "12"); ValueError if bad."""
    parts = text.strip().split("/")
    if kind in ("building", "project"):
        if len(parts) != 1:
            raise ValueError(f"a {kind} id is its number, e.g. 12")
        return (_record_id(parts[0]),)
    if len(parts) != 2:
        example = "91500103MA5U7XXXXH/2025" if kind == "enterprise_year" else "12/2025"
        raise ValueError(f"a {kind} id is <{'uscc' if kind == 'enterprise_year' else 'id'}>/<year>, e.g. {example}")
    if kind == "enterprise_year":
        uscc = parts[0].upper()
        problem = uscc_problem(uscc)
        if problem is not None:
            raise ValueError(problem)
        return (uscc, _year(parts[1]))
    return (_record_id(parts[0]), _year(parts[1]))


def id_text(key: Sequence[Any]) -> str:
    return "/".join(str(part) for part in key)


# ---- decisions ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Decision:
    kind: VerifiableRecordKind
    key: tuple[Any, ...]
    decision: VerificationVerdict
    reason: str | None


# The events of decisions: one `figures.verified` per yearly figures row verified.

# The yearly figures among the verified records: kind → the subject's type and the path (under the registry's public
# prefix) of the resource that answers GET with the subject's yearly figures, each year with its verification:
# `GET /enterprises/{uscc}` (the enterprise with its `years`), `GET /clusters/{cluster_id}/years`,
# `GET /buildings/{building_id}` (the building with its `years`). No yearly figures row has a GET of its own.
_YEARLY_FIGURES: dict[str, tuple[str, Callable[[Any], tuple[object, ...]]]] = {
    "enterprise_year": ("enterprise", lambda uscc: ("enterprises", uscc)),
    "cluster_year": ("cluster", lambda cluster_id: ("clusters", cluster_id, "years")),
    "building_year": ("building", lambda building_id: ("buildings", building_id)),
}


def _figure(value: Any) -> EventValue:
    """A figure as an event writes it: money as a string with two places (`…_yuan`), counts and flags as they are."""
    if isinstance(value, Decimal):
        return yuan(value)
    if isinstance(value, bool | int | str) or value is None:
        return value
    raise TypeError(f"a yearly figure of type {type(value).__name__}")


def figures_verified(
    kind: VerifiableRecordKind,
    key: tuple[Any, ...],
    *,
    district_code: str,
    figures: Mapping[str, Any],
    submitted_by: str,
    verified_by: str,
    verified_at: datetime,
) -> NewEvent:
    """`figures.verified` of one yearly figures row (`key` = (uscc or id, year)) the city has just verified: its link
    (the subject's record, which shows the year with its verification), the verified figures and who verified them."""
    subject_type, path = _YEARLY_FIGURES[kind]
    subject_id, year = key
    fields: dict[str, EventValue] = {
        "record": kind,
        "record_id": id_text(key),
        "subject_id": str(subject_id),
        **{name: _figure(value) for name, value in figures.items()},
        "submitted_by": submitted_by,
        "verified_by": verified_by,
        "verified_at": verified_at.isoformat(),
    }
    return NewEvent(
        type=EventType.FIGURES_VERIFIED,
        district_code=district_code,
        subject=f"{subject_type}:{subject_id}",
        data=event_data(public_path("registry", *path(subject_id)), subject_type=subject_type, year=year) | fields,
        occurred_at=verified_at,
    )


def _events_of(changes: Sequence[tuple[_Decision, dict[str, Any]]], at: datetime) -> list[NewEvent]:
    """One `figures.verified` per yearly figures row a decision verified (a rejection, or any other kind, none);
    `state` is the row as locked before the decision (a decision changes its verification, never its figures)."""
    return [
        figures_verified(
            item.kind,
            item.key,
            district_code=state["district_code"],
            figures={name: state[name] for name in repository.KINDS[item.kind].figures},
            submitted_by=state["submitted_by"],
            verified_by=CITY,
            verified_at=at,
        )
        for item, state in changes
        if item.decision == "verify" and item.kind in _YEARLY_FIGURES
    ]


def _reason(decision: str, reason: str | None) -> str | None:
    """The reason as sent (kept exactly); None when a rejection has none worth the name."""
    if decision == "reject" and not (reason and reason.strip()):
        return None
    return reason


def _decided(state: dict[str, Any], decision: str, reason: str | None, now: datetime) -> dict[str, Any]:
    return {
        **{flat: state[flat] for flat in FLAT_KEYS},
        "verification_status": "verified" if decision == "verify" else "rejected",
        "verified_by": CITY,
        "verified_at": now,
        "verification_reason": reason,
    }


async def _apply(
    session: AsyncSession, principal: Principal, item: _Decision, state: dict[str, Any], now: datetime
) -> tuple[VerifiedRecord, Change | None]:
    target = "verified" if item.decision == "verify" else "rejected"
    unchanged = state["verification_status"] == target and state["verification_reason"] == item.reason
    new_state = state if unchanged else _decided(state, item.decision, item.reason, now)
    entity_id = id_text(item.key)
    out = VerifiedRecord.model_validate(
        {"record": item.kind, "id": entity_id, "district_code": state["district_code"], **nest_verification(new_state)}
    )
    if unchanged:
        return out, None
    await repository.set_state(session, item.kind, item.key, new_state)
    entity_type: AuditEntityType = item.kind
    change = Change(item.decision, entity_type, entity_id, state["district_code"], _json(state), _json(new_state))
    return out, change


async def decide(
    session: AsyncSession,
    principal: Principal,
    kind: VerifiableRecordKind,
    key: tuple[Any, ...],
    decision: VerificationVerdict,
    reason: str | None,
) -> VerifiedRecord:
    """The city verifies or rejects one record (the route lets only the city through)."""
    reason = _reason(decision, reason)
    if decision == "reject" and reason is None:
        raise InvalidInput(
            "A rejection needs a reason.", errors=[field_error(["body", "reason"], "required to reject")]
        )
    state = await repository.lock_state(session, kind, key)
    if state is None:
        raise NotFound(f"No {kind.replace('_', ' ')} {id_text(key)}.")
    now = utcnow()
    item = _Decision(kind, key, decision, reason)
    out, change = await _apply(session, principal, item, state, now)
    if change is not None:
        await record(session, principal, [change])
        await record_events(session, _events_of([(item, state)], now))
    return out


async def decide_many(session: AsyncSession, principal: Principal, body: BulkVerification) -> BulkVerificationReport:
    """All or nothing: every item is checked (and its record locked) before any is written."""
    errors: list[dict[str, Any]] = []
    planned: list[tuple[int, _Decision]] = []
    seen: dict[tuple[str, tuple[Any, ...]], int] = {}
    for index, item in enumerate(body.items):
        loc: list[str | int] = ["body", "items", index]
        reason = _reason(item.decision, item.reason)
        if item.decision == "reject" and reason is None:
            errors.append(field_error([*loc, "reason"], "required to reject"))
        try:
            key = parse_id(item.record, item.id)
        except ValueError as exc:
            errors.append(field_error([*loc, "id"], str(exc)))
            continue
        if (item.record, key) in seen:
            errors.append(field_error([*loc, "id"], f"the same record as item {seen[(item.record, key)]}"))
            continue
        seen[(item.record, key)] = index
        planned.append((index, _Decision(item.record, key, item.decision, reason)))
    states: dict[int, dict[str, Any]] = {}
    # Locked in one order, so that two bulk verifications cannot deadlock each other.
    for index, planned_item in sorted(planned, key=lambda pair: (pair[1].kind, id_text(pair[1].key))):
        state = await repository.lock_state(session, planned_item.kind, planned_item.key)
        if state is None:
            item_kind, item_key = planned_item.kind, planned_item.key
            errors.append(
                field_error(["body", "items", index, "id"], f"no {item_kind.replace('_', ' ')} {id_text(item_key)}")
            )
        else:
            states[index] = state
    if errors:
        errors.sort(key=lambda error: error["loc"][2])
        raise InvalidInput(
            f"{len({error['loc'][2] for error in errors})} of {len(body.items)} items cannot be decided; "
            "nothing was written.",
            errors=errors,
        )
    now = utcnow()
    items: list[VerifiedRecord] = []
    changes: list[Change] = []
    decided: list[tuple[_Decision, dict[str, Any]]] = []
    counts = {"verify": 0, "reject": 0, "unchanged": 0}
    for index, decision in planned:
        out, change = await _apply(session, principal, decision, states[index], now)
        items.append(out)
        if change is None:
            counts["unchanged"] += 1
        else:
            counts[decision.decision] += 1
            changes.append(change)
            decided.append((decision, states[index]))
    await record(session, principal, changes)
    await record_events(session, _events_of(decided, now))
    return BulkVerificationReport(
        verified=counts["verify"], rejected=counts["reject"], unchanged=counts["unchanged"], items=items
    )


# ---- the queue -------------------------------------------------------------------------------------------------------


async def queue(
    session: AsyncSession,
    *,
    status: str,
    record_kind: str | None,
    district_code: str | None,
    after: QueueKey | None,
    limit: int,
) -> VerificationQueuePage:
    rows = await repository.queue_page(
        session, status=status, record=record_kind, district_code=district_code, after=after, limit=limit + 1
    )
    return VerificationQueuePage.model_validate(page_of(rows, limit, lambda row: (row["record"], row["id"])))
