"""What the rules allow one subject under this policy's computable measures, on the registry's verified facts.

The facts are built exactly as screening builds them (services.eligibility.screenings.subjects), from the one
record the registry holds for the subject (read once, by services.eligibility.awards.identity); a fact that waits
for the city's verification is refused with that reason. M06 is capped by the district's award in the published
ranking of the year. Each answer carries the engine's trace, stored with the award.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from services.eligibility.awards.identity import DISTRICT_NAMES, Subject
from services.eligibility.awards.ranking import RankingClient
from services.eligibility.calculations.service import outcome_json
from services.eligibility.parameters.definitions import ParameterSet
from services.eligibility.rules import engine
from services.eligibility.rules.base import ZERO, Step, clause, facts_json
from services.eligibility.rules.engine import Outcome
from services.eligibility.rules.m06_district_ranking_award import M06Facts
from services.eligibility.screenings import subjects
from services.eligibility.screenings.subjects import Candidate, Gap, RecipientKind
from shared.errors import InvalidInput, field_error

PROJECT_KINDS = {measure_id: kind for kind, measure_id in subjects.PROJECT_MEASURES.items()}
REGISTRY_PATHS = {
    "project": "/projects",
    "cluster": "/clusters",
    "building": "/buildings",
    "enterprise": "/enterprises",
}


@dataclass(frozen=True, slots=True)
class Entitlement:
    maximum: Decimal
    district_code: str
    subject_name: str
    recipient_kind: RecipientKind
    recipient: str
    calculation: dict[str, Any]


def _invalid(detail: str, field: str, msg: str, **extensions: Any) -> InvalidInput:
    return InvalidInput(detail, errors=[field_error(["body", field], msg)], **extensions)


def _gap_error(measure_id: str, subject_id: str, gap: Gap) -> InvalidInput:
    return _invalid(
        f"{measure_id} cannot be computed for {subject_id}: {gap.message}.",
        "subject_id",
        f"{gap.message} ({gap.code})",
    )


def _pick(measure_id: str, subject_id: str, found: list[Candidate], gaps: list[Gap]) -> Candidate:
    for candidate in found:
        if candidate.measure_id == measure_id:
            return candidate
    for gap in gaps:
        if gap.measure_id == measure_id:
            raise _gap_error(measure_id, subject_id, gap)
    raise _invalid(f"{measure_id} does not apply to {subject_id}.", "subject_id", f"{measure_id} does not apply")


def _project(measure_id: str, subject_id: str, record: dict[str, Any]) -> Candidate:
    kind = PROJECT_KINDS[measure_id]
    if record["kind"] != kind:
        raise _invalid(
            f"Project {subject_id} is of kind {record['kind']!r}; {measure_id} applies to {kind!r} projects.",
            "subject_id",
            f"project {subject_id} is of kind {record['kind']!r}; {measure_id} needs kind {kind!r}",
        )
    found, gaps = subjects.project_candidates([record], record["year"])
    return _pick(measure_id, subject_id, found, gaps)


def _best_enterprise_year(
    measure_id: str,
    subject_id: str,
    record: dict[str, Any],
    facts_year: int | None,
    evaluate: Any,
) -> tuple[Candidate, Outcome, int]:
    years = sorted({item["year"] for item in record.get("years", ())})
    if facts_year is not None:
        if facts_year not in years:
            raise _invalid(
                f"The registry has no figures of {subject_id} for {facts_year}.",
                "facts_year",
                f"no figures for {facts_year}; the registry has {', '.join(map(str, years)) or 'none'}",
            )
        years = [facts_year]
    if not years:
        raise _invalid(
            f"The registry has no yearly figures of {subject_id}.", "subject_id", "the registry has no yearly figures"
        )
    best: tuple[Candidate, Outcome, int] | None = None
    last_gap: Gap | None = None
    for year in years:
        found, gaps = subjects.enterprise_candidates([record], year)
        candidate = next((c for c in found if c.measure_id == measure_id), None)
        if candidate is None:
            # A year whose figures wait for verification is passed over; it is the answer only if no year counts.
            last_gap = next((gap for gap in gaps if gap.measure_id == measure_id), last_gap)
            continue
        outcome: Outcome = evaluate(candidate)
        # The year that gives the most; among equals, the latest.
        if best is None or outcome.amount >= best[1].amount:
            best = (candidate, outcome, year)
    if best is None:
        if last_gap is not None:
            raise _gap_error(measure_id, subject_id, last_gap)
        raise _invalid(f"{measure_id} does not apply to {subject_id}.", "subject_id", f"{measure_id} does not apply")
    return best


async def assess(
    ranking: RankingClient,
    parameters: ParameterSet,
    *,
    measure_id: str,
    subject: Subject,
    year: int | None,
    facts_year: int | None,
    as_of: date,
) -> Entitlement:
    """The most the rules allow the subject under `measure_id` on `as_of`; a 422 problem if the registry does not
    hold the subject or lacks a verified fact; a 503 problem if the ranking cannot be read."""
    if measure_id == "M06":
        assert year is not None
        return await _m06(ranking, parameters, subject.subject_id, year, as_of)

    def evaluate(candidate: Candidate) -> Outcome:
        return engine.evaluate(measure_id, as_of, candidate.facts, parameters, year=candidate.year)

    record = subject.record
    if record is None:
        raise _invalid(
            f"There is no {subject.subject_type} {subject.subject_id} in the registry: {measure_id} is computed on "
            "the registry's facts, so register it first.",
            "subject_id",
            f"{subject.subject_type} {subject.subject_id} does not exist in the registry",
        )
    path = REGISTRY_PATHS[subject.subject_type]
    key = record.get("uscc") if subject.subject_type == "enterprise" else record["id"]
    source = f"registry: GET {path}/{key}"
    if subject.subject_type == "project":
        candidate = _project(measure_id, subject.subject_id, record)
        outcome = evaluate(candidate)
    elif subject.subject_type == "cluster":
        assert year is not None
        candidate = _pick(measure_id, subject.subject_id, *subjects.cluster_candidates([record], year))
        outcome = evaluate(candidate)
    elif subject.subject_type == "building":
        assert year is not None
        candidate = _pick(measure_id, subject.subject_id, *subjects.building_candidates([record], year))
        outcome = evaluate(candidate)
    else:
        candidate, outcome, _ = _best_enterprise_year(measure_id, subject.subject_id, record, facts_year, evaluate)
    calculation = {
        **outcome_json(outcome),
        "source": source,
        "facts_year": candidate.year,
        "facts": facts_json(candidate.facts),
    }
    return Entitlement(
        maximum=outcome.amount if outcome.eligible else ZERO,
        district_code=candidate.district_code,
        subject_name=candidate.subject_name,
        recipient_kind=candidate.recipient_kind,
        recipient=candidate.recipient,
        calculation=calculation,
    )


async def _m06(
    ranking: RankingClient, parameters: ParameterSet, district_code: str, year: int, as_of: date
) -> Entitlement:
    published = await ranking.published(year)
    if published is None:
        raise _invalid(
            f"There is no published ranking for {year}: M06 is paid on it (GET /api/v1/ranking/rankings/{year}).",
            "year",
            f"no published ranking for {year}",
        )
    row = next((row for row in published["rows"] if row["district_code"] == district_code), None)
    if row is None:
        raise _invalid(
            f"The published ranking of {year} (run {published['run_id']}) has no row for {district_code}.",
            "subject_id",
            f"{district_code} is not in the published ranking of {year}",
        )
    rank = int(row["rank"])
    awarded = Decimal(row["award_yuan"])
    outcome = engine.evaluate("M06", as_of, M06Facts(rank=rank), parameters)
    citation = clause("六")
    published_steps = [
        Step("published ranking", f"{year}, run {published['run_id']}", citation),
        Step(f"award of rank {rank} in the published ranking", f"{awarded:.2f}", citation),
    ]
    calculation = outcome_json(outcome)
    calculation["trace"] = [step._asdict() for step in published_steps] + calculation["trace"]
    calculation.update(
        {
            "source": f"ranking: GET /rankings/{year}",
            "ranking_run_id": published["run_id"],
            "facts_year": year,
            "facts": {"rank": rank},
        }
    )
    maximum = awarded if outcome.eligible else ZERO
    calculation["amount_yuan"] = f"{maximum:.2f}"
    return Entitlement(
        maximum=maximum,
        district_code=district_code,
        subject_name=DISTRICT_NAMES[district_code],
        recipient_kind="district",
        recipient=district_code,
        calculation=calculation,
    )
