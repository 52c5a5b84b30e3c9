"""The ranking as a pure function of the registry's figures, the methodology and the award table.

Decimal arithmetic throughout (one fixed context), so that the same inputs give the same digits on any machine.
The steps are those of services/ranking/METHODOLOGY.md; the indicators and the published versions are data
(shared/policy/ranking/methodologies.json):

1. indicators: new above-size count, net increase, comparable revenue growth (null growth counts as 0);
2. minimum base: the growth of a district with fewer comparable enterprises than `min_base` is capped at the median
   growth of the districts that meet it;
3. optional winsorisation of each indicator to its [w, 1 − w] quantiles across the 38 districts;
4. normalisation (min-max, z-score or rank) of each indicator across the districts;
5. score = Σ weight × normalised value, rounded half-up to six places;
6. order: the districts with an above-size enterprise in the year or the base year first (a district with none in
   either year takes no award place), each group by score, then the tie-break keys, then district_code ascending:
   ranks 1 … 38, all distinct;
7. awards from the table by rank to the districts that can take an award place, 0.00 to the others; each awarded
   district's score margins to the award-tier boundaries; and every award boundary (5/6, 10/11) at which two
   districts have equal scores, with the key that decided it.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.ranking.decimals import exact, six_places
from services.ranking.upstream.schemas import AwardTable, DistrictStatsIn
from shared.policy.ranking import published_methodologies

# 第（六）条's three indicators, in the order of the methodology file.
INDICATORS: tuple[str, ...] = tuple(indicator.name for indicator in published_methodologies().indicators)
ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class Method:
    version: str
    weights: dict[str, Decimal]
    normalisation: str
    growth_basis: str
    min_base: int
    winsorise: Decimal | None
    tie_break: tuple[str, ...]
    max_unreported_share: Decimal = published_methodologies().default.max_unreported_share

    def canonical(self) -> dict[str, Any]:
        """The methodology as it enters a run's document and hash."""
        return {
            "version": self.version,
            "weights": {name: f"{six_places(self.weights[name]):.6f}" for name in INDICATORS},
            "normalisation": self.normalisation,
            "growth_basis": self.growth_basis,
            "min_base": self.min_base,
            "winsorise": None if self.winsorise is None else f"{six_places(self.winsorise):.6f}",
            "tie_break": list(self.tie_break),
            "max_unreported_share": f"{six_places(self.max_unreported_share):.6f}",
        }


@dataclass(slots=True)
class RankedDistrict:
    district_code: str
    district_name: str
    new_count: int
    exited_count: int
    net_increase: int
    revenue_yuan: Decimal
    comparable_count: int
    revenue_growth: Decimal | None
    growth_used: Decimal
    growth_capped: bool
    indicators: dict[str, Decimal]
    normalised: dict[str, Decimal]
    contributions: dict[str, Decimal]
    score: Decimal
    above_scale_count: int = 0
    prior_above_scale_count: int = 0
    moved_in_count: int = 0
    moved_out_count: int = 0
    unreported_count: int = 0
    awaiting_verification_count: int = 0
    award_eligible: bool = True
    award_ineligible_reason: str | None = None
    rank: int = 0
    award_yuan: Decimal = ZERO
    lead_over_lower_tier: Decimal | None = None
    gap_to_higher_tier: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BoundaryTie:
    """Two districts with equal scores on either side of an award boundary, and the key that put one above."""

    last_rank_of_tier: int
    score: Decimal
    decided_by: str  # a tie-break key, or "district_code" when no indicator separates them
    districts: tuple[RankedDistrict, ...]  # every award-eligible district with that score, in rank order

    @property
    def boundary(self) -> str:
        return f"{self.last_rank_of_tier}/{self.last_rank_of_tier + 1}"


