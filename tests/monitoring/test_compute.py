"""The assessment's arithmetic on the plan's own targets, worked out by hand (渝府发〔2024〕18号).

Default parameters (shared/policy/monitoring/targets.json): on track at ≥ 1.00 of the trajectory's progress, at
risk down to 0.80, behind below; 约/左右 met within 5% in the target year. Baseline year 2023 (the plan runs
2024–2027).
"""

from datetime import UTC, datetime
from decimal import Decimal

from services.monitoring.assessments.compute import Point, assess, summarise
from services.monitoring.assessments.schemas import Provenance, TargetAssessment
from shared.policy.targets import plan_targets

PLAN = plan_targets()


def observed(values: dict[int, str]) -> dict[int, Point]:
    return {
        year: Point(
            year,
            Decimal(value),
            Provenance(
                year=year,
                origin="observation",
                source="市统计局",
                source_kind="statistics_bureau",
                recorded_by="city",
                recorded_at=datetime(2026, 3, 1, tzinfo=UTC),
                revision=1,
            ),
        )
        for year, value in values.items()
    }


def assessed(target_id: str, year: int, values: dict[int, str]) -> TargetAssessment:
    target = PLAN.target(target_id)
    return assess(
        target,
        PLAN.indicator(target.indicator),
        year=year,
        baseline_year=PLAN.baseline_year,
        first_year=PLAN.first_year,
        series=observed(values),
        parameters=PLAN.parameters,
    )


def trajectory(assessment: TargetAssessment) -> dict[int, Decimal]:
    return {point.year: point.value for point in assessment.trajectory}


def test_a_level_target_on_a_straight_line():
    # 第（六）条: 全过程工程咨询骨干企业达到50家. Baseline 2023: 30 → the line 30 + 20·(y − 2023)/4: 35, 40, 45, 50.
    # 2025: 38 → progress (38 − 30)/(50 − 30) = 0.4 against the line's 0.5: 0.4/0.5 = 0.80 → at risk (≥ 0.80).
    a = assessed("T17", 2025, {2023: "30", 2024: "34", 2025: "38"})
    assert a.comparator == "reaches" and a.measure == "level" and a.clause == "第（六）条"
    assert trajectory(a) == {2023: 30, 2024: 35, 2025: 40, 2026: 45, 2027: 50}
    assert a.trajectory_method.startswith("linear")
    assert (a.baseline_value, a.target_level, a.value, a.expected) == (30, 50, 38, 40)
    assert (a.progress, a.expected_progress, a.status) == (Decimal("0.4"), Decimal("0.5"), "at_risk")
    # Least squares through (2023, 30), (2024, 34), (2025, 38): slope 4 → 2027: 46; 46 < 50: not met.
    assert (a.forecast, a.forecast_meets_target) == (46, False)
    assert a.forecast_method == "linear trend (least squares) through the 3 values of 2023–2025"
    assert [p.revision for p in a.provenance] == [1, 1, 1]
    # 37 is 0.35 of the way against 0.5: 0.70 → behind; 40 is on the line → on track.
    assert assessed("T17", 2025, {2023: "30", 2025: "37"}).status == "behind"
    assert assessed("T17", 2025, {2023: "30", 2025: "40"}).status == "on_track"
    # In 2027 the text's 达到 decides: 50 is met, 49 missed.
    assert assessed("T17", 2027, {2023: "30", 2027: "50"}).status == "met"
    assert assessed("T17", 2027, {2023: "30", 2027: "49"}).status == "missed"


