"""The Chinese words, colours and number formats the charts, the map and the workbook share."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from services.monitoring.vocabulary import AssessmentStatus as Status
from shared.policy.targets import Measure, Unit

STATUS_ZH: dict[Status, str] = {
    "on_track": "符合进度",
    "at_risk": "进度偏慢",
    "behind": "进度滞后",
    "met": "已完成",
    "missed": "未完成",
    "no_data": "暂无数据",
    "no_baseline": "缺少基线",
}
# Greens for good, amber and reds for bad, greys for nothing to judge; distinct in lightness too, for greyscale print.
STATUS_COLOURS: dict[Status, str] = {
    "on_track": "#4caf50",
    "met": "#1b5e20",
    "at_risk": "#f9a825",
    "behind": "#e65100",
    "missed": "#b71c1c",
    "no_data": "#9e9e9e",
    "no_baseline": "#cfd8dc",
}
MEASURE_ZH: dict[Measure, str] = {
    "level": "水平值",
    "increase": "较基线新增",
    "annual_growth": "年均增长（%）",
    "growth_since_baseline": "较基线增长（%）",
    "per_year": "每年",
}
UNIT_ZH: dict[Unit, str] = {
    "percent": "%",
    "count": "个",
    "yuan": "元",
    "persons": "人",
    "person_times": "人次",
    "events": "次",
}
CITY_WIDE_ZH = "全市"
_TEN_THOUSAND = Decimal(10_000)
_HUNDRED_MILLION = Decimal(100_000_000)
# Comparator words written after the figure (60家以上, 15%左右); the rest come before it (超过60家, 达到6400亿元).
_AFTER_THE_FIGURE = ("以上", "左右", "以下")


@dataclass(frozen=True, slots=True)
class Scale:
    """How figures of a unit are shown: divided by `divisor`, followed by `suffix` (亿元, 万人, %)."""

    divisor: Decimal
    suffix: str


def scale_for(unit: Unit, largest: Decimal | None) -> Scale:
    """The display scale for figures of `unit` whose largest magnitude is `largest` (亿元 for billions …)."""
    magnitude = abs(largest) if largest is not None else Decimal(0)
    if unit == "yuan":
        if magnitude >= _HUNDRED_MILLION:
            return Scale(_HUNDRED_MILLION, "亿元")
        return Scale(_TEN_THOUSAND, "万元") if magnitude >= _TEN_THOUSAND else Scale(Decimal(1), "元")
    if unit in ("persons", "person_times") and magnitude >= _TEN_THOUSAND:
        return Scale(_TEN_THOUSAND, "万" + UNIT_ZH[unit])
    # A count's noun is the text's (家, 个, 项): none is shown rather than a wrong one.
    return Scale(Decimal(1), "" if unit in ("count", "events") else UNIT_ZH[unit])


def number_text(value: Decimal, places: int = 2) -> str:
    """`value` for a label: thousands separated, at most `places` decimals, no trailing zeros, ASCII minus."""
    rounded = round(value, places)
    text = f"{rounded:,.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def scaled_text(value: Decimal, scale: Scale, places: int = 2) -> str:
    return number_text(value / scale.divisor, places) + scale.suffix


def target_text(words: str, figure: str, *, fills: Sequence[str] = ()) -> str:
    """The target as the text words it, from its comparator words and its figure: 超过60家, 60家以上, 达500家以上
    (达…以上), 每年达到500万人次 (每年…达到). `fills`: what the ellipses stand for where there are several
    (较…增长…以上: the base year and the figure; 培育…—…: the two ends of the range)."""
    count = words.count("…")
    if count == 0:
        return f"{figure}{words}" if words.endswith(_AFTER_THE_FIGURE) else f"{words}{figure}"
    if count == 1:
        head, tail = words.split("…")
        if tail == "" or tail.startswith(_AFTER_THE_FIGURE):
            return f"{head}{figure}{tail}"
        if tail.endswith(("万", "千")):  # 新增…上万: the words are a figure themselves; the exact one follows
            return f"{head}{tail}（{figure}）"
        return f"{head}{tail}{figure}"
    if len(fills) == count:
        pieces = words.split("…")
        return pieces[0] + "".join(fill + piece for fill, piece in zip(fills, pieces[1:], strict=True))
    return f"{figure}（{words}）"
