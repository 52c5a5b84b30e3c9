"""The award ledger's logic: 就高不重复 under a per-key lock, the checks against the rules, the workflow."""

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.eligibility.awards import exports, identity, repository
from services.eligibility.awards.entitlement import Entitlement, assess
from services.eligibility.awards.identity import MEASURE_RECIPIENT_KIND
from services.eligibility.awards.models import Award, AwardEvent
from services.eligibility.awards.ranking import RankingClient
from services.eligibility.awards.schemas import (
    AwardDetail,
    AwardEventOut,
    AwardFilters,
    AwardGroupKey,
    AwardIn,
    AwardOut,
    AwardPage,
    SummaryGroup,
    SummaryOut,
    SummaryTotals,
    TransitionIn,
)
from services.eligibility.awards.workflow import ACTION_EVENTS, STEPS, AwardAction, allowed_actions
from services.eligibility.calendar.service import notice_end
from services.eligibility.measures.catalogue import MEASURES_BY_ID
from services.eligibility.parameters.definitions import ParameterSet
from services.eligibility.policies import service as policies
from services.eligibility.policies.numbers import normalise_document_number
from services.eligibility.registry_client.client import RegistryClient
from services.eligibility.rules.base import DOCUMENT, ZERO
from services.eligibility.rules.engine import RULES
from shared.auth import Principal
from shared.clock import Clock, utcnow
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, field_error
from shared.events import EventType, event_data, public_path
from shared.outbox import NewEvent, record_events
from shared.pagination import next_cursor
from shared.requestid import current_client_request_id, current_request_id
from shared.scoping import listing_district
from shared.uscc import uscc_problem

# The measures whose facts come from an enterprise's figures of one year, chosen with `facts_year`.
FACTS_YEAR_MEASURES = ("M07a", "M07b")


class AwardNotHigher(Conflict):
    """就高不重复: an award at least as high stands for the key (AwardNotHigherProblem)."""

    slug = "award-not-higher"


class AwardAboveEntitlement(InvalidInput):
    """The amount is above what the rules give (AwardAboveEntitlementProblem)."""

    slug = "award-above-entitlement"


class AwardStepRefused(Conflict):
    """The action is not allowed from the award's status or on that day (AwardStepRefusedProblem)."""

    slug = "award-step-refused"


def _yuan(value: Decimal) -> str:
    return f"{value:.2f}"


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


# ---- reading ---------------------------------------------------------------------------------------------------


def _allowed(award: Award, today: date) -> list[AwardAction]:
    return allowed_actions(award.status, award.notice_ends_on, today)


def award_out(award: Award, today: date) -> AwardOut:
    return AwardOut.model_validate({**_columns(award), "allowed_actions": _allowed(award, today)})


def _columns(award: Award) -> dict[str, Any]:
    return {name: getattr(award, name) for name in AwardOut.model_fields if name != "allowed_actions"}


async def detail(
    session: AsyncSession, award: Award, today: date, events: Sequence[AwardEvent] | None = None
) -> AwardDetail:
    """The award with its calculation and history (`events`, when the caller has just written all of them)."""
    if events is None:
        events = await repository.events(session, award.id)
    return AwardDetail.model_validate(
        {
            **_columns(award),
            "allowed_actions": _allowed(award, today),
            "calculation": award.calculation,
            "events": [AwardEventOut.model_validate(event) for event in events],
        }
    )


def policy_filter(text: str | None) -> str | None:
    """A policy filter as the ledger stores it: the document number's canonical form (a 422 if it is none)."""
    if text is None:
        return None
    try:
        return normalise_document_number(text)
    except ValueError as exc:
        raise InvalidInput(
            f"{text!r} is not a document number.", errors=[field_error(["query", "policy"], str(exc))]
        ) from None


def scoped(principal: Principal, filters: AwardFilters) -> AwardFilters:
    """A district reads only its own district's awards (asking for another is a 403)."""
    return replace(filters, district_code=listing_district(principal, filters.district_code))


async def read(session: AsyncSession, principal: Principal, award_id: int, today: date) -> AwardDetail:
    award = await repository.get(session, award_id)
    if award is None:
        raise NotFound(f"There is no award {award_id}.")
    if not principal.may_read_district(award.district_code):
        raise Forbidden(f"Award {award_id} is not of this key's district: a district key reads its own awards only.")
    return await detail(session, award, today)