def test_an_annual_growth_target_compounds():
    # 第（十）条: 主营业务收入…年均增长15%左右. Baseline 2023: 400,000,000,000 yuan (4000亿元) → compound
    # 400e9·1.15^n: 2024 460e9, 2025 529e9, 2026 608.35e9, 2027 699.6025e9 (the target level).
    a = assessed("T28", 2025, {2023: "400000000000", 2025: "520000000000"})
    assert a.measure == "annual_growth" and a.approximate and a.comparator_text == "年均增长…左右"
    assert trajectory(a) == {
        2023: Decimal("400000000000"),
        2024: Decimal("460000000000"),
        2025: Decimal("529000000000"),
        2026: Decimal("608350000000"),
        2027: Decimal("699602500000"),
    }
    assert a.trajectory_method.startswith("compound")
    assert a.target_level == Decimal("699602500000")
    # Achieved: (520/400)^(1/2) − 1 = √1.3 − 1 = 0.1401754… → 14.017543 percent a year.
    assert a.achieved == Decimal("14.017543")
    # Progress 120e9/299.6025e9 = 0.400531; the trajectory's 129e9/299.6025e9 = 0.430571; 120/129 = 0.930 → at risk.
    assert (a.progress, a.expected_progress, a.status) == (Decimal("0.400531"), Decimal("0.430571"), "at_risk")
    # The compound trend through two values: 1.3 every two years → 2027: 520e9·1.3 = 676e9, a yearly 14.017543%:
    # below 15% less the 5% tolerance (14.25%): not met.
    assert a.forecast == Decimal("676000000000")
    assert a.forecast_meets_target is False
    assert a.forecast_method.startswith("compound trend (least squares on logarithms) through the 2 values")
    # The same indicator's level target (T27, 主营业务收入达到6400亿元) is on its straight line 400 → 640: 520 in 2025.
    level = assessed("T27", 2025, {2023: "400000000000", 2025: "520000000000"})
    assert (level.expected, level.progress, level.status) == (Decimal("520000000000"), Decimal("0.5"), "on_track")


def test_a_down_to_target_falls():
    # 第（十三）条: 社会物流总费用占GDP比重下降至13%左右. Baseline 2023: 14.4% → the falling line
    # 14.4 − 1.4·(y − 2023)/4: 14.05, 13.7, 13.35, 13.
    a = assessed("T33", 2025, {2023: "14.4", 2024: "14.1", 2025: "13.9"})
    assert a.comparator == "down_to" and a.approximate
    assert trajectory(a) == {
        2023: Decimal("14.4"),
        2024: Decimal("14.05"),
        2025: Decimal("13.7"),
        2026: Decimal("13.35"),
        2027: Decimal("13"),
    }
    assert a.trajectory_method.startswith("decreasing")
    # Progress (13.9 − 14.4)/(13 − 14.4) = 0.5/1.4 = 0.357143 against 0.5: 0.714 → behind.
    assert (a.progress, a.expected_progress, a.status) == (Decimal("0.357143"), Decimal("0.5"), "behind")
    # 13.8: 0.6/1.4 = 0.428571, 0.857 of the way → at risk; 13.7: on the line → on track.
    assert assessed("T33", 2025, {2023: "14.4", 2025: "13.8"}).status == "at_risk"
    assert assessed("T33", 2025, {2023: "14.4", 2025: "13.7"}).status == "on_track"
    # Least squares through 14.4, 14.1, 13.9: slope −0.25, mean 14.133333 at 2024 → 2027: 13.383333; 左右 allows up
    # to 13·1.05 = 13.65: met on the trend.
    assert (a.forecast, a.forecast_meets_target) == (Decimal("13.383333"), True)
    # In 2027: 13.6 is 13% 左右 (≤ 13.65); 13.7 is not.
    assert assessed("T33", 2027, {2023: "14.4", 2027: "13.6"}).status == "met"
    assert assessed("T33", 2027, {2023: "14.4", 2027: "13.7"}).status == "missed"


