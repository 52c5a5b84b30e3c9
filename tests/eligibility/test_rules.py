"""Every computable measure against amounts worked out by hand from 渝发改规范〔2024〕7号 (default parameters).

Money rule (POLICY.md): ratio × amount, rounded half-up to the fen, then capped.
"""

from datetime import date
from decimal import Decimal

import pytest

from services.eligibility.parameters.definitions import load_parameter_set
from services.eligibility.rules.engine import RULES, FactsError, evaluate, parse_facts

PARAMETERS = load_parameter_set()
IN_FORCE = date(2025, 6, 30)


def run(measure_id: str, facts: dict[str, object], as_of: date = IN_FORCE, year: int | None = None):
    return evaluate(measure_id, as_of, parse_facts(measure_id, facts), PARAMETERS, year=year)


def amount_of(measure_id: str, facts: dict[str, object]) -> Decimal | None:
    outcome = run(measure_id, facts)
    return outcome.amount if outcome.eligible else None


def reason_codes(measure_id: str, facts: dict[str, object]) -> list[str]:
    outcome = run(measure_id, facts)
    assert not outcome.eligible
    assert outcome.amount == Decimal("0.00")
    return [reason.code for reason in outcome.reasons]


# 第（一）条: 不超过项目投资总额的10%，最高不超过500万元；经市政府同意，特别重大的项目…最高…不超过2000万元。
@pytest.mark.parametrize(
    ("investment", "special", "expected"),
    [
        ("12345678.90", False, "1234567.89"),  # 10% = 1,234,567.890
        ("123.45", False, "12.35"),  # 10% = 12.345: half a fen rounds up (banker's rounding would give 12.34)
        ("123.44", False, "12.34"),  # 12.344 rounds down
        ("50000000.00", False, "5000000.00"),  # 10% = 5,000,000.00, exactly the cap
        ("50000000.10", False, "5000000.00"),  # 10% = 5,000,000.01, capped at 5,000,000
        ("150000000.00", True, "15000000.00"),  # special major: 15,000,000 is above 5M and within 20M
        ("200000000.00", True, "20000000.00"),  # exactly the special cap
        ("300000000.00", True, "20000000.00"),  # 30,000,000 capped at 20,000,000
    ],
)
def test_m01_ten_percent_of_verified_investment_capped(investment, special, expected):
    facts = {"verified_investment_yuan": investment, "special_major_approved": special}
    assert amount_of("M01", facts) == Decimal(expected)


def test_m01_without_verified_investment_is_not_eligible():
    assert reason_codes("M01", {"verified_investment_yuan": "0", "special_major_approved": False}) == [
        "no_verified_investment"
    ]


def test_m01_trace_shows_each_step_with_value_and_citation():
    outcome = run("M01", {"verified_investment_yuan": "123.45", "special_major_approved": False})
    steps = {step.step: step for step in outcome.trace}
    assert steps["parameter m01.ratio"].value == "0.10"
    assert steps["m01.ratio × verified investment"].value == "0.10 × 123.45 = 12.3450"
    assert steps["rounded half-up to the fen"].value == "12.35"
    assert steps["capped at m01.cap_yuan"].value == "min(12.35, 5000000.00) = 12.35"
    assert outcome.trace[-1].step == "amount" and outcome.trace[-1].value == "12.35"
    assert all(step.value and step.citation.startswith("渝发改规范〔2024〕7号") for step in outcome.trace)
    assert steps["verified investment (经核定的投资金额)"].citation == "渝发改规范〔2024〕7号 第（一）条"
    assert outcome.parameters_used == {"m01.ratio": "0.10", "m01.cap_yuan": "5000000.00"}


# 第（二）条: 投资额超过500万元的，按不超过投资额的20%给予补助，最高不超过500万元。
@pytest.mark.parametrize(
    ("investment", "expected"),
    [
        ("5000000.01", "1000000.00"),  # strictly above: 20% = 1,000,000.002 → 1,000,000.00
        ("5000000.03", "1000000.01"),  # 1,000,000.006 → 1,000,000.01
        ("12500000.00", "2500000.00"),
        ("25000000.00", "5000000.00"),  # exactly the cap
        ("30000000.00", "5000000.00"),  # 6,000,000 capped
    ],
)
def test_m02_twenty_percent_above_five_million(investment, expected):
    facts = {"platform_domain": "pilot_scale", "verified_investment_yuan": investment}
    assert amount_of("M02", facts) == Decimal(expected)