async def list_page(
    session: AsyncSession, principal: Principal, filters: AwardFilters, before_id: int | None, limit: int, today: date
) -> AwardPage:
    rows = await repository.page(session, scoped(principal, filters), before_id, limit + 1)
    items = [award_out(award, today) for award in rows[:limit]]
    return AwardPage(items=items, next_cursor=next_cursor(rows, limit, lambda award: award.id))


DEFAULT_GROUPING: tuple[AwardGroupKey, ...] = ("measure_id", "year", "district_code", "status")


async def summary(
    session: AsyncSession, principal: Principal, filters: AwardFilters, group_by: Sequence[AwardGroupKey] | None
) -> SummaryOut:
    """Counts and sums grouped by `group_by` (default: measure, year, district and status)."""
    keys = list(dict.fromkeys(group_by if group_by is not None else DEFAULT_GROUPING))
    rows = await repository.totals(session, scoped(principal, filters), keys)
    groups = [
        SummaryGroup.model_validate({**values, "count": count, "amount_yuan": amount, "payable_yuan": payable})
        for values, count, amount, payable in rows
    ]
    return SummaryOut(
        group_by=keys,
        groups=groups,
        totals=SummaryTotals(
            count=sum(group.count for group in groups),
            amount_yuan=sum((group.amount_yuan for group in groups), ZERO),
            payable_yuan=sum((group.payable_yuan for group in groups), ZERO),
        ),
    )


async def export_rows(
    session: AsyncSession, principal: Principal, filters: AwardFilters, max_rows: int
) -> Sequence[Row[Any]]:
    selected = scoped(principal, filters)
    total = await repository.count(session, selected)
    if total > max_rows:
        raise InvalidInput(
            f"The filters select {total} awards; an export holds at most {max_rows}. Narrow the filters.",
            errors=[field_error(["query"], f"{total} awards selected, at most {max_rows} per export")],
        )
    return await repository.every(session, selected, max_rows)


async def export_csv(session: AsyncSession, principal: Principal, filters: AwardFilters, max_rows: int) -> bytes:
    awards = await export_rows(session, principal, filters, max_rows)
    # Writing up to 100,000 rows is CPU: in a worker thread (the awards are loaded; no session is touched there).
    return await asyncio.to_thread(exports.to_csv, awards)


async def export_xlsx(session: AsyncSession, principal: Principal, filters: AwardFilters, max_rows: int) -> bytes:
    """The workbook of the awards `filters` select, with totals and the filters written on its first sheet."""
    awards = await export_rows(session, principal, filters, max_rows)
    return await asyncio.to_thread(exports.to_xlsx, awards, scoped(principal, filters), utcnow())


# ---- proposing -------------------------------------------------------------------------------------------------


def _check_measure(body: AwardIn, this_policy: bool) -> bool:
    """Whether the rules cap the amount; a 422 problem for a measure, year or recipient that does not fit."""
    errors: list[dict[str, Any]] = []

    def refuse(field: str, msg: str) -> None:
        errors.append(field_error(["body", field], msg))

    computable = False
    if this_policy:
        measure = MEASURES_BY_ID.get(body.measure_id)
        if measure is None:
            refuse("measure_id", f"{body.measure_id!r} is not a measure of {DOCUMENT} (GET /measures)")
        else:
            computable = measure.id in RULES
            if measure.subject_type is not None and body.subject_type != measure.subject_type:
                refuse(
                    "subject_type", f"{measure.id} is awarded to a {measure.subject_type}, not a {body.subject_type}"
                )
            derived = MEASURE_RECIPIENT_KIND.get(measure.id)
            if body.recipient_kind is not None and derived is not None and body.recipient_kind != derived:
                refuse(
                    "recipient_kind",
                    f"{measure.id} pays the {derived} (第{measure.clause}条), not the {body.recipient_kind}",
                )
            if body.facts_year is not None and measure.id not in FACTS_YEAR_MEASURES:
                refuse("facts_year", f"only {' and '.join(FACTS_YEAR_MEASURES)} read a year of figures")
    else:
        if body.facts_year is not None:
            refuse("facts_year", f"only {' and '.join(FACTS_YEAR_MEASURES)} of {DOCUMENT} read a year of figures")
        if body.subject_type == "enterprise" and body.recipient_kind is None:
            refuse("recipient_kind", "required for an enterprise under another policy: `enterprise` or `district`")
    if body.subject_type != "enterprise" and body.recipient_kind is not None:
        refuse("recipient_kind", f"a {body.subject_type}'s recipient is taken from the registry")
    if errors:
        raise InvalidInput("The award is refused: see `errors`.", errors=errors)
    return computable


