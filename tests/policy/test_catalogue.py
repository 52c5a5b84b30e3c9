"""The catalogue's prose is written from the parameter values in force: no amount is typed in it."""

import re
from datetime import date
from decimal import Decimal

import pytest

from services.eligibility.measures.catalogue import MEASURES, MEASURES_BY_ID
from services.eligibility.parameters.definitions import DatedValue, load_parameter_set
from services.eligibility.rules.engine import RULES
from shared.policy.catalogue import PLACEHOLDER, read_catalogue

CATALOGUE = read_catalogue()
PARAMETERS = load_parameter_set()
# An amount or a rate typed in prose: a number of four digits or more (with or without separators), a percentage,
# or 万元.
TYPED_AMOUNT = re.compile(r"\d[\d,]{3,}|\d\s*%|万元")


@pytest.mark.parametrize("entry", CATALOGUE.measures, ids=lambda entry: entry.id)
def test_no_amount_is_typed_in_a_summary(entry):
    assert not TYPED_AMOUNT.search(PLACEHOLDER.sub("", entry.summary_en)), entry.summary_en


@pytest.mark.parametrize("entry", CATALOGUE.measures, ids=lambda entry: entry.id)
def test_a_summary_names_only_its_own_rules_parameters(entry):
    rule = RULES.get(entry.id)
    names = {name for name, _, _ in entry.placeholders()}
    assert names <= set(rule.parameters if rule else ())
    # A computable measure's summary shows its money.
    assert bool(names) == entry.computable


def test_the_summaries_read_the_default_values():
    params = PARAMETERS.at(date(2025, 1, 1))
    assert MEASURES_BY_ID["M13"].summary_en(params) == (
        "A qualifying event or activity platform receives 30% of its actual spend, at most 1,000,000 yuan."
    )
    assert MEASURES_BY_ID["M06"].summary_en(params) == (
        "Districts are rewarded by their rank in the yearly composite evaluation, each rank: "
        "1–5: 5,000,000 yuan; 6–10: 3,000,000 yuan; lower ranks receive nothing."
    )
    assert "on or after 2024-11-19, with yearly revenue of 20,000,000 yuan or more" in MEASURES_BY_ID[
        "M07b"
    ].summary_en(params)
    assert "1,000,000 yuan when its yearly revenue grew by at least 20%" in MEASURES_BY_ID["M05"].summary_en(params)


def test_a_summary_follows_an_amendment():
    amended = PARAMETERS.with_values(
        [("m13.ratio", DatedValue(effective_from=date(2026, 7, 1), value=Decimal("0.125"), note="2026 budget"))]
    )
    m13 = MEASURES_BY_ID["M13"]
    assert "receives 30% of its actual spend" in m13.summary_en(amended.at(date(2026, 6, 30)))
    assert "receives 12.5% of its actual spend" in m13.summary_en(amended.at(date(2026, 7, 1)))


def test_every_summary_renders_on_the_first_and_last_day_of_the_force():
    for day in (PARAMETERS.policy.effective_from, PARAMETERS.policy.effective_to):
        params = PARAMETERS.at(day)
        assert all("{" not in measure.summary_en(params) for measure in MEASURES)


FORMAT_OF_KIND = {"ratio": "percent", "yuan": "yuan", "yuan_table": "table", "date": "date"}


@pytest.mark.parametrize("entry", [entry for entry in CATALOGUE.measures if entry.computable], ids=lambda e: e.id)
def test_each_placeholder_formats_its_parameter_as_its_kind(entry):
    for name, key, how in entry.placeholders():
        definition = PARAMETERS.definitions[name]
        if key is None:
            assert how == FORMAT_OF_KIND[definition.kind], (name, how)
        else:
            # One entry of a table: an amount, and a key no amendment can remove (an amended table keeps it).
            assert (definition.kind, how) == ("yuan_table", "yuan"), (name, how)
            assert key in definition.required_keys, (name, key)
