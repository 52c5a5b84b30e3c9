"""Screening (免申即享): every subject of the registry against every computable measure.

The registry is read page by page (several districts at once) and each page is evaluated as it arrives, in a worker
thread, so that the evaluation overlaps the reading and the event loop only hands pages over.
"""

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from services.eligibility.parameters.definitions import ParameterSet, Params
from services.eligibility.registry_client.client import RegistryClient, run_all
from services.eligibility.rules import engine
from services.eligibility.rules.base import ZERO
from services.eligibility.rules.engine import Outcome
from services.eligibility.screenings import subjects
from services.eligibility.screenings.schemas import (
    DistrictTotal,
    MeasureTotal,
    NotScreened,
    ReasonCount,
    ScreenedSubject,
    ScreeningIn,
    ScreeningOut,
    ScreeningReasonCode,
    ScreeningTotals,
    SubjectsRead,
)
from services.eligibility.screenings.subjects import Candidate, Gap
from shared.auth import Principal
from shared.perf import gc_paused
from shared.reference import DISTRICT_CODES
from shared.scoping import listing_district

NOT_SCREENED = [
    NotScreened(
        measure_id="M06",
        reason="paid on the yearly ranking the ranking service publishes; see GET /api/v1/ranking/rankings/{year}",
    )
]

Consumer = Callable[[list[Candidate], list[Gap]], None]
Converter = Callable[[list[dict[str, Any]], int], tuple[list[Candidate], list[Gap]]]


class PageWorker:
    """Runs the work on each page in a worker thread, one page at a time in the order they arrive.

    A screening of the whole registry is seconds of CPU: on the event loop it would hold every other request of the
    process (eight at once made a district's screening 35 times slower). `consume` is called in those threads, never
    two at once, so it needs no lock. At most `MAX_WAITING` pages wait for their turn: beyond that, `submit` (and so
    the reading of the registry) waits, so a screening never holds the whole registry's pages at once.
    """

    MAX_WAITING = 4

    def __init__(self) -> None:
        self._turn = asyncio.Lock()
        self._room = asyncio.Semaphore(self.MAX_WAITING)
        self._tasks: list[asyncio.Task[None]] = []

    async def submit(self, work: Callable[[], None]) -> None:
        await self._room.acquire()
        self._tasks.append(asyncio.create_task(self._run(work)))

    async def _run(self, work: Callable[[], None]) -> None:
        try:
            async with self._turn:
                await asyncio.to_thread(work)
        finally:
            self._room.release()

    async def finish(self) -> None:
        await asyncio.gather(*self._tasks)

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()


async def read_subjects(
    registry: RegistryClient, year: int, district_code: str | None, consume: Consumer
) -> SubjectsRead:
    """Read every project of `year`, cluster, building and enterprise (of one district or all), page by page, each
    page converted and handed to `consume` in a worker thread."""
    counts = {"projects": 0, "clusters": 0, "buildings": 0, "enterprises": 0}
    worker = PageWorker()

    def feed(kind: str, convert: Converter) -> Callable[[list[Any]], Awaitable[None]]:
        def work(items: list[Any]) -> None:
            with gc_paused():
                found, missing = convert(items, year)
                consume(found, missing)

        async def on_page(items: list[Any]) -> None:
            counts[kind] += len(items)
            await worker.submit(lambda: work(items))

        return on_page

    scope: dict[str, str | int] = {"district_code": district_code} if district_code else {}
    enterprises = feed("enterprises", subjects.enterprise_candidates)
    try:
        await run_all(
            [
                registry.each_page("/projects", {**scope, "year": year}, feed("projects", subjects.project_candidates)),
                registry.each_page("/clusters", scope, feed("clusters", subjects.cluster_candidates)),
                registry.each_page("/buildings", scope, feed("buildings", subjects.building_candidates)),
                # The large list is read district by district, several at once.
                # A district's enterprises of the year: one that has moved since is screened where its year was.
                registry.each_page("/enterprises", {**scope, "year": year}, enterprises)
                if district_code
                else registry.each_page_by_district("/enterprises", sorted(DISTRICT_CODES), None, enterprises),
            ]
        )
        await worker.finish()
    finally:
        worker.cancel()  # a failed read: the pages still waiting are not evaluated
    return SubjectsRead(**counts)


def measure_order(measure_id: str) -> tuple[int, str]:
    return int(measure_id[1:3]), measure_id[3:]


def subject_order(candidate: Candidate) -> tuple[tuple[int, str], str, str]:
    return measure_order(candidate.measure_id), candidate.district_code, candidate.subject_id


def evaluate(candidate: Candidate, as_of: date, parameters: ParameterSet, params: Params | None) -> Outcome:
    return engine.evaluate(
        candidate.measure_id, as_of, candidate.facts, parameters, params, traced=False, year=candidate.year
    )