def test_increase_per_year_range_and_missing_figures():
    # 第（十三）条: 新增A级物流企业20家: baseline 2023 100 → level 120; 2025: 108 is 8/20 = 0.4 of the way against 0.5.
    a = assessed("T32", 2025, {2023: "100", 2025: "108"})
    assert (a.target_level, a.achieved, a.progress, a.status) == (120, 8, Decimal("0.4"), "at_risk")
    # 第（十五）条: 每年帮助实现就业或流动达到500万人次, a yearly flow: 4,200,000 in 2025 is 0.84 of it — at risk (≥ 0.80
    # of the figure); 5,000,000 on track; no baseline needed.
    flow = assessed("T38", 2025, {2025: "4200000"})
    assert (flow.progress, flow.status, flow.baseline_year) == (Decimal("0.84"), "at_risk", None)
    assert assessed("T38", 2025, {2025: "5000000"}).status == "on_track"
    assert set(trajectory(flow).values()) == {Decimal(5000000)}
    # 第（十七）条: 培育具有证券资格的会计师事务所2—3家 (an increase within a range): 10 → 12 or 13 in 2027 is met, 14 not.
    assert assessed("T41", 2027, {2023: "10", 2027: "12"}).status == "met"
    assert assessed("T41", 2027, {2023: "10", 2027: "13"}).status == "met"
    assert assessed("T41", 2027, {2023: "10", 2027: "14"}).status == "missed"
    # No value for the year: no data; a value but no baseline for a level target: no baseline.
    assert assessed("T17", 2025, {2023: "30"}).status == "no_data"
    none = assessed("T17", 2025, {2025: "38"})
    assert (none.status, none.progress, none.trajectory) == ("no_baseline", None, [])
    assert none.forecast is None and none.forecast_method == "none: fewer than two observed values"


def test_summary_counts_statuses_per_sector():
    rows = [
        assessed("T17", 2025, {2023: "30", 2025: "38"}),  # engineering_technical, at risk, 0.4
        assessed("T18", 2025, {}),  # engineering_technical, no data
        assessed("T33", 2025, {2023: "14.4", 2025: "13.7"}),  # modern_logistics, on track, 0.5
    ]
    summary = {row.sector: row for row in summarise(rows)}
    assert list(summary) == ["engineering_technical", "modern_logistics"]
    engineering = summary["engineering_technical"]
    assert engineering.targets == 2 and engineering.mean_progress == Decimal("0.4")
    assert engineering.statuses.at_risk == 1 and engineering.statuses.no_data == 1
    assert sum(engineering.statuses.model_dump().values()) == 2
    assert summary["modern_logistics"].statuses.on_track == 1


def test_a_target_already_met_is_on_track_and_huge_figures_are_no_error():
    # 第（十三）条 下降至13%左右 from 12.5% (already below): the target is held, a flat line at 13; 12.0% in 2025 holds it
    # (progress 1, on track), 13.9% has slipped back beyond 13 · 1.05 = 13.65 (behind; in 2027 missed).
    held = assessed("T33", 2025, {2023: "12.5", 2025: "12.0"})
    assert (held.status, held.progress, held.expected_progress) == ("on_track", 1, 1)
    assert set(trajectory(held).values()) == {Decimal(13)} and held.trajectory_method.startswith("flat")
    slipped = assessed("T33", 2025, {2023: "12.5", 2025: "13.9"})
    assert (slipped.status, slipped.progress) == ("behind", None)
    assert assessed("T33", 2027, {2023: "12.5", 2027: "13.9"}).status == "missed"
    # 第（二）条 市级工业设计中心250家以上 from 260: 270 is on track; a baseline equal to the target (250) too.
    assert assessed("T08", 2025, {2023: "260", 2025: "270"}).status == "on_track"
    assert assessed("T08", 2025, {2023: "250", 2025: "250"}).progress == 1
    # A trend running below 0 is held at 0: 14, 8, 2 (percent) → the line gives −10 in 2027.
    falling = assessed("T33", 2025, {2023: "14", 2024: "8", 2025: "2"})
    assert falling.forecast == 0 and falling.forecast_method.endswith("held at 0 (the trend runs below it)")
    # 第（五）条 绿色服务业营收年均增速超过20%: 1 yuan → 10^12 yuan is a growth of 10^8 % a year; the trend runs beyond
    # any figure: no forecast, and no error.
    huge = assessed("T16", 2025, {2023: "1", 2025: "1000000000000"})
    assert huge.status == "on_track" and huge.achieved == Decimal("99999900")
    assert huge.forecast is None and huge.forecast_method.startswith("none: the trend runs beyond")
