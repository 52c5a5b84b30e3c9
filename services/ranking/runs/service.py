"""Runs: compute a year's ranking from the registry and the award table, freeze it, and publish it."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.ranking import CODE_VERSION
from services.ranking.methodologies import service as methodologies
from services.ranking.methodologies.models import Methodology
from services.ranking.runs import quality, repository
from services.ranking.runs.compute import (
    BoundaryTie,
    Method,
    RankedDistrict,
    boundary_ties,
    input_hash,
    rank_districts,
)
from services.ranking.runs.models import Run
from services.ranking.runs.schemas import (
    BoundaryTieOut,
    RankingChange,
    RankingRow,
    RunCreate,
    RunOut,
    RunPage,
    RunPublishIn,
    RunPublishOut,
    RunSummary,
)
from services.ranking.upstream.client import Upstreams
from services.ranking.upstream.schemas import PolicyValidity
from services.ranking.vocabulary import API_NEW_COUNT
from shared.auth import Principal
from shared.clock import Clock, utcnow
from shared.errors import Conflict, InvalidInput, NotFound, field_error
from shared.events import EventSubjectType, EventType, event_data, public_path, yuan
from shared.outbox import NewEvent, record_events
from shared.pagination import next_cursor


def method_of(methodology: Methodology) -> Method:
    return Method(
        version=methodology.version,
        weights={
            "new_count": methodology.weight_new_count,
            "net_increase": methodology.weight_net_increase,
            "revenue_growth": methodology.weight_revenue_growth,
        },
        normalisation=methodology.normalisation,
        growth_basis=methodology.growth_basis,
        min_base=methodology.min_base,
        winsorise=methodology.winsorise,
        tie_break=tuple(methodology.tie_break),
        max_unreported_share=methodology.max_unreported_share,
    )


def check_year(validity: PolicyValidity, year: int, loc: list[str | int]) -> None:
    """A year the policy rewards, as the eligibility service's parameters say (附则)."""
    if not validity.covers_year(year):
        raise InvalidInput(
            f"There is no ranking year {year}: the policy rewards {validity.first_rewarded_year} … "
            f"{validity.last_rewarded_year}.",
            errors=[
                field_error(
                    loc,
                    f"must lie within {validity.first_rewarded_year} … {validity.last_rewarded_year}, the years the "
                    "policy rewards",
                )
            ],
        )


def check_year_ended(clock: Clock, year: int, loc: list[str | int], *, doing: str) -> None:
    """A year is ranked (and its ranking published) only once it has ended: today (Asia/Shanghai) after 31 Dec."""
    end = date(year, 12, 31)
    today = clock.today()
    if today <= end:
        first_day = end + timedelta(days=1)
        raise InvalidInput(
            f"{year} has not ended (today is {today}, Asia/Shanghai): its ranking can be {doing} from {first_day}.",
            errors=[field_error(loc, f"the year {year} has not ended; its ranking can be {doing} from {first_day}")],
        )


def award_as_of(validity: PolicyValidity, year: int, given: date | None) -> date:
    """The date the award table is read for: the given one (within the force), or 31 December of the year ranked
    moved into the force (the 2027 ranking, made in 2028 after the policy ends, reads the table of 2027-12-31)."""
    if given is None:
        return validity.clamp(date(year, 12, 31))
    if not validity.in_force(given):
        raise InvalidInput(
            f"The policy is not in force on {given}: no award table applies.",
            errors=[
                field_error(["body", "as_of"], f"must lie within {validity.effective_from} … {validity.effective_to}")
            ],
        )
    return given


# A run's rows are stored as before the rename (services.ranking.vocabulary): `new_count` only.
STORED_ROW_EXCLUDE: dict[str, Any] = {
    API_NEW_COUNT: True,
    **{values: {API_NEW_COUNT} for values in ("indicators", "normalised", "contributions")},
}