@dataclass
class ReasonTally:
    """Ineligible subjects counted by measure and reason, with the message of the first subject in order."""

    counts: dict[tuple[str, ScreeningReasonCode], list[Any]] = field(default_factory=dict)

    def add(self, measure_id: str, code: ScreeningReasonCode, subject_id: str, message: str) -> None:
        entry = self.counts.get((measure_id, code))
        if entry is None:
            self.counts[(measure_id, code)] = [1, subject_id, message]
            return
        entry[0] += 1
        if subject_id < entry[1]:
            entry[1], entry[2] = subject_id, message

    def reason_counts(self) -> list[ReasonCount]:
        """The counts by measure (catalogue order) and reason code."""
        return [
            ReasonCount(measure_id=measure_id, code=code, count=entry[0], example=entry[2])
            for (measure_id, code), entry in sorted(
                self.counts.items(), key=lambda pair: (measure_order(pair[0][0]), pair[0][1])
            )
        ]


@dataclass
class Screening:
    """Accumulates one screening's outcomes page by page."""

    as_of: date
    parameters: ParameterSet
    district_code: str | None = None
    evaluations: int = 0
    eligible: list[tuple[Candidate, Decimal]] = field(default_factory=list)
    reasons: ReasonTally = field(default_factory=ReasonTally)

    def consume(self, candidates: list[Candidate], gaps: list[Gap]) -> None:
        if self.district_code is not None:
            # An enterprise that has moved is screened for the district of the year screened, not its present one.
            candidates = [c for c in candidates if c.district_code == self.district_code]
            gaps = [g for g in gaps if g.district_code == self.district_code]
        self.evaluations += len(candidates)
        for candidate in candidates:
            outcome = evaluate(candidate, self.as_of, self.parameters, None)
            if outcome.eligible:
                self.eligible.append((candidate, outcome.amount))
            else:
                reason = outcome.reasons[0]
                self.reasons.add(candidate.measure_id, reason.code, candidate.subject_id, reason.message)
        for gap in gaps:
            self.reasons.add(gap.measure_id, gap.code, gap.subject_id, gap.message)

    def totals(self) -> ScreeningTotals:
        by_measure: dict[str, tuple[int, Decimal]] = defaultdict(lambda: (0, ZERO))
        by_district: dict[str, tuple[int, Decimal]] = defaultdict(lambda: (0, ZERO))
        amount = ZERO
        for candidate, value in self.eligible:
            amount += value
            for tally, key in ((by_measure, candidate.measure_id), (by_district, candidate.district_code)):
                count, total = tally[key]
                tally[key] = (count + 1, total + value)
        return ScreeningTotals(
            count=len(self.eligible),
            amount_yuan=amount,
            by_measure=[
                MeasureTotal(measure_id=key, count=count, amount_yuan=total)
                for key, (count, total) in sorted(by_measure.items(), key=lambda pair: measure_order(pair[0]))
            ],
            by_district=[
                DistrictTotal(district_code=key, count=count, amount_yuan=total)
                for key, (count, total) in sorted(by_district.items())
            ],
        )


def subject_out(candidate: Candidate, amount: Decimal) -> ScreenedSubject:
    return ScreenedSubject(
        measure_id=candidate.measure_id,
        subject_type=candidate.subject_type,
        subject_id=candidate.subject_id,
        subject_name=candidate.subject_name,
        district_code=candidate.district_code,
        recipient_kind=candidate.recipient_kind,
        recipient=candidate.recipient,
        amount_yuan=amount,
        facts=candidate.facts,
    )


async def screen(
    registry: RegistryClient, parameters: ParameterSet, principal: Principal, body: ScreeningIn
) -> ScreeningOut:
    district_code = listing_district(principal, body.district_code)
    screening = Screening(body.as_of, parameters, district_code)
    read = await read_subjects(registry, body.year, district_code, screening.consume)
    # Sorting and building the answer of thousands of eligible subjects is CPU too.
    return await asyncio.to_thread(_screening_out, screening, parameters, body, district_code, read)


def _screening_out(
    screening: Screening, parameters: ParameterSet, body: ScreeningIn, district_code: str | None, read: SubjectsRead
) -> ScreeningOut:
    with gc_paused():
        screening.eligible.sort(key=lambda pair: subject_order(pair[0]))
        return ScreeningOut(
            as_of=body.as_of,
            year=body.year,
            district_code=district_code,
            policy_in_force=parameters.policy.in_force(body.as_of),
            year_rewarded=parameters.at(body.as_of).rewards_year(body.year),
            subjects_read=read,
            evaluations=screening.evaluations,
            eligible=[subject_out(candidate, amount) for candidate, amount in screening.eligible],
            not_eligible=screening.reasons.reason_counts(),
            totals=screening.totals(),
            not_screened=NOT_SCREENED,
        )