def _canonical_subject_id(body: AwardIn) -> str:
    if body.subject_type != "enterprise":
        return body.subject_id
    subject_id = body.subject_id.upper()
    problem = uscc_problem(subject_id)
    if problem is not None:
        raise InvalidInput(
            "The award is refused: see `errors`.",
            errors=[field_error(["body", "subject_id"], f"an enterprise is named by its credit code: {problem}")],
        )
    return subject_id


def rules_date(parameters: ParameterSet, year: int | None, today: date) -> date:
    """The day the rules are applied on: a yearly award's on the last day of the year it rewards (the amounts of
    that year, also when the award is made after it), held within the policy's force; a one-off award's today."""
    if year is None:
        return today
    policy = parameters.policy
    return min(max(date(year, 12, 31), policy.effective_from), policy.effective_to)


def _check_amount(body: AwardIn, entitlement: Entitlement) -> None:
    if body.amount_yuan > entitlement.maximum:
        calculation = entitlement.calculation
        reasons = "; ".join(reason["message"] for reason in calculation["reasons"])
        because = f"not eligible: {reasons}" if reasons else f"the rules give {_yuan(entitlement.maximum)}"
        raise AwardAboveEntitlement(
            f"An award of {_yuan(body.amount_yuan)} yuan is more than {body.measure_id} allows {body.subject_type} "
            f"{body.subject_id} on {calculation['as_of']}: at most {_yuan(entitlement.maximum)} ({because}).",
            errors=[field_error(["body", "amount_yuan"], f"at most {_yuan(entitlement.maximum)} ({because})")],
            maximum_yuan=_yuan(entitlement.maximum),
            calculation=calculation,
        )


def _event(
    award_id: int, event: str, from_status: str | None, to_status: str, on: date, reason: str | None, who: Principal
) -> AwardEvent:
    return AwardEvent(
        award_id=award_id,
        event=event,
        from_status=from_status,
        to_status=to_status,
        effective_on=on,
        reason=reason,
        actor_role=str(who.role),
        actor_district=who.district_code,
        request_id=current_request_id(),
        client_request_id=current_client_request_id(),
    )


def award_event(
    award: Award, type: EventType, from_status: str | None, on: date, reason: str | None, **fields: Any
) -> NewEvent:
    """The domain event of one step of `award` (its status already the step's target), for its district."""
    return NewEvent(
        type=type,
        district_code=award.district_code,
        subject=f"award:{award.id}",
        data=event_data(
            public_path("eligibility", "awards", award.id),
            measure_id=award.measure_id,
            subject_type=award.subject_type,
            year=award.year,
            award_id=award.id,
            policy=award.policy,
            subject_id=award.subject_id,
            subject_name=award.subject_name,
            recipient_kind=award.recipient_kind,
            recipient=award.recipient,
            from_status=from_status,
            status=award.status,
            amount_yuan=_yuan(award.amount_yuan),
            payable_yuan=_yuan(award.payable_yuan),
            effective_on=on.isoformat(),
            reason=reason,
            **fields,
        ),
    )


def _describe(award: Award) -> str:
    return f"award {award.id} of {_yuan(award.amount_yuan)} yuan under {award.policy}"


def _standing_json(award: Award) -> dict[str, Any]:
    return {
        "id": award.id,
        "measure_id": award.measure_id,
        "policy": award.policy,
        "amount_yuan": _yuan(award.amount_yuan),
        "payable_yuan": _yuan(award.payable_yuan),
        "status": award.status,
    }