def _row(district: RankedDistrict) -> RankingRow:
    return RankingRow.model_validate(
        {
            "district_code": district.district_code,
            "district_name": district.district_name,
            "new_count": district.new_count,
            "exited_count": district.exited_count,
            "net_increase": district.net_increase,
            "revenue_yuan": district.revenue_yuan,
            "comparable_count": district.comparable_count,
            "revenue_growth": district.revenue_growth,
            "growth_used": district.growth_used,
            "growth_capped": district.growth_capped,
            "indicators": district.indicators,
            "normalised": district.normalised,
            "contributions": district.contributions,
            "score": district.score,
            "rank": district.rank,
            "award_yuan": district.award_yuan,
            "lead_over_lower_tier": district.lead_over_lower_tier,
            "gap_to_higher_tier": district.gap_to_higher_tier,
            "above_scale_count": district.above_scale_count,
            "prior_above_scale_count": district.prior_above_scale_count,
            "moved_in_count": district.moved_in_count,
            "moved_out_count": district.moved_out_count,
            "unreported_count": district.unreported_count,
            "awaiting_verification_count": district.awaiting_verification_count,
            "award_eligible": district.award_eligible,
            "award_ineligible_reason": district.award_ineligible_reason,
        }
    )


def _tie(tie: BoundaryTie) -> dict[str, Any]:
    return {
        "boundary": tie.boundary,
        "last_rank_of_tier": tie.last_rank_of_tier,
        "score": f"{tie.score:.6f}",
        "decided_by": tie.decided_by,
        "districts": [
            {
                "district_code": district.district_code,
                "district_name": district.district_name,
                "rank": district.rank,
                "award_yuan": f"{district.award_yuan:.2f}",
            }
            for district in tie.districts
        ],
    }


def to_out(run: Run) -> RunOut:
    document = run.document
    return RunOut.model_validate(
        {
            "run_id": run.id,
            "year": run.year,
            "status": run.status,
            "as_of": run.as_of,
            "methodology_version": run.methodology_version,
            "methodology": document["methodology"],
            "code_version": run.code_version,
            "input_hash": run.input_hash,
            "inputs": document["inputs"],
            "quality": document["quality"],
            "total_award_yuan": document["total_award_yuan"],
            "rows": document["rows"],
            "boundary_ties": document.get("boundary_ties", []),
            "code_decided_money": code_decided_money(document),
            "created_at": run.created_at,
            "created_by": run.created_by,
            "published_at": run.published_at,
            "published_by": run.published_by,
            "publish_reason": run.publish_reason,
            "supersedes_run_id": run.supersedes_run_id,
            "superseded_at": run.superseded_at,
            "superseded_by_run_id": run.superseded_by_run_id,
            "changes": run.changes,
        }
    )


def code_decided_money(document: dict[str, Any]) -> bool:
    """district_code, not an indicator, decided an award boundary of the run."""
    return any(tie["decided_by"] == "district_code" for tie in document.get("boundary_ties", []))