NO_ABOVE_SCALE_ENTERPRISE = (
    "no above-size enterprise in the year or the base year: the district takes no award place (ranked after every "
    "district that has one)"
)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes the input hash is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def input_hash(year: int, inputs: dict[str, Any], methodology: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json({"year": year, "inputs": inputs, "methodology": methodology})).hexdigest()


def median(values: Sequence[Decimal]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def quantile(ordered: Sequence[Decimal], fraction: Decimal) -> Decimal:
    """Linear interpolation between order statistics (Hyndman–Fan type 7, numpy's default)."""
    position = (len(ordered) - 1) * fraction
    below = int(position)
    if below + 1 >= len(ordered):
        return ordered[-1]
    return ordered[below] + (position - below) * (ordered[below + 1] - ordered[below])


def winsorise(values: Sequence[Decimal], fraction: Decimal) -> list[Decimal]:
    ordered = sorted(values)
    low, high = quantile(ordered, fraction), quantile(ordered, ONE - fraction)
    return [min(max(value, low), high) for value in values]


def normalise(values: Sequence[Decimal], how: str) -> list[Decimal]:
    """Each value on a common scale; a constant indicator (no spread) scores 0 everywhere."""
    count = len(values)
    if how == "min_max":
        low, high = min(values), max(values)
        spread = high - low
        return [ZERO if spread == 0 else (value - low) / spread for value in values]
    if how == "z_score":
        mean = sum(values, ZERO) / count
        variance = sum(((value - mean) ** 2 for value in values), ZERO) / count
        deviation = variance.sqrt()
        return [ZERO if deviation == 0 else (value - mean) / deviation for value in values]
    if how == "rank":
        # Average rank, ascending (ties share the mean of their positions), scaled to 0 … 1.
        ordered = sorted(values)
        first: dict[Decimal, int] = {}
        last: dict[Decimal, int] = {}
        for position, value in enumerate(ordered, start=1):
            first.setdefault(value, position)
            last[value] = position
        if count == 1:
            return [ZERO]
        return [(Decimal(first[value] + last[value]) / 2 - 1) / (count - 1) for value in values]
    raise ValueError(f"unknown normalisation {how!r}")


def prepared_indicators(
    rows: Sequence[DistrictStatsIn], method: Method
) -> tuple[list[Decimal], list[bool], dict[str, list[Decimal]]]:
    """Growth used per district (after the minimum base), whether it was capped, and the indicators to normalise."""
    growth = [row.revenue_growth if row.revenue_growth is not None else ZERO for row in rows]
    meeting = [g for g, row in zip(growth, rows, strict=True) if row.comparable_count >= method.min_base]
    cap = median(meeting) if meeting else ZERO
    capped = [row.comparable_count < method.min_base and g > cap for g, row in zip(growth, rows, strict=True)]
    growth_used = [
        min(g, cap) if row.comparable_count < method.min_base else g for g, row in zip(growth, rows, strict=True)
    ]
    indicators = {
        "new_count": [Decimal(row.new_above_scale_count) for row in rows],
        "net_increase": [Decimal(row.net_increase) for row in rows],
        "revenue_growth": growth_used,
    }
    if method.winsorise is not None:
        indicators = {name: winsorise(values, method.winsorise) for name, values in indicators.items()}
    return growth_used, capped, indicators


def tie_value(district: RankedDistrict, key: str) -> Decimal:
    if key == "revenue_growth":
        return district.growth_used
    if key == "net_increase":
        return Decimal(district.net_increase)
    if key == "new_count":
        return Decimal(district.new_count)
    if key == "revenue_yuan":
        return district.revenue_yuan
    raise ValueError(f"unknown tie-break key {key!r}")


def order_key(district: RankedDistrict, tie_break: Sequence[str]) -> tuple[Any, ...]:
    return (
        not district.award_eligible,
        -district.score,
        *(-tie_value(district, key) for key in tie_break),
        district.district_code,
    )


def deciding_key(upper: RankedDistrict, lower: RankedDistrict, tie_break: Sequence[str]) -> str:
    """The first tie-break key on which two districts of equal score differ, or district_code."""
    for key in tie_break:
        if tie_value(upper, key) != tie_value(lower, key):
            return key
    return "district_code"


def boundary_ties(ranked: Sequence[RankedDistrict], award: AwardTable, tie_break: Sequence[str]) -> list[BoundaryTie]:
    """Every boundary between two award tiers (rank r paid more than r + 1) held by two award-eligible districts
    of equal score: the key that decided it and the districts sharing that score."""
    eligible = [district for district in ranked if district.award_eligible]
    found: list[BoundaryTie] = []
    for _, last in tier_bounds(award, len(eligible)):
        if last >= len(eligible) or award.award(last) == award.award(last + 1) or award.award(last) == 0:
            continue
        upper, lower = eligible[last - 1], eligible[last]
        if upper.score != lower.score:
            continue
        tied = tuple(district for district in eligible if district.score == upper.score)
        found.append(BoundaryTie(last, upper.score, deciding_key(upper, lower, tie_break), tied))
    return found


def tier_bounds(award: AwardTable, count: int) -> list[tuple[int, int]]:
    """(first rank, last rank) of each award tier, best first; ranks with the same award form one tier."""
    tiers: list[tuple[int, int]] = []
    start = 1
    for rank in range(1, count + 1):
        if rank == count or award.award(rank) != award.award(rank + 1):
            tiers.append((start, rank))
            start = rank + 1
    return tiers


def rank_districts(rows: Sequence[DistrictStatsIn], method: Method, award: AwardTable) -> list[RankedDistrict]:
    with exact():
        growth_used, capped, indicators = prepared_indicators(rows, method)
        normalised = {name: normalise(values, method.normalisation) for name, values in indicators.items()}
        ranked: list[RankedDistrict] = []
        for index, row in enumerate(rows):
            norm = {name: normalised[name][index] for name in INDICATORS}
            contributions = {name: method.weights[name] * norm[name] for name in INDICATORS}
            ranked.append(
                RankedDistrict(
                    district_code=row.district_code,
                    district_name=row.district_name,
                    new_count=row.new_above_scale_count,
                    exited_count=row.exited_count,
                    net_increase=row.net_increase,
                    revenue_yuan=row.revenue_yuan,
                    comparable_count=row.comparable_count,
                    revenue_growth=row.revenue_growth,
                    growth_used=growth_used[index],
                    growth_capped=capped[index],
                    indicators={name: indicators[name][index] for name in INDICATORS},
                    normalised=norm,
                    contributions=contributions,
                    score=six_places(sum(contributions.values(), ZERO)),
                    above_scale_count=row.above_scale_count,
                    prior_above_scale_count=row.prior_above_scale_count,
                    moved_in_count=row.moved_in_count,
                    moved_out_count=row.moved_out_count,
                    unreported_count=row.unreported_count,
                    awaiting_verification_count=row.awaiting_verification_count,
                    award_eligible=row.has_above_scale_enterprise,
                    award_ineligible_reason=None if row.has_above_scale_enterprise else NO_ABOVE_SCALE_ENTERPRISE,
                )
            )
        ranked.sort(key=lambda district: order_key(district, method.tie_break))
        for position, district in enumerate(ranked, start=1):
            district.rank = position
            # The eligible districts hold ranks 1 … n, so the award places go to them in order.
            district.award_yuan = award.award(position) if district.award_eligible else ZERO
        # Margins among the districts that can take an award place: an ineligible one can take no one's place.
        eligible = [district for district in ranked if district.award_eligible]
        count = len(eligible)
        for first, last in tier_bounds(award, count):
            for district in eligible[first - 1 : last]:
                if district.award_yuan > 0 and last < count:
                    district.lead_over_lower_tier = district.score - eligible[last].score
                if first > 1:
                    district.gap_to_higher_tier = eligible[first - 2].score - district.score
    return ranked