async def propose(
    session: AsyncSession,
    registry: RegistryClient,
    ranking: RankingClient,
    parameters: ParameterSet,
    clock: Clock,
    principal: Principal,
    body: AwardIn,
) -> AwardDetail:
    policy = await policies.resolve(
        session, policy_id=body.policy_id, document_number=body.policy if body.policy or body.policy_id else DOCUMENT
    )
    this_policy = policies.is_this_policy(policy)
    computable = _check_measure(body, this_policy)
    subject_id = _canonical_subject_id(body)
    # Read the registry (and the ranking) before taking the key's lock, so that the lock is held briefly.
    recipient_kind = MEASURE_RECIPIENT_KIND.get(body.measure_id, "enterprise") if this_policy else "enterprise"
    subject = await identity.resolve(
        registry,
        subject_type=body.subject_type,
        subject_id=subject_id,
        year=body.year,
        district_code=body.district_code,
        recipient_kind=body.recipient_kind or recipient_kind,
        registered_only=computable,
    )
    if subject.record is not None and body.subject_name is not None:
        raise InvalidInput(
            "The award is refused: see `errors`.",
            errors=[field_error(["body", "subject_name"], "the registry names this subject: leave subject_name out")],
        )
    today = clock.today()
    entitlement: Entitlement | None = None
    if computable:
        entitlement = await assess(
            ranking,
            parameters,
            measure_id=body.measure_id,
            subject=subject,
            year=body.year,
            facts_year=body.facts_year,
            as_of=rules_date(parameters, body.year, today),
        )
        _check_amount(body, entitlement)
    key = subject.stacking_key

    await repository.lock_key(session, key)
    current = await repository.standing(session, key)
    award = Award(
        policy_id=policy.id,
        policy=policy.document_number,
        measure_id=body.measure_id,
        subject_type=subject.subject_type,
        subject_id=subject.subject_id,
        subject_name=entitlement.subject_name if entitlement else subject.name or body.subject_name,
        recipient_kind=entitlement.recipient_kind if entitlement else subject.recipient_kind,
        recipient=entitlement.recipient if entitlement else subject.recipient,
        year=body.year,
        stacking_key=key,
        district_code=entitlement.district_code if entitlement else subject.district_code,
        amount_yuan=body.amount_yuan,
        payable_yuan=body.amount_yuan,
        status="proposed",
        is_standing=True,
        calculation=entitlement.calculation if entitlement else None,
        created_by=principal.label,
    )
    ledger_note: str | None = None
    previous_status: str | None = None
    on = today
    if current is not None:
        if body.amount_yuan <= current.amount_yuan:
            raise AwardNotHigher(
                f"就高不重复: {_describe(current)} ({current.status}) stands for {key}; an award of "
                f"{_yuan(body.amount_yuan)} yuan is not higher, so it is refused and nothing was written.",
                standing_award=_standing_json(current),
            )
        previous_status = current.status
        current.is_standing = False
        if current.status == "paid":
            # The paid award keeps its status; the new one pays the difference, so the total paid is the highest.
            paid: Award | None = current
            ledger_note = f"tops up paid {_describe(current)}: pays the difference"
        else:
            # Superseding a top-up: the new award tops up the same paid award.
            paid = await repository.get(session, current.tops_up_award_id) if current.tops_up_award_id else None
            current.status = "superseded"
            ledger_note = f"supersedes {_describe(current)} ({previous_status})"
            if paid is not None:
                ledger_note += f"; tops up paid {_describe(paid)}: pays the difference"
        if paid is not None:
            award.tops_up_award_id = paid.id
            award.payable_yuan = body.amount_yuan - paid.amount_yuan
        # The old award stops standing before the new one is written: the unique index sees one at a time.
        await session.flush()
    try:
        await repository.add(session, award)
        await session.flush()
    except IntegrityError as exc:
        # Only if the lock were bypassed: the database still holds one standing award per key.
        if "stacking_key" not in str(exc.orig):
            raise
        raise AwardNotHigher(
            f"就高不重复: another award was made to stand for {key} at the same time; nothing was written. "
            "Read the standing award and retry if this one is higher."
        ) from None
    reason = "; ".join(part for part in (body.reason, ledger_note) if part) or None
    proposed = _event(award.id, "propose", None, "proposed", on, reason, principal)
    await repository.add_event(session, proposed)
    await session.flush()
    events = [
        award_event(
            award,
            EventType.AWARD_PROPOSED,
            None,
            on,
            reason,
            supersedes_award_id=current.id if current is not None and current.status == "superseded" else None,
            tops_up_award_id=award.tops_up_award_id,
        )
    ]
    if current is not None and previous_status is not None:
        if current.status == "superseded":
            current.superseded_by_id = award.id
            events.append(
                award_event(
                    current,
                    EventType.AWARD_SUPERSEDED,
                    previous_status,
                    on,
                    f"superseded by award {award.id} (就高不重复)",
                    superseded_by_award_id=award.id,
                )
            )
            event = _event(
                current.id,
                "supersede",
                previous_status,
                "superseded",
                on,
                f"superseded by {_describe(award)} (就高不重复)",
                principal,
            )
        else:
            event = _event(
                current.id,
                "top_up",
                "paid",
                "paid",
                on,
                f"topped up by {_describe(award)}, which pays the difference of {_yuan(award.payable_yuan)} yuan "
                "(就高不重复); this award no longer stands",
                principal,
            )
        await repository.add_event(session, event)
        await session.flush()
    await record_events(session, events)
    # A new award's history is the one event just written.
    return await detail(session, award, today, [proposed])


# ---- the workflow ----------------------------------------------------------------------------------------------


