"""The 2027 targets of 渝府发〔2024〕18号 as data: every target sentence has its records, every figure is the text's."""

import json
import re
import shutil
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.policy.parameters import PolicyFileError
from shared.policy.references import ACTION_PLAN_DOCUMENT
from shared.policy.targets import COMPUTED, TARGETS_FILE, PlanTargets, plan_targets, read_plan_targets
from shared.reference import SECTOR_CODES, SECTORS
from tests.policy.texts import TEXT_FILES, compact, problem

PLAN = plan_targets()
HEADLINE = "一、总体要求"
_DIGITS = ("", "一", "二", "三", "四", "五", "六", "七", "八", "九")


def numeral(n: int) -> str:
    """1 → 一, 10 → 十, 13 → 十三, 20 → 二十, 32 → 三十二: how the plan numbers its items."""
    tens, units = divmod(n, 10)
    return ("" if tens == 0 else ("十" if tens == 1 else f"{_DIGITS[tens]}十")) + _DIGITS[units]


@cache
def plan_sections() -> dict[str, str]:
    """一、总体要求 and 第（一）条 … 第（三十二）条 of the plan, each the compacted text of that part alone."""
    text = compact(TEXT_FILES[ACTION_PLAN_DOCUMENT].read_text(encoding="utf-8"))
    position = text.index(HEADLINE)
    starts = [(HEADLINE, position)]
    for n in range(1, 33):
        position = text.index(f"（{numeral(n)}）", position)
        starts.append((f"第（{numeral(n)}）条", position))
    ends = [start for _, start in starts[1:]] + [len(text)]
    return {label: text[start:end] for (label, start), end in zip(starts, ends, strict=True)}


def target_sentences() -> list[tuple[str, str]]:
    """(clause, sentence) of every sentence of the plan with 到2027年 and a digit."""
    return [
        (clause, sentence + "。")
        for clause, section in plan_sections().items()
        for sentence in section.split("。")
        if "到2027年" in sentence and re.search(r"[0-9]", sentence)
    ]


def test_the_plan_has_one_headline_part_and_thirty_two_items():
    sections = plan_sections()
    assert len(sections) == 33
    assert sections["第（一）条"].startswith("（一）促进科技研发服务业增量提质")
    assert sections["第（十八）条"].startswith("（十八）拓展法律和知识产权服务业")
    assert sections["第（三十二）条"].startswith("（三十二）优化发展环境")


def test_the_plan_has_twenty_target_sentences_each_with_a_record():
    sentences = target_sentences()
    # One in 一、总体要求, one in each of （一）…（十八）, two in （十三）; none in the eight projects or the safeguards.
    assert [clause for clause, _ in sentences] == [HEADLINE] + [
        f"第（{numeral(n)}）条" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 13, 14, 15, 16, 17, 18)
    ]
    for clause, sentence in sentences:
        assert [t for t in PLAN.targets if t.reference.clause == clause and t.reference.quote in sentence], sentence


def test_every_record_quotes_a_target_sentence_of_its_clause_verbatim():
    sentences = target_sentences()
    for target in PLAN.targets:
        assert problem(target.reference) is None, target.id
        assert any(
            clause == target.reference.clause and target.reference.quote in sentence for clause, sentence in sentences
        ), target.id


def test_the_exact_number_of_records_per_clause():
    assert len(PLAN.targets) == 45
    assert len(PLAN.indicators) == 44  # software revenue has two targets: 达到6400亿元 and 年均增长15%左右
    assert Counter(t.reference.clause for t in PLAN.targets) == {
        HEADLINE: 3,
        "第（一）条": 2,
        "第（二）条": 4,
        "第（三）条": 1,
        "第（四）条": 2,
        "第（五）条": 4,
        "第（六）条": 4,
        "第（七）条": 1,
        "第（八）条": 1,
        "第（九）条": 2,
        "第（十）条": 4,
        "第（十一）条": 1,
        "第（十二）条": 2,
        "第（十三）条": 2,
        "第（十四）条": 3,
        "第（十五）条": 2,
        "第（十六）条": 2,
        "第（十七）条": 2,
        "第（十八）条": 3,
    }