@pytest.mark.parametrize("investment", ["5000000.00", "4999999.99", "100.00"])
def test_m02_at_or_below_five_million_is_not_eligible(investment):
    # 超过500万元: exactly 5,000,000.00 is not above it.
    facts = {"platform_domain": "testing_certification", "verified_investment_yuan": investment}
    assert reason_codes("M02", facts) == ["investment_not_above_threshold"]


def test_m02_platform_outside_the_listed_domains_is_not_eligible():
    facts = {"platform_domain": "other", "verified_investment_yuan": "9000000.00"}
    assert reason_codes("M02", facts) == ["platform_domain_not_listed"]


# 第（三）条: 对年度评估为A等级的…集聚区，分档次给予200—1000万元奖励 (tiers 1/2/3: 10M, 6M, 2M by default).
@pytest.mark.parametrize(("tier", "expected"), [(1, "10000000.00"), (2, "6000000.00"), (3, "2000000.00")])
def test_m03_grade_a_receives_its_tier_amount(tier, expected):
    assert amount_of("M03", {"grade": "A", "tier": tier}) == Decimal(expected)


@pytest.mark.parametrize(
    ("facts", "code"),
    [
        ({"grade": "B", "tier": 1}, "grade_not_a"),
        ({"grade": "D", "tier": None}, "grade_not_a"),
        ({"grade": "A", "tier": None}, "no_tier"),
        ({"grade": "A", "tier": 4}, "tier_without_amount"),
    ],
)
def test_m03_not_eligible(facts, code):
    assert reason_codes("M03", facts) == [code]


# 第（五）条: 对年度营业收入增速较快的“星级”楼宇，分档给予…100万元、50万元的定额奖励 (growth ≥ 20% / ≥ 10%).
@pytest.mark.parametrize(
    ("revenue", "prior", "expected"),
    [
        ("12000000.00", "10000000.00", "1000000.00"),  # growth exactly 20%
        ("30000000.00", "10000000.00", "1000000.00"),  # 200%
        ("11999999.99", "10000000.00", "500000.00"),  # 19.9999999%
        ("11000000.00", "10000000.00", "500000.00"),  # exactly 10%
    ],
)
def test_m05_fixed_amount_by_growth_tier(revenue, prior, expected):
    assert amount_of("M05", {"revenue_yuan": revenue, "prior_revenue_yuan": prior}) == Decimal(expected)


@pytest.mark.parametrize(
    ("revenue", "prior", "code"),
    [
        ("10999999.99", "10000000.00", "growth_not_fast"),
        ("9000000.00", "10000000.00", "growth_not_fast"),
        ("5000000.00", "0.00", "no_prior_revenue"),
    ],
)
def test_m05_not_eligible(revenue, prior, code):
    assert reason_codes("M05", {"revenue_yuan": revenue, "prior_revenue_yuan": prior}) == [code]


# 第（六）条: 第1—5名分别给予500万元…第6—10名分别给予300万元。
@pytest.mark.parametrize(
    ("rank", "expected"),
    [(1, "5000000.00"), (5, "5000000.00"), (6, "3000000.00"), (10, "3000000.00")],
)
def test_m06_award_by_rank(rank, expected):
    assert amount_of("M06", {"rank": rank}) == Decimal(expected)


def test_m06_below_rank_ten_receives_nothing():
    assert reason_codes("M06", {"rank": 11}) == ["rank_not_rewarded"]
    assert reason_codes("M06", {"rank": 38}) == ["rank_not_rewarded"]


def test_m06_ranks_one_to_ten_total_forty_million():
    total = sum((amount_of("M06", {"rank": rank}) or Decimal(0) for rank in range(1, 39)), Decimal(0))
    assert total == Decimal("40000000.00")  # 5 × 5,000,000 + 5 × 3,000,000


# 第（七）条: 每新增1家首次入选的生产性服务业企业，给予相应区县最高500万元奖励。
def test_m07a_first_listing_rewards_the_district():
    assert amount_of("M07a", {"first_time_top500": True, "producer_service": True}) == Decimal("5000000.00")


def test_m07a_not_first_time_nor_producer_service():
    assert reason_codes("M07a", {"first_time_top500": False, "producer_service": True}) == ["not_first_time_top500"]
    assert reason_codes("M07a", {"first_time_top500": False, "producer_service": False}) == [
        "not_first_time_top500",
        "not_producer_service",
    ]


