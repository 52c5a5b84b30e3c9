"""The nightly screening of every year in force, stored as a snapshot and compared with the previous one.

Which years: the years the policy rewards (the parameters `policy.first_rewarded_year` … `policy.last_rewarded_year`,
附则, as on the day) up to the current year (a later year has no figures yet), and only while the policy is in force
on the day: outside it every subject is "not in force", and a snapshot then would report every enterprise as no
longer eligible.

Each year is screened like `POST /screenings` for the whole registry (the same code), with `as_of` = today in
China; the eligible (measure, subject) pairs and their amounts are stored, and compared with the previous snapshot
of the same year, in one transaction with the events that report the difference:

- `enterprise.newly_eligible`: a pair eligible now and not in the previous snapshot; `enterprise.no_longer_eligible`:
  one in the previous snapshot and not now (its amount is the one it had). A pair eligible in both with another
  amount (a parameter amended) is no event: the eligibility did not change, and `parameter.amended` reports the cause.
- Every pair that concerns an enterprise produces them, with subject `enterprise:<uscc>`: an enterprise's own
  measures (M07a, M07b; the district receives M07a, but it is the enterprise's listing), a project's (M01, M02, M13:
  the owner enterprise) and a star building's (M05: the operating enterprise). `data.subject_type` and
  `data.subject_id` say which subject it is, so a subscription can filter on the subject type. A cluster's (M03)
  produces none: its money goes to a district government or a city department (隶属关系), no enterprise is concerned.
- The first snapshot of a year records the baseline and no events: there is nothing to compare with, and "newly" is
  a change seen between two screenings. Reporting every pair of the first one would announce, the night the feature
  is deployed, thousands of enterprises as newly eligible that have been eligible for months; and the first
  snapshot of a new year is taken on its first night, when the year has no verified facts yet, so everything that
  becomes eligible in that year is still reported, by the later snapshots.

A screening that cannot read the whole registry fails (503 upstream) and stores nothing: a partial screening would
report everything it did not read as no longer eligible. The task is retried.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.eligibility.parameters.definitions import ParameterSet
from services.eligibility.registry_client.client import RegistryClient
from services.eligibility.rules.base import ZERO
from services.eligibility.screenings import repository
from services.eligibility.screenings.models import ScreeningSnapshot, ScreeningSnapshotEntry
from services.eligibility.screenings.service import Screening, measure_order, read_subjects
from services.eligibility.screenings.subjects import Candidate
from shared.events import EventType, event_data, public_path, yuan
from shared.outbox import NewEvent, record_events

SERVICE = "eligibility"
# The subject types whose eligibility concerns an enterprise, and which enterprise: the subject itself, or the
# owner / operator that receives the money (the candidate's recipient, a credit code).
ENTERPRISE_SUBJECT_TYPES = frozenset({"enterprise", "project", "building"})

Key = tuple[str, str, str]  # (measure_id, subject_type, subject_id)


def years_in_force(parameters: ParameterSet, today: date) -> list[int]:
    """The years a nightly screening covers on `today`: those the policy rewards, up to the current year, while the
    policy is in force (none otherwise)."""
    if not parameters.policy.in_force(today):
        return []
    first, last = parameters.at(today).rewarded_years()
    return list(range(first, min(last, today.year) + 1))


async def screen_year(registry: RegistryClient, parameters: ParameterSet, year: int, as_of: date) -> Screening:
    """The whole registry's screening of `year` on `as_of`, as `POST /screenings` computes it (the city's)."""
    screening = Screening(as_of, parameters, None)
    await read_subjects(registry, year, None, screening.consume)
    return screening


def enterprise_of(subject_type: str, subject_id: str, recipient_kind: str, recipient: str) -> str | None:
    """The credit code of the enterprise an eligible pair concerns, or None (a cluster)."""
    if subject_type not in ENTERPRISE_SUBJECT_TYPES:
        return None
    if subject_type == "enterprise":
        return subject_id
    return recipient if recipient_kind == "enterprise" else None


def entry_row(candidate: Candidate, amount: Decimal) -> dict[str, Any]:
    return {
        "measure_id": candidate.measure_id,
        "subject_type": candidate.subject_type,
        "subject_id": candidate.subject_id,
        "subject_name": candidate.subject_name[:200],
        "district_code": candidate.district_code,
        "recipient_kind": candidate.recipient_kind,
        "recipient": candidate.recipient,
        "enterprise_uscc": enterprise_of(
            candidate.subject_type, candidate.subject_id, candidate.recipient_kind, candidate.recipient
        ),
        "amount_yuan": amount,
    }


def _key(row: dict[str, Any]) -> Key:
    return row["measure_id"], row["subject_type"], row["subject_id"]


def _order(row: dict[str, Any]) -> tuple[tuple[int, str], str, str]:
    return measure_order(row["measure_id"]), row["subject_type"], row["subject_id"]


def _stored(entry: ScreeningSnapshotEntry) -> dict[str, Any]:
    return {
        "measure_id": entry.measure_id,
        "subject_type": entry.subject_type,
        "subject_id": entry.subject_id,
        "subject_name": entry.subject_name,
        "district_code": entry.district_code,
        "recipient_kind": entry.recipient_kind,
        "recipient": entry.recipient,
        "enterprise_uscc": entry.enterprise_uscc,
        "amount_yuan": entry.amount_yuan,
    }


@dataclass(frozen=True)
class Difference:
    newly: list[dict[str, Any]]
    no_longer: list[dict[str, Any]]


def difference(previous: Sequence[dict[str, Any]], current: Sequence[dict[str, Any]]) -> Difference:
    """The pairs concerning an enterprise that became eligible, and those that stopped, in catalogue order."""
    before = {_key(row): row for row in previous}
    now = {_key(row): row for row in current}
    newly = [row for key, row in now.items() if key not in before and row["enterprise_uscc"]]
    no_longer = [row for key, row in before.items() if key not in now and row["enterprise_uscc"]]
    return Difference(sorted(newly, key=_order), sorted(no_longer, key=_order))


@dataclass(frozen=True)
class SnapshotOutcome:
    snapshot_id: int
    year: int
    as_of: date
    baseline: bool
    eligible: int
    newly_eligible: int
    no_longer_eligible: int
    pruned: int


def _event_data(row: dict[str, Any], year: int, as_of: date, snapshot_id: int) -> dict[str, Any]:
    uscc = row["enterprise_uscc"]
    return event_data(
        # What the enterprise qualifies for in that year, with the ledger's holdings: its matches.
        f"{public_path(SERVICE, 'enterprises', uscc, 'matches')}?year={year}",
        measure_id=row["measure_id"],
        subject_type=row["subject_type"],
        year=year,
        subject_id=row["subject_id"],
        subject_name=row["subject_name"],
        enterprise_uscc=uscc,
        recipient_kind=row["recipient_kind"],
        recipient=row["recipient"],
        amount_yuan=yuan(row["amount_yuan"]),
        as_of=as_of.isoformat(),
        snapshot_id=snapshot_id,
    )


async def store(session: AsyncSession, screening: Screening, year: int, as_of: date, *, keep: int) -> SnapshotOutcome:
    """Store `screening` as the year's newest snapshot and record the events of its difference with the previous
    one, in the caller's transaction (the year's lock held to its end); prune all but the latest `keep`."""
    await repository.lock_year(session, year)
    previous = await repository.latest(session, year)
    before = [_stored(entry) for entry in await repository.entries(session, previous.id)] if previous else []
    # One row per (measure, subject): the registry lists each subject once; should a page repeat one, the first.
    unique: dict[Key, dict[str, Any]] = {}
    for candidate, amount in screening.eligible:
        row = entry_row(candidate, amount)
        unique.setdefault(_key(row), row)
    rows = list(unique.values())
    diff = difference(before, rows) if previous is not None else Difference([], [])
    snapshot = ScreeningSnapshot(
        year=year,
        as_of=as_of,
        eligible_count=len(rows),
        amount_yuan=sum((row["amount_yuan"] for row in rows), ZERO),
        baseline=previous is None,
        events_recorded=len(diff.newly) + len(diff.no_longer),
    )
    repository.add(session, snapshot)
    await session.flush()  # the snapshot's id, for its entries and the events
    await repository.add_entries(session, [{**row, "snapshot_id": snapshot.id} for row in rows])
    await record_events(
        session,
        [
            NewEvent(
                type=event_type,
                district_code=row["district_code"],
                subject=f"enterprise:{row['enterprise_uscc']}",
                data=_event_data(row, year, as_of, snapshot.id),
            )
            for event_type, changed in (
                (EventType.ENTERPRISE_NEWLY_ELIGIBLE, diff.newly),
                (EventType.ENTERPRISE_NO_LONGER_ELIGIBLE, diff.no_longer),
            )
            for row in changed
        ],
    )
    pruned = await repository.prune(session, year, keep)
    return SnapshotOutcome(
        snapshot_id=snapshot.id,
        year=year,
        as_of=as_of,
        baseline=previous is None,
        eligible=len(rows),
        newly_eligible=len(diff.newly),
        no_longer_eligible=len(diff.no_longer),
        pruned=pruned,
    )
