"""Runs: compute a year's ranking from the registry and the award table, freeze it, and publish it."""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.ranking import CODE_VERSION
from services.ranking.methodologies import service as methodologies
from services.ranking.methodologies.models import Methodology
from services.ranking.runs import quality, repository
from services.ranking.runs.compute import Method, RankedDistrict, input_hash, rank_districts
from services.ranking.runs.models import Run
from services.ranking.runs.schemas import (
    Change,
    PublishIn,
    PublishOut,
    RowOut,
    RunCreate,
    RunOut,
    RunPage,
    RunSummary,
)
from services.ranking.settings import RankingSettings
from services.ranking.upstream.client import Upstreams
from shared.auth import Principal
from shared.errors import Conflict, InvalidInput, NotFound, field_error
from shared.pagination import decode_cursor, encode_cursor


def today() -> date:
    return datetime.now(UTC).date()


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
    )


def check_year(settings: RankingSettings, year: int, loc: list[str | int]) -> None:
    if not settings.first_year <= year <= settings.last_year:
        raise InvalidInput(
            f"There is no ranking year {year}.",
            errors=[field_error(loc, f"must lie within {settings.first_year} … {settings.last_year}")],
        )


def _row(district: RankedDistrict) -> RowOut:
    return RowOut.model_validate(
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
        }
    )


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


async def create(
    session: AsyncSession, upstreams: Upstreams, settings: RankingSettings, principal: Principal, data: RunCreate
) -> RunOut:
    check_year(settings, data.year, ["body", "year"])
    as_of = data.as_of or today()
    if not settings.policy_effective_from <= as_of <= settings.policy_effective_to:
        raise InvalidInput(
            f"The policy is not in force on {as_of}: no award table applies.",
            errors=[
                field_error(
                    ["body", "as_of"],
                    f"must lie within {settings.policy_effective_from} … {settings.policy_effective_to}",
                )
            ],
        )
    methodology = await methodologies.resolve(session, data.methodology_version, loc=["body", "methodology_version"])
    method = method_of(methodology)
    report = await upstreams.district_stats(data.year)
    award = await upstreams.award_table(as_of)

    inputs: dict[str, Any] = {
        "as_of": as_of.isoformat(),
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
    failures = quality.failures(report)
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
        "rows": [_row(district).model_dump(mode="json") for district in ranked],
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
    session: AsyncSession, *, year: int | None, status: str | None, cursor: str | None, limit: int
) -> RunPage:
    before_id = None
    if cursor is not None:
        before_id = decode_cursor(cursor)
        if not isinstance(before_id, int) or isinstance(before_id, bool):
            raise InvalidInput(
                "The cursor is not one this service issued.",
                errors=[field_error(["query", "cursor"], "invalid cursor")],
            )
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
    return RunPage(items=items, next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None)


def changes_between(previous: Run, current: Run) -> list[Change]:
    before = {row["district_code"]: row for row in previous.document["rows"]}
    found: list[Change] = []
    for row in current.document["rows"]:
        old = before[row["district_code"]]
        if old["rank"] != row["rank"] or Decimal(old["award_yuan"]) != Decimal(row["award_yuan"]):
            found.append(
                Change(
                    district_code=row["district_code"],
                    district_name=row["district_name"],
                    previous_rank=old["rank"],
                    rank=row["rank"],
                    previous_award_yuan=Decimal(old["award_yuan"]),
                    award_yuan=Decimal(row["award_yuan"]),
                )
            )
    return found


async def publish(session: AsyncSession, principal: Principal, run_id: int, data: PublishIn) -> PublishOut:
    run = await load(session, run_id, for_update=True)
    if run.status != "draft":
        raise Conflict(f"Run {run_id} is {run.status}: only a draft can be published, once.", run_status=run.status)
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
    current = await repository.published(session, run.year, for_update=True)
    reason = data.reason or None
    now = datetime.now(UTC)
    changes: list[Change] = []
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
    return PublishOut(
        run_id=run.id,
        year=run.year,
        status="published",
        published_at=now,
        published_by=principal.label,
        publish_reason=reason,
        supersedes_run_id=run.supersedes_run_id,
        changes=changes,
    )
