"""Published rankings: what anyone may read, the history of a year's publications, and the notice exports."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.ranking.rankings.schemas import RankingHistory, RankingOut, RankingPublication
from services.ranking.runs import repository as runs_repository
from services.ranking.runs.service import check_year, to_out
from services.ranking.upstream.client import Upstreams
from shared.clock import Clock
from shared.errors import NotFound


async def check_ranking_year(upstreams: Upstreams, clock: Clock, year: int) -> None:
    """A year without a publication: a 422 if the policy does not reward it (the eligibility service's parameters
    decide, as of today), so that only a covered year is a plain 404. A published year needs no upstream."""
    check_year(await upstreams.policy_validity(clock.today()), year, ["path", "year"])


async def published(session: AsyncSession, upstreams: Upstreams, clock: Clock, year: int) -> RankingOut:
    run = await runs_repository.published(session, year)
    if run is None or run.published_at is None or run.published_by is None:
        await check_ranking_year(upstreams, clock, year)
        raise NotFound(f"No ranking has been published for {year}.")
    out = to_out(run)
    return RankingOut(
        year=out.year,
        run_id=out.run_id,
        methodology_version=out.methodology_version,
        methodology=out.methodology,
        code_version=out.code_version,
        input_hash=out.input_hash,
        as_of=out.as_of,
        published_at=run.published_at,
        published_by=run.published_by,
        publish_reason=out.publish_reason,
        supersedes_run_id=out.supersedes_run_id,
        total_award_yuan=out.total_award_yuan,
        rows=out.rows,
        boundary_ties=out.boundary_ties,
    )


async def history(session: AsyncSession, upstreams: Upstreams, clock: Clock, year: int) -> RankingHistory:
    items: list[RankingPublication] = []
    for run in await runs_repository.publication_history(session, year):
        out = to_out(run)
        assert out.published_at is not None and out.published_by is not None  # published or superseded
        items.append(
            RankingPublication(
                run_id=out.run_id,
                status=out.status,
                methodology_version=out.methodology_version,
                input_hash=out.input_hash,
                total_award_yuan=out.total_award_yuan,
                published_at=out.published_at,
                published_by=out.published_by,
                publish_reason=out.publish_reason,
                supersedes_run_id=out.supersedes_run_id,
                superseded_at=out.superseded_at,
                superseded_by_run_id=out.superseded_by_run_id,
                changes=out.changes,
            )
        )
    if not items:
        await check_ranking_year(upstreams, clock, year)
    return RankingHistory(year=year, items=items)