# Each target's figure as the text writes it, read by hand; test_every_figure_is_the_texts converts it.
FIGURES = {
    "T01": "60%", "T02": "20个", "T03": "100家", "T04": "500家", "T05": "550亿元", "T06": "500家", "T07": "15家",
    "T08": "250家", "T09": "3000亿元", "T10": "1100亿元", "T11": "10个", "T12": "50家", "T13": "10个",
    "T14": "100%", "T15": "30%", "T16": "20%", "T17": "50家", "T18": "600亿元", "T19": "6000人", "T20": "1万人",
    "T21": "10家", "T22": "10家", "T23": "2700亿元", "T24": "12个", "T25": "上万家", "T26": "20万人",
    "T27": "6400亿元", "T28": "15%", "T29": "20%", "T30": "11万亿元", "T31": "3800亿元", "T32": "20家",
    "T33": "13%", "T34": "5个", "T35": "5家", "T36": "5个", "T37": "1500亿元", "T38": "500万人次", "T39": "20家",
    "T40": "20%", "T41": "2—3家", "T42": "35家", "T43": "20家", "T44": "2万人", "T45": "800人",
}  # fmt: skip
# Numbers of the target sentences that are not targets: the year of the targets, a base year, two qualifiers.
NOT_TARGETS = {
    "第（五）条": ["2023年"],  # 较2023年: the base of the growth (baseline_year)
    "第（十四）条": ["10万平方米"],  # which exhibitions count: 单次展览面积在10万平方米以上
    "第（十八）条": ["100人以上"],  # which law firms count: 100人以上律师事务所
}
MULTIPLIERS = {"万亿": 10**12, "亿": 10**8, "万": 10**4, "": 1}
UNIT_WORDS = {"元": {"yuan"}, "人": {"persons"}, "人次": {"person_times"}, "家": {"count"}, "个": {"count", "events"}}


def read_figure(written: str) -> tuple[Decimal, Decimal | None, str]:
    """ "1100亿元" → (110000000000, None, "元"); "2—3家" → (2, 3, "家"); "上万家" → (10000, None, "家")."""
    if written == "上万家":
        return Decimal(10**4), None, "家"
    match = re.fullmatch(r"([0-9]+)(?:—([0-9]+))?(万亿|亿|万|)(元|人次|人|家|个|%)", written)
    assert match, written
    low, high, multiplier, unit = match.groups()
    scale = MULTIPLIERS[multiplier]
    return Decimal(low) * scale, None if high is None else Decimal(high) * scale, unit


@pytest.mark.parametrize("target", PLAN.targets, ids=lambda t: t.id)
def test_every_figure_is_the_texts(target):
    written = FIGURES[target.id]
    assert written in target.reference.quote
    value, value_max, unit = read_figure(written)
    assert (target.value, target.value_max) == (value, value_max)
    assert target.value_unit in ({"percent"} if unit == "%" else UNIT_WORDS[unit])


def test_every_number_of_a_target_sentence_is_a_target_or_a_named_qualifier():
    assert sorted(FIGURES) == sorted(t.id for t in PLAN.targets)
    for clause, sentence in target_sentences():
        rest = sentence.replace("到2027年", "")
        for word in NOT_TARGETS.get(clause, []):
            assert word in rest
            rest = rest.replace(word, "")
        written = [
            FIGURES[t.id] for t in PLAN.targets if t.reference.clause == clause and t.reference.quote in sentence
        ]
        for figure in sorted(set(written), key=len, reverse=True):
            rest = rest.replace(figure, "")
        assert not re.search(r"[0-9]|上万|[一二三四五六七八九十百千万亿]+[家个人元]", rest), rest


def test_one_record_per_target_with_the_two_figures_of_the_recovery_sentence():
    # 报废汽车、废旧家电回收量分别较2023年增长100%和30%以上: 分别 pairs the figures; 以上 is read as applying to both.
    recovery = [t for t in PLAN.targets if "回收量" in t.reference.quote]
    assert [(t.indicator, t.value, t.comparator, t.measure) for t in recovery] == [
        ("low_carbon_environmental.scrapped_vehicle_recovery", Decimal(100), "at_least", "growth_since_baseline"),
        ("low_carbon_environmental.waste_appliance_recovery", Decimal(30), "at_least", "growth_since_baseline"),
    ]
    assert all(t.baseline is None and "较2023年" in t.reference.quote for t in recovery)
    assert PLAN.baseline_year == 2023


def test_ids_are_sequential_and_every_target_names_an_indicator_of_the_file():
    assert [t.id for t in PLAN.targets] == [f"T{n:02d}" for n in range(1, 46)]
    ids = [indicator.id for indicator in PLAN.indicators]
    assert len(set(ids)) == len(ids)
    assert {t.indicator for t in PLAN.targets} == set(ids)
    assert all(t.target_year == 2027 and t.reference.document == ACTION_PLAN_DOCUMENT for t in PLAN.targets)


def test_the_sector_is_the_items_own_and_none_for_the_headline():
    # The plan's items （一）…（十八） are the 18 sectors in the order shared/reference.SECTORS lists them.
    items = {f"第（{numeral(n)}）条": sector.code for n, sector in enumerate(SECTORS, start=1)}
    for target in PLAN.targets:
        assert target.sector == items.get(target.reference.clause), target.id
        assert target.sector is None or target.sector in SECTOR_CODES
        assert target.indicator.startswith(f"{target.sector or 'producer_services'}.")