def _illegal(award: Award, action: str, today: date) -> AwardStepRefused:
    allowed = _allowed(award, today)
    return AwardStepRefused(
        f"Award {award.id} is {award.status}: {action} is not allowed from it; "
        f"allowed: {', '.join(allowed) if allowed else 'nothing (the award is closed)'}. Nothing was written.",
        award_id=award.id,
        current_status=award.status,
        allowed_actions=allowed,
    )


async def transition(
    session: AsyncSession,
    clock: Clock,
    principal: Principal,
    award_id: int,
    body: TransitionIn,
    notice_working_days: int,
) -> AwardDetail:
    key = await repository.stacking_key_of(session, award_id)
    if key is None:
        raise NotFound(f"There is no award {award_id}.")
    # The same lock as proposals: a payment, a rejection and a new award of the same subject never interleave.
    await repository.lock_key(session, key)
    award = await repository.get(session, award_id, fresh=True)
    assert award is not None
    step = STEPS[body.action]
    if award.status not in step.sources:
        raise _illegal(award, body.action, clock.today())
    if step.reason_required and body.reason is None:
        raise InvalidInput(
            f"To {body.action} an award, say why.",
            errors=[field_error(["body", "reason"], f"required to {body.action}")],
        )
    today = clock.today()
    on = body.on or today
    if on > today:
        raise InvalidInput(
            "A step takes effect today or on a day past, not in the future.",
            errors=[field_error(["body", "on"], f"{on} is after today ({today})")],
        )
    if body.action == "publicise" and on != today:
        raise InvalidInput(
            f"A notice (公示) starts on the day it is published, today ({today}); it cannot be backdated.",
            errors=[field_error(["body", "on"], f"a notice starts today ({today}), not on {on}")],
        )
    history = await repository.events(session, award.id)
    if history and on < history[-1].effective_on:
        raise InvalidInput(
            f"Award {award.id}'s previous step took effect on {history[-1].effective_on}; a later step cannot "
            "take effect before it.",
            errors=[field_error(["body", "on"], f"before the award's previous step ({history[-1].effective_on})")],
        )
    from_status = award.status
    resumes: Award | None = None
    if body.action == "publicise":
        award.publicised_on = on
        award.notice_ends_on = await notice_end(session, on, notice_working_days)
    elif body.action == "object":
        assert award.publicised_on is not None and award.notice_ends_on is not None
        if on < award.publicised_on:
            raise InvalidInput(
                f"The notice of award {award.id} began on {award.publicised_on}.",
                errors=[field_error(["body", "on"], f"before the notice began ({award.publicised_on})")],
            )
        if on > award.notice_ends_on:
            raise AwardStepRefused(
                f"The notice window of award {award.id} closed on {award.notice_ends_on}: an objection on {on} is "
                "outside it. Nothing was written.",
                award_id=award.id,
                current_status=award.status,
                notice_ends_on=award.notice_ends_on.isoformat(),
            )
        award.publicised_on = None
        award.notice_ends_on = None
    elif body.action == "pay":
        assert award.notice_ends_on is not None
        if on <= award.notice_ends_on:
            raise AwardStepRefused(
                f"Award {award.id} is in its notice window until {award.notice_ends_on} (公示期): it can be paid "
                "from the next day. Nothing was written.",
                award_id=award.id,
                current_status=award.status,
                notice_ends_on=award.notice_ends_on.isoformat(),
            )
        award.paid_on = on
    elif body.action in ("reject", "withdraw"):
        award.is_standing = False
        if award.tops_up_award_id is not None:
            # A top-up that fails leaves the paid award it topped up standing again.
            resumes = await repository.get(session, award.tops_up_award_id, fresh=True)
    award.status = step.target
    await session.flush()
    await repository.add_event(
        session, _event(award.id, body.action, from_status, award.status, on, body.reason, principal)
    )
    await session.flush()
    step_fields: dict[str, Any] = {}
    if body.action == "publicise":
        step_fields = {"publicised_on": on.isoformat(), "notice_ends_on": _iso(award.notice_ends_on)}
    elif body.action == "pay":
        step_fields = {"paid_on": on.isoformat()}
    await record_events(
        session, [award_event(award, ACTION_EVENTS[body.action], from_status, on, body.reason, **step_fields)]
    )
    if resumes is not None:
        resumes.is_standing = True
        await session.flush()
        await repository.add_event(
            session,
            _event(
                resumes.id,
                "resume",
                resumes.status,
                resumes.status,
                on,
                f"stands again: its top-up, award {award.id}, was {award.status}",
                principal,
            ),
        )
        await session.flush()
    return await detail(session, award, today)
