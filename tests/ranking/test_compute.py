"""The pure arithmetic of a run, with values worked out by hand."""

from decimal import Decimal

import pytest

from services.ranking.decimals import exact, six_places_text
from services.ranking.runs.compute import (
    Method,
    median,
    normalise,
    prepared_indicators,
    quantile,
    tier_bounds,
    winsorise,
)
from services.ranking.upstream.schemas import AwardTable, DistrictStatsIn
from tests.ranking.scenario import by_code, seed


def decimals(*values: str | int) -> list[Decimal]:
    return [Decimal(value) for value in values]


def six_places_texts(values: list[Decimal]) -> list[str]:
    return [six_places_text(value) for value in values]


def test_min_max():
    with exact():
        assert six_places_texts(normalise(decimals(2, 4, 8, 5), "min_max")) == [
            "0.000000",
            "0.333333",
            "1.000000",
            "0.500000",
        ]
        # No spread: the indicator does not discriminate, everyone gets 0.
        assert six_places_texts(normalise(decimals(3, 3, 3), "min_max")) == ["0.000000"] * 3


def test_z_score_uses_the_population_deviation():
    # mean 2.5; variance (2.25 + 0.25 + 0.25 + 2.25)/4 = 1.25; deviation √1.25 = 1.118033988…
    with exact():
        assert six_places_texts(normalise(decimals(1, 2, 3, 4), "z_score")) == [
            "-1.341641",
            "-0.447214",
            "0.447214",
            "1.341641",
        ]
        assert six_places_texts(normalise(decimals(7, 7), "z_score")) == ["0.000000", "0.000000"]


def test_rank_normalisation_averages_ties():
    # Ascending ranks: 5 → 1, 10 → 2, the two 20s share (3 + 4)/2 = 3.5; scaled (r − 1)/(n − 1).
    with exact():
        assert six_places_texts(normalise(decimals(10, 20, 20, 5), "rank")) == [
            "0.333333",
            "0.833333",
            "0.833333",
            "0.000000",
        ]


def test_quantiles_median_and_winsorisation():
    with exact():
        ordered = decimals(*range(1, 22))  # 1 … 21
        assert quantile(ordered, Decimal("0.1")) == 3 and quantile(ordered, Decimal("0.9")) == 19
        assert quantile(decimals(0, 10), Decimal("0.2")) == 2  # interpolated between the two order statistics
        # Sorted 1, 10, 21: low at 2 × 0.1 = 0.2 → 1 + 0.2 × 9 = 2.8; high at 1.8 → 10 + 0.8 × 11 = 18.8.
        assert winsorise(decimals(21, 1, 10), Decimal("0.1")) == decimals("18.8", "2.8", 10)
        assert median(decimals(3, 1, 2)) == 2 and median(decimals(4, 1, 3, 2)) == Decimal("2.5")


def stats(code: str, comparable: int, growth: str | None) -> DistrictStatsIn:
    return DistrictStatsIn(
        district_code=code,
        district_name=code,
        above_scale_count=comparable,
        prior_above_scale_count=comparable,
        new_above_scale_count=0,
        exited_count=0,
        net_increase=0,
        revenue_yuan=Decimal("0.00"),
        comparable_count=comparable,
        comparable_revenue_yuan=Decimal("0.00"),
        comparable_prior_revenue_yuan=Decimal("0.00"),
        revenue_growth=None if growth is None else Decimal(growth),
    )


def method(min_base: int) -> Method:
    weights = {"new_count": Decimal("0.3"), "net_increase": Decimal("0.3"), "revenue_growth": Decimal("0.4")}
    return Method("t", weights, "min_max", "comparable", min_base, None, ())


@pytest.mark.parametrize(
    ("min_base", "expected"),
    [
        # Meeting the base of 5: 0.1, 0.3, −0.2 → median 0.1; 2.0 (1 enterprise) capped to 0.1; null → 0 (under it).
        (5, (["0.100000", "0.300000", "-0.200000", "0.100000", "0.000000"], [False, False, False, True, False])),
        # Base 0: everyone counts as is; null still counts as 0.
        (0, (["0.100000", "0.300000", "-0.200000", "2.000000", "0.000000"], [False] * 5)),
        # Nobody meets a base of 100: the cap is 0, so only the negative growth survives below it.
        (100, (["0.000000", "0.000000", "-0.200000", "0.000000", "0.000000"], [True, True, False, True, False])),
    ],
)
def test_the_minimum_base_caps_growth_at_the_median_of_those_meeting_it(min_base, expected):
    rows = [
        stats("1", 5, "0.1"),
        stats("2", 9, "0.3"),
        stats("3", 6, "-0.2"),
        stats("4", 1, "2.0"),
        stats("5", 0, None),
    ]
    with exact():
        growth, capped, _ = prepared_indicators(rows, method(min_base))
    assert (six_places_texts(growth), capped) == expected


def test_award_tiers_follow_the_table():
    table = AwardTable(
        parameter="p",
        as_of="2026-01-01",
        citation="c",
        by_rank={rank: Decimal(5_000_000 if rank <= 5 else 3_000_000) for rank in range(1, 11)},
    )
    assert tier_bounds(table, 38) == [(1, 5), (6, 10), (11, 38)]


async def test_winsorisation_through_a_run(city, registry):
    await seed(registry)
    created = await city.post(
        "/methodologies",
        json={
            "version": "w.1",
            "weights": {"new_above_scale_count": "0.3", "net_increase": "0.3", "revenue_growth": "0.4"},
            "winsorise": "0.05",
            "description": "winsorised",
        },
    )
    assert created.status_code == 201
    run = (await city.post("/runs", json={"year": 2025, "as_of": "2026-03-31", "methodology_version": "w.1"})).json()
    rows = by_code(run)
    # New counts ascending: 32 zeros, 1, 1, 2, 2, 3, 4. The 95% quantile sits at position 37 × 0.95 = 35.15:
    # 2 + 0.15 × (3 − 2) = 2.15. 渝中区 (4) and 渝北区 (3) are clipped to it; the raw counts stay as reported.
    assert rows["500103"]["indicators"]["new_above_scale_count"] == "2.150000"
    assert rows["500103"]["new_above_scale_count"] == 4
    assert rows["500112"]["indicators"]["new_above_scale_count"] == "2.150000"
    assert rows["500103"]["normalised"]["new_above_scale_count"] == "1.000000"
    assert rows["500105"]["indicators"]["new_above_scale_count"] == "2.000000"