def test_computed_indicators_are_those_the_registry_measures():
    computed = {i.id: i.computed_from for i in PLAN.indicators if i.computed_from is not None}
    assert set(computed.values()) <= COMPUTED
    assert computed == {
        "producer_services.clusters_reaching_10bn": "registry.clusters_reaching_10bn",
        "producer_services.leading_enterprises": "registry.leading_enterprises",
        "tech_rnd.new_above_scale_enterprises": "registry.new_above_scale_since_baseline",
    }
    new_rnd = PLAN.indicator("tech_rnd.new_above_scale_enterprises")
    assert (
        new_rnd.counted_from_baseline
        and not PLAN.indicator("producer_services.leading_enterprises").counted_from_baseline
    )


def test_the_lead_departments_are_those_named_after_the_sentence():
    for indicator in PLAN.indicators:
        (clause,) = {t.reference.clause for t in PLAN.targets_of(indicator.id)}
        if clause == HEADLINE:
            assert indicator.lead_departments == (), indicator.id  # 总体要求 names no department
            continue
        named = re.findall(r"[（〔]([^（〔）〕]*?)等按职责分工负责", plan_sections()[clause])
        assert [indicator.lead_departments] == [tuple(names.split("、")) for names in named], indicator.id


def words_in_order(words: str, quote: str) -> bool:
    position = 0
    for piece in filter(None, words.split("…")):
        found = quote.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return True


@pytest.mark.parametrize("target", PLAN.targets, ids=lambda t: t.id)
def test_comparator_measure_and_approximation_follow_the_words(target):
    words, quote = target.comparator_text, target.reference.quote
    assert words_in_order(words, quote), (words, quote)
    if "超过" in words or "突破" in words:
        comparator = "exceeds"
    elif "以上" in words or "上万" in words:
        comparator = "at_least"
    elif "下降至" in words:
        comparator = "down_to"
    elif "—" in words:
        comparator = "range"
    else:
        comparator = "reaches"  # 达到, 实现, or a bare number after 建成/培育/新增/打造
    assert target.comparator == comparator
    if "年均" in words:
        measure = "annual_growth"
    elif "较" in words:
        measure = "growth_since_baseline"
    elif "每年" in words:
        measure = "per_year"
    elif re.match(r"(新增|新建|新培育|培育)", words):
        measure = "increase"
    else:
        measure = "level"  # 建成/建设/打造/基本形成: how many there are by 2027
    assert target.measure == measure
    assert target.approximate == ("约" in quote or "左右" in quote) == ("约" in words or "左右" in words)


def test_the_targets_of_software_revenue_and_the_proxies():
    revenue = PLAN.targets_of("software_it.main_business_revenue")
    assert [(t.id, t.measure, t.value, t.value_unit, t.approximate) for t in revenue] == [
        ("T27", "level", Decimal("640000000000"), "yuan", False),  # 6400亿元 = 6400 × 10^8
        ("T28", "annual_growth", Decimal(15), "percent", True),
    ]
    assert revenue[0].sector == "software_it" and revenue[0].citation.startswith("渝府发〔2024〕18号 第（十）条：")
    with pytest.raises(KeyError, match="no indicator"):
        PLAN.indicator("software_it.nothing")
    with pytest.raises(KeyError, match="no indicator"):
        PLAN.targets_of("software_it.nothing")
    assert plan_targets() is PLAN


def test_the_assessment_parameters():
    parameters = PLAN.parameters
    assert (parameters.on_track_ratio, parameters.at_risk_ratio) == (Decimal("1.00"), Decimal("0.80"))
    assert parameters.approximate_tolerance == Decimal("0.05")
    assert parameters.small_cell_minimum == 3 and isinstance(parameters.small_cell_minimum, int)
    assert parameters.cluster_revenue_threshold_yuan == 100 * 10**8  # 百亿 = 100 × 亿
    records = {p.name: p for p in PLAN.parameter_records}
    assert [(records[name].bounds.min, records[name].bounds.max) for name in sorted(records)] == [
        (Decimal("0"), Decimal("0.20")),  # approximate_tolerance
        (Decimal("0.30"), Decimal("1.00")),  # at_risk_ratio
        (Decimal(10**10), Decimal(10**10)),  # cluster_revenue_threshold_yuan
        (Decimal("0.50"), Decimal("1.00")),  # on_track_ratio
        (Decimal("1"), Decimal("10")),  # small_cell_minimum
    ]
    for record in PLAN.parameter_records:
        assert problem(record.reference) is None, record.name
        assert record.reference.quote in plan_sections()[record.reference.clause], record.name
    assert "可统计、可监测、可评估" in records["monitoring.on_track_ratio"].citation
    assert "百亿级" in records["monitoring.cluster_revenue_threshold_yuan"].reference.quote


