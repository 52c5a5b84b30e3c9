"""The ranking methodology as data: its indicators, its versions, and the growth arithmetic it defines."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.ranking.runs.compute import INDICATORS
from shared.policy.parameters import read_parameter_files
from shared.policy.ranking import RankingMethodologies, comparable_growth, read_methodologies

PUBLISHED = read_methodologies()


def test_the_three_indicators_of_the_clause_are_the_ones_ranked():
    assert INDICATORS == ("new_count", "net_increase", "revenue_growth")
    assert [i.label_zh for i in PUBLISHED.indicators] == ["新增数量", "净增数量", "营业收入增速"]
    assert all(indicator.label_zh in PUBLISHED.reference.quote for indicator in PUBLISHED.indicators)


def test_the_award_per_rank_has_one_home_the_m06_parameter():
    (m06,) = [m for m in read_parameter_files().measures if m.measure_id == "M06"]
    assert [p.name for p in m06.parameters] == [PUBLISHED.award_parameter]


def test_the_default_version_is_2024_1_inserted_by_the_first_migration():
    default = PUBLISHED.default
    assert (default.version, default.inserted_by_migration) == ("2024.1", "0001")
    assert default.weights.model_dump() == {
        "new_count": Decimal("0.3"),
        "net_increase": Decimal("0.3"),
        "revenue_growth": Decimal("0.4"),
    }


def test_weights_that_do_not_sum_to_one_are_refused():
    document = PUBLISHED.model_dump(mode="json")
    document["versions"][0]["weights"]["revenue_growth"] = "0.5"
    with pytest.raises(ValidationError, match="sum to exactly 1"):
        RankingMethodologies.model_validate(document)


def test_an_unknown_default_version_is_refused():
    document = PUBLISHED.model_dump(mode="json") | {"default_version": "2030.1"}
    with pytest.raises(ValidationError, match="not among the versions"):
        RankingMethodologies.model_validate(document)


@pytest.mark.parametrize(
    ("revenue", "prior", "growth"),
    [
        ("1200000.00", "1000000.00", "0.200000"),
        ("1000000.00", "1000000.00", "0.000000"),
        ("800000.00", "1000000.00", "-0.200000"),
        ("2.00", "3.00", "-0.333333"),  # −0.3333333… rounds to six places
        ("1000000.50", "1000000.00", "0.000001"),  # 0.0000005 rounds half up
        ("100.00", "0.00", None),  # no comparable base: no growth, not infinity
    ],
)
def test_comparable_growth_is_six_places_half_up(revenue, prior, growth):
    result = comparable_growth(Decimal(revenue), Decimal(prior))
    assert (None if result is None else f"{result:.6f}") == growth


def test_the_methodology_page_shows_the_default_version_of_the_data_file():
    page = (Path(__file__).resolve().parents[2] / "services" / "ranking" / "METHODOLOGY.md").read_text(encoding="utf-8")
    table = page.split("## Default version 2024.1", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| (.+?) \| (.+?) \|$", table, flags=re.MULTILINE))
    weights = PUBLISHED.default.weights
    assert rows["weights"] == (
        f"new count **{weights.new_count}**, net increase **{weights.net_increase}**, "
        f"revenue growth **{weights.revenue_growth}**"
    )
    assert rows["normalisation"] == f"**{PUBLISHED.default.normalisation}**"
    assert rows["minimum base"] == f"**{PUBLISHED.default.min_base}** comparable enterprises"
    assert rows["winsorisation"] == (
        "none" if PUBLISHED.default.winsorise is None else f"**{PUBLISHED.default.winsorise}**"
    )
    tie_break = ", ".join(key.replace("_", " ") for key in PUBLISHED.default.tie_break)
    assert rows["tie-break"] == f"{tie_break}, then district code ascending"
    assert rows["`max_unreported_share`"].startswith(f"**{PUBLISHED.default.max_unreported_share}**")