# 第（七）条: 对分离后新设立的生产性服务业企业，年营业收入达到2000万元以上的给予一次性奖励，最高不超过100万元。
# "新设立" is the parameter m07b.newly_established_from: established on or after 2024-11-19 (the day the policy took
# effect).
def test_m07b_spin_off_reaching_twenty_million():
    facts = {
        "spun_off_from_manufacturer": True,
        "established_on": "2024-11-19",
        "revenue_yuan": "20000000.00",  # 达到 2000万元: inclusive
    }
    assert amount_of("M07b", facts) == Decimal("1000000.00")


def test_m07b_not_eligible():
    below = {"spun_off_from_manufacturer": True, "established_on": "2025-01-06", "revenue_yuan": "19999999.99"}
    assert reason_codes("M07b", below) == ["revenue_below_threshold"]
    not_spun = {"spun_off_from_manufacturer": False, "established_on": "2025-01-06", "revenue_yuan": "90000000.00"}
    assert reason_codes("M07b", not_spun) == ["not_spun_off"]


@pytest.mark.parametrize(
    ("established_on", "expected"),
    [
        ("2007-05-10", None),  # an old enterprise: not 分离后新设立, whatever its revenue
        ("2024-11-18", None),  # the day before m07b.newly_established_from
        ("2024-11-19", "1000000.00"),  # the first day that is "newly set up": 100万元
        ("2026-03-02", "1000000.00"),
    ],
)
def test_m07b_only_an_enterprise_newly_set_up_by_the_spin_off(established_on, expected):
    facts = {"spun_off_from_manufacturer": True, "established_on": established_on, "revenue_yuan": "90000000.00"}
    if expected is None:
        assert reason_codes("M07b", facts) == ["not_newly_established"]
        outcome = run("M07b", facts)
        assert f"established on {established_on}, before 2024-11-19" in outcome.reasons[0].message
        assert outcome.parameters_used["m07b.newly_established_from"] == "2024-11-19"
    else:
        assert amount_of("M07b", facts) == Decimal(expected)


# 第（十三）条: 按不超过实际投入的30%给予补助，最高不超过100万元。
@pytest.mark.parametrize(
    ("spend", "expected"),
    [
        ("100.05", "30.02"),  # 30.015: half a fen rounds up
        ("100.15", "30.05"),  # 30.045 → 30.05 (half-up, not half-even's 30.04)
        ("2000000.00", "600000.00"),
        ("3333333.33", "1000000.00"),  # 999,999.999 rounds to 1,000,000.00, which is the cap
        ("3333333.30", "999999.99"),
        ("10000000.00", "1000000.00"),  # 3,000,000 capped
    ],
)
def test_m13_thirty_percent_of_actual_spend_capped(spend, expected):
    assert amount_of("M13", {"actual_spend_yuan": spend}) == Decimal(expected)


def test_m13_without_spend_is_not_eligible():
    assert reason_codes("M13", {"actual_spend_yuan": "0.00"}) == ["no_actual_spend"]


# 七、附则: 本细则自发布之日起施行 (2024-11-19)，有效期至2027年12月31日。
VALID_FACTS: dict[str, dict[str, object]] = {
    "M01": {"verified_investment_yuan": "1000000.00", "special_major_approved": False},
    "M02": {"platform_domain": "supply_chain", "verified_investment_yuan": "6000000.00"},
    "M03": {"grade": "A", "tier": 2},
    "M05": {"revenue_yuan": "13000000.00", "prior_revenue_yuan": "10000000.00"},
    "M06": {"rank": 3},
    "M07a": {"first_time_top500": True, "producer_service": True},
    "M07b": {"spun_off_from_manufacturer": True, "established_on": "2024-11-19", "revenue_yuan": "25000000.00"},
    "M13": {"actual_spend_yuan": "500000.00"},
}


def test_every_computable_measure_has_valid_facts_here():
    assert set(VALID_FACTS) == set(RULES)