# A bad file, written to tmp_path and read: refused with the file named.


@pytest.fixture
def targets_copy(tmp_path: Path) -> Path:
    path = tmp_path / "targets.json"
    shutil.copy(TARGETS_FILE, path)
    return path


def edit(path: Path, change: Callable[[dict[str, Any]], object]) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def test_the_copy_loads_like_the_original(targets_copy: Path):
    copy = read_plan_targets(targets_copy)
    assert isinstance(copy, PlanTargets) and copy == PLAN


def test_a_key_written_twice_is_refused(targets_copy: Path):
    text = targets_copy.read_text(encoding="utf-8")
    path_text = text.replace('"target_value": "60",', '"target_value": "50", "target_value": "60",', 1)
    assert path_text != text
    targets_copy.write_text(path_text, encoding="utf-8")
    with pytest.raises(PolicyFileError, match=r"targets\.json: target_value written more than once"):
        read_plan_targets(targets_copy)


def parameter(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda d: next(p for p in d["assessment_parameters"] if p["name"] == name)


def first_target(d: dict[str, Any]) -> dict[str, Any]:
    target: dict[str, Any] = d["targets"][0]
    return target


def indicator_of(indicator_id: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda d: next(i for i in d["indicators"] if i["id"] == indicator_id)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: first_target(d).update(note="x"), r"targets\.0\.note\s+Extra inputs are not permitted"),
        (lambda d: d.update(remarks="x"), r"remarks\s+Extra inputs are not permitted"),
        (lambda d: first_target(d).update(indicator="producer_services.nothing"), "no indicator"),
        (lambda d: first_target(d).update(target_value=60), "a figure is written as a string"),
        (lambda d: first_target(d).update(target_value="NaN"), "not a finite number"),
        (lambda d: first_target(d).update(target_value="六十"), "is not a number"),
        (lambda d: first_target(d).update(comparator="about"), "comparator"),
        (lambda d: first_target(d).update(measure="stock"), "measure"),
        (lambda d: first_target(d).update(approximate=True), "approximate is True but the words are '超过'"),
        (lambda d: first_target(d).update(comparator="range"), "a range target, and only one"),
        (lambda d: first_target(d).update(target_year=2028), "outside the plan period"),
        (lambda d: first_target(d).update(id="T02"), "target T02 appears more than once"),
        (lambda d: first_target(d)["reference"].update(document="渝发改规范〔2024〕7号"), "not 渝府发"),
        (lambda d: d["targets"][1].update(target_value="20.5"), "a figure in count is a whole number"),
        (
            lambda d: first_target(d).update(baseline={"year": 2023, "value": "55"}),
            r"baseline\.source\s+Field required",
        ),
        (
            lambda d: d["targets"][13].update(baseline={"year": 2022, "value": "1", "source": "市商务委"}),
            "the growth is over 2023",
        ),
        (lambda d: d.update(baseline_year=2022), "does not state the growth over 较2022年"),
        (lambda d: indicator_of("software_it.enterprises")(d).update(sector="software"), "not one of the 18"),
        (lambda d: indicator_of("software_it.enterprises")(d).update(sector="legal_ip"), "starts with 'legal_ip.'"),
        (
            lambda d: indicator_of("software_it.enterprises")(d).update(computed_from="registry.revenue_yuan"),
            "registry.revenue_yuan is in yuan, not count",
        ),
        (
            lambda d: indicator_of("software_it.enterprises")(d).update(computed_from="registry.applications"),
            "computed_from",
        ),
        (lambda d: d["indicators"].append(dict(d["indicators"][0], id="producer_services.spare")), "have no target"),
        (lambda d: parameter("monitoring.on_track_ratio")(d).update(value="0.70"), "at_risk_ratio is above"),
        (lambda d: parameter("monitoring.on_track_ratio")(d).update(value="1.10"), r"outside its bounds 0\.50–1\.00"),
        (lambda d: parameter("monitoring.small_cell_minimum")(d).update(value="2.5"), "not a whole number"),
        (
            lambda d: parameter("monitoring.cluster_revenue_threshold_yuan")(d)["bounds"].update(min="0"),
            "fixed by the text",
        ),
        (lambda d: d["assessment_parameters"].pop(), "the assessment parameters are"),
    ],
)
def test_a_malformed_file_is_refused(targets_copy: Path, change, message):
    edit(targets_copy, change)
    with pytest.raises(PolicyFileError, match=r"targets\.json: ") as caught:
        read_plan_targets(targets_copy)
    assert isinstance(caught.value.__cause__, ValidationError)
    assert re.search(message, str(caught.value)), str(caught.value)