async def create(
    session: AsyncSession, upstreams: Upstreams, clock: Clock, principal: Principal, data: RunCreate
) -> RunOut:
    validity = await upstreams.policy_validity(data.as_of or date(data.year, 12, 31))
    check_year(validity, data.year, ["body", "year"])
    check_year_ended(clock, data.year, ["body", "year"], doing="run")
    as_of = award_as_of(validity, data.year, data.as_of)
    methodology = await methodologies.resolve(session, data.methodology_version, loc=["body", "methodology_version"])
    method = method_of(methodology)
    report = await upstreams.district_stats(data.year)
    award = await upstreams.award_table(as_of)

    inputs: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "policy": {
            "effective_from": validity.effective_from.isoformat(),
            "effective_to": validity.effective_to.isoformat(),
            "first_rewarded_year": validity.first_rewarded_year,
            "last_rewarded_year": validity.last_rewarded_year,
            "citation": validity.citation,
        },
        "registry": report.model_dump(mode="json"),
        "award_table": {
            "parameter": award.parameter,
            "citation": award.citation,
            "by_rank": {str(rank): f"{amount:.2f}" for rank, amount in sorted(award.by_rank.items())},
        },
    }
    canonical_method = method.canonical()
    digest = input_hash(data.year, inputs, canonical_method)
    ranked = rank_districts(report.districts, method, award)
    ties = boundary_ties(ranked, award, method.tie_break)
    failures = quality.failures(report, max_unreported_share=method.max_unreported_share)
    total = sum((district.award_yuan for district in ranked), Decimal("0.00"))
    document = {
        "year": data.year,
        "as_of": as_of.isoformat(),
        "inputs": inputs,
        "methodology": canonical_method,
        "code_version": CODE_VERSION,
        "input_hash": digest,
        "quality": {"passed": not failures, "failures": failures},
        "total_award_yuan": f"{total:.2f}",
        "rows": [_row(district).model_dump(mode="json", exclude=STORED_ROW_EXCLUDE) for district in ranked],
        "boundary_ties": [_tie(tie) for tie in ties],
    }
    run = Run(
        year=data.year,
        methodology_version=methodology.version,
        as_of=as_of,
        input_hash=digest,
        code_version=CODE_VERSION,
        quality_passed=not failures,
        document=document,
        status="draft",
        created_by=principal.label,
    )
    repository.add(session, run)
    await session.flush()
    return to_out(run)


async def load(session: AsyncSession, run_id: int, *, for_update: bool = False) -> Run:
    run = await repository.get(session, run_id, for_update=for_update)
    if run is None:
        raise NotFound(f"No ranking run with id {run_id}.")
    return run


async def read(session: AsyncSession, run_id: int) -> RunOut:
    return to_out(await load(session, run_id))


async def list_page(
    session: AsyncSession, *, year: int | None, status: str | None, before_id: int | None, limit: int
) -> RunPage:
    rows = await repository.page(session, year=year, status=status, before_id=before_id, limit=limit + 1)
    items = [
        RunSummary(
            run_id=run.id,
            year=run.year,
            status=run.status,
            as_of=run.as_of,
            methodology_version=run.methodology_version,
            code_version=run.code_version,
            input_hash=run.input_hash,
            quality_passed=run.quality_passed,
            total_award_yuan=Decimal(run.document["total_award_yuan"]),
            created_at=run.created_at,
            created_by=run.created_by,
            published_at=run.published_at,
        )
        for run in rows[:limit]
    ]
    return RunPage(items=items, next_cursor=next_cursor(rows, limit, lambda run: run.id))


def changes_between(previous: Run, current: Run) -> list[RankingChange]:
    before = {row["district_code"]: row for row in previous.document["rows"]}
    found: list[RankingChange] = []
    for row in current.document["rows"]:
        old = before[row["district_code"]]
        if old["rank"] != row["rank"] or Decimal(old["award_yuan"]) != Decimal(row["award_yuan"]):
            found.append(
                RankingChange(
                    district_code=row["district_code"],
                    district_name=row["district_name"],
                    previous_rank=old["rank"],
                    rank=row["rank"],
                    previous_award_yuan=Decimal(old["award_yuan"]),
                    award_yuan=Decimal(row["award_yuan"]),
                )
            )
    return found


# The measure the ranking's awards are paid under (第六条: the top ten districts), the events' `measure_id`.
RANKING_MEASURE = "M06"