@pytest.mark.parametrize("measure_id", sorted(VALID_FACTS))
@pytest.mark.parametrize(
    ("as_of", "in_force"),
    [
        (date(2024, 11, 18), False),
        (date(2024, 11, 19), True),
        (date(2024, 11, 20), True),
        (date(2027, 12, 30), True),
        (date(2027, 12, 31), True),
        (date(2028, 1, 1), False),
    ],
)
def test_validity_first_and_last_day_and_the_days_around(measure_id, as_of, in_force):
    outcome = run(measure_id, VALID_FACTS[measure_id], as_of)
    assert outcome.eligible is in_force
    if in_force:
        assert outcome.amount > 0
        assert outcome.reasons == ()
    else:
        assert outcome.amount == Decimal("0.00")
        assert [reason.code for reason in outcome.reasons] == ["policy_not_in_force"]
        assert "2024-11-19" in outcome.reasons[0].message and "2027-12-31" in outcome.reasons[0].message
        assert outcome.trace[0].citation.startswith("渝发改规范〔2024〕7号 七、附则")


# 七、附则: the policy rewards the years 2024–2027 (policy.first_rewarded_year … policy.last_rewarded_year): the facts
# of a year outside them are not rewarded, even on a day the policy is in force and with the same facts.
@pytest.mark.parametrize("measure_id", sorted(VALID_FACTS))
@pytest.mark.parametrize(("year", "covered"), [(2023, False), (2024, True), (2025, True), (2027, True), (2028, False)])
def test_only_the_years_the_policy_rewards(measure_id, year, covered):
    outcome = run(measure_id, VALID_FACTS[measure_id], IN_FORCE, year)
    assert outcome.eligible is covered
    if covered:
        assert outcome.amount == run(measure_id, VALID_FACTS[measure_id]).amount > 0
        assert outcome.reasons == ()
        assert ("year covered by the policy", f"yes: {year} is within 2024–2027") in [
            (step.step, step.value) for step in outcome.trace
        ]
    else:
        assert outcome.amount == Decimal("0.00")
        assert [reason.code for reason in outcome.reasons] == ["year_not_covered"]
        assert outcome.reasons[0].message == f"渝发改规范〔2024〕7号 rewards the years 2024–2027, not {year}"
        assert outcome.trace[-1].step == "year covered by the policy"
        assert outcome.trace[-1].value == f"no: {year} is outside 2024–2027"


def test_outside_the_validity_the_year_is_not_asked():
    outcome = run("M13", VALID_FACTS["M13"], date(2028, 1, 1), 2023)
    assert [reason.code for reason in outcome.reasons] == ["policy_not_in_force"]


@pytest.mark.parametrize(
    ("measure_id", "facts", "loc", "fragment"),
    [
        ("M01", {"verified_investment_yuan": "100.00"}, ("special_major_approved",), "required"),
        (
            "M01",
            {"verified_investment_yuan": "-1.00", "special_major_approved": False},
            ("verified_investment_yuan",),
            "negative",
        ),
        (
            "M01",
            {"verified_investment_yuan": "lots", "special_major_approved": False},
            ("verified_investment_yuan",),
            "not a decimal",
        ),
        (
            "M01",
            {"verified_investment_yuan": "1.005", "special_major_approved": False},
            ("verified_investment_yuan",),
            "two decimal places",
        ),
        (
            "M01",
            {"verified_investment_yuan": "1.00", "special_major_approved": "yes"},
            ("special_major_approved",),
            "boolean",
        ),
        ("M02", {"platform_domain": "mining", "verified_investment_yuan": "1.00"}, ("platform_domain",), "Input"),
        ("M03", {"grade": "E", "tier": 1}, ("grade",), "Input"),
        ("M06", {"rank": 39}, ("rank",), "less than or equal to 38"),
        ("M06", {"rank": "1"}, ("rank",), "integer"),
        ("M13", {"actual_spend_yuan": "1.00", "actual_spend": "1.00"}, ("actual_spend",), "not one the measure"),
        (
            "M07b",
            {"spun_off_from_manufacturer": True, "revenue_yuan": "25000000.00"},
            ("established_on",),
            "required",
        ),
        (
            "M07b",
            {"spun_off_from_manufacturer": True, "established_on": "2024-02-30", "revenue_yuan": "25000000.00"},
            ("established_on",),
            "date",
        ),
    ],
)
def test_bad_facts_are_refused_naming_the_fact(measure_id, facts, loc, fragment):
    with pytest.raises(FactsError) as caught:
        parse_facts(measure_id, facts)
    assert any(err_loc == loc and fragment in msg for err_loc, msg in caught.value.errors), caught.value.errors