def publication_events(run: Run, previous: Run | None, now: datetime) -> list[NewEvent]:
    """One event per ranked district, with its own rank and award (and, on a republication, the ones before).

    Per district rather than one for the ranking as a whole: a district's subscription sees the events of its own
    district only, and every district (not only the ten that are awarded) is ranked and learns its place; the
    city's and the auditor's subscriptions get every district's. All share the subject `ranking:<year>`."""
    event_type = EventType.RANKING_PUBLISHED if previous is None else EventType.RANKING_REPUBLISHED
    before = {row["district_code"]: row for row in previous.document["rows"]} if previous is not None else {}
    events: list[NewEvent] = []
    for row in run.document["rows"]:
        old = before.get(row["district_code"])
        fields: dict[str, Any] = {
            "run_id": run.id,
            "district_name": row["district_name"],
            "rank": row["rank"],
            "award_yuan": yuan(Decimal(row["award_yuan"])),
            "award_eligible": row.get("award_eligible"),
            "published_at": now.isoformat(),
            "publish_reason": run.publish_reason,
        }
        if previous is not None:
            fields |= {
                "previous_run_id": previous.id,
                "previous_rank": old["rank"] if old is not None else None,
                "previous_award_yuan": yuan(Decimal(old["award_yuan"])) if old is not None else None,
                "changed": old is None
                or old["rank"] != row["rank"]
                or Decimal(old["award_yuan"]) != Decimal(row["award_yuan"]),
            }
        events.append(
            NewEvent(
                type=event_type,
                district_code=row["district_code"],
                subject=f"ranking:{run.year}",
                data=event_data(
                    public_path("ranking", "rankings", run.year),
                    measure_id=RANKING_MEASURE,
                    subject_type=EventSubjectType.DISTRICT.value,
                    year=run.year,
                    **fields,
                ),
                occurred_at=now,
            )
        )
    return events


class RunNotDraft(Conflict):
    """Only a draft is published, once."""

    slug = "run-not-draft"


async def publish(
    session: AsyncSession, clock: Clock, principal: Principal, run_id: int, data: RunPublishIn
) -> RunPublishOut:
    run = await load(session, run_id, for_update=True)
    if run.status != "draft":
        raise RunNotDraft(
            f"Run {run_id} is {run.status}: only a draft can be published, once.",
            current_status=run.status,
            run_status=run.status,
        )
    check_year_ended(clock, run.year, ["run", "year"], doing="published")
    if not run.quality_passed:
        failures = run.document["quality"]["failures"]
        raise InvalidInput(
            f"Run {run_id} fails the data-quality gate; fix the registry's figures and compute a new run.",
            errors=[
                field_error(
                    ["quality", failure["check"], *([failure["district_code"]] if failure["district_code"] else [])],
                    failure["msg"],
                )
                for failure in failures
            ],
            failures=failures,
        )
    reason = data.reason or None
    ties = [tie for tie in run.document.get("boundary_ties", []) if tie["decided_by"] == "district_code"]
    if ties and reason is None:
        decided = "; ".join(
            f"{tie['boundary']}: " + ", ".join(district["district_code"] for district in tie["districts"])
            for tie in ties
        )
        raise InvalidInput(
            f"In run {run_id} no indicator separates districts of equal score at an award boundary ({decided}): "
            "the district code decided money, so publishing needs a reason (METHODOLOGY.md, boundary ties).",
            errors=[field_error(["body", "reason"], "required: district_code decided an award boundary of this run")],
            boundary_ties=[BoundaryTieOut.model_validate(tie).model_dump(mode="json") for tie in ties],
        )
    current = await repository.published(session, run.year, for_update=True)
    now = utcnow()
    changes: list[RankingChange] = []
    if current is not None:
        if reason is None:
            raise InvalidInput(
                f"{run.year} already has a published ranking (run {current.id}); replacing it needs a reason.",
                errors=[field_error(["body", "reason"], "required when the year already has a published ranking")],
            )
        changes = changes_between(current, run)
        current.status = "superseded"
        current.superseded_at = now
        current.superseded_by_run_id = run.id
        # The superseded row leaves the one-published-per-year index before the new one enters it.
        await session.flush()
    run.status = "published"
    run.published_at = now
    run.published_by = principal.label
    run.publish_reason = reason
    run.supersedes_run_id = current.id if current is not None else None
    run.changes = [change.model_dump(mode="json") for change in changes] if current is not None else None
    await session.flush()
    await record_events(session, publication_events(run, current, now))
    return RunPublishOut(
        run_id=run.id,
        year=run.year,
        status="published",
        published_at=now,
        published_by=principal.label,
        publish_reason=reason,
        supersedes_run_id=run.supersedes_run_id,
        changes=changes,
    )
