"""Charts of a year's assessment (SVG): one target's path to 2027, and every target's progress by sector."""

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator
from matplotlib.transforms import blended_transform_factory

from services.monitoring.assessments.schemas import STATUSES, AssessmentReport, TargetAssessment
from services.monitoring.reports.fonts import cjk_font
from services.monitoring.reports.labels import (
    CITY_WIDE_ZH,
    STATUS_COLOURS,
    STATUS_ZH,
    Scale,
    number_text,
    scale_for,
    scaled_text,
    target_text,
)
from services.monitoring.reports.rendering import literal, svg_bytes
from shared.policy.targets import GROWTH_MEASURES, WHOLE_UNITS

OBSERVED_COLOUR = "#1565c0"
TRAJECTORY_COLOUR = "#757575"
TARGET_COLOUR = "#c62828"
# Progress is drawn from −20 % to 150 % (the contract's cap); the label beside each bar gives the true figure.
PROGRESS_FLOOR = Decimal("-0.2")
PROGRESS_CAP = Decimal("1.5")
_NAME_CHARACTERS = 16


def _font(path: Path, size: float) -> FontProperties:
    return FontProperties(fname=path, size=size)


def _plain_ticks(value: float, _position: int) -> str:
    return f"{value:,.10g}"


def _target_figure(assessment: TargetAssessment, scale: Scale) -> str:
    """The target as the text gives it: a percentage for growth, else in the indicator's unit."""
    low, high = assessment.target_value, assessment.target_value_max
    if assessment.measure in GROWTH_MEASURES:
        ends = [number_text(low) + ("" if high is not None else "%")] + ([number_text(high) + "%"] if high else [])
    elif high is not None:
        ends = [number_text(low / scale.divisor), scaled_text(high, scale)]
    else:
        ends = [scaled_text(low, scale)]
    fills = ends if len(ends) == 2 else []
    if assessment.measure == "growth_since_baseline" and assessment.baseline_year is not None and len(ends) == 1:
        fills = [f"{assessment.baseline_year}年", ends[0]]
    return target_text(assessment.comparator_text, "—".join(ends), fills=fills)


def _range_top(assessment: TargetAssessment) -> Decimal | None:
    """The indicator's level at the top of a range target (2—3家), when the target is not a growth rate."""
    if assessment.target_value_max is None or assessment.target_level is None:
        return None
    if assessment.measure in GROWTH_MEASURES:
        return None
    return assessment.target_level + (assessment.target_value_max - assessment.target_value)


def _default_title(assessment: TargetAssessment) -> str:
    name = assessment.indicator_name_zh
    sector = assessment.sector_name_zh
    return name if sector is None or name.startswith(sector[:2]) else f"{sector}：{name}"


def target_chart_svg(
    assessment: TargetAssessment, *, title_zh: str | None = None, font_file: str | Path | None = None
) -> bytes:
    """The indicator's observed values against the trajectory to the target and the target level (dashed), from the
    baseline year to the target year. `title_zh`: the chart's title (None: the indicator's name, and the sector's
    where the name does not say it); `font_file`: the service's CJK font setting (None: the installed font)."""
    font = cjk_font(font_file)
    if title_zh is None:
        title_zh = _default_title(assessment)
    observed = [(point.year, point.value) for point in assessment.observed]
    trajectory = [(point.year, point.value) for point in assessment.trajectory]
    range_top = _range_top(assessment)
    levels = [value for _, value in observed + trajectory]
    levels += [v for v in (assessment.target_level, range_top, assessment.forecast) if v is not None]
    scale = scale_for(assessment.unit, max((abs(v) for v in levels), default=None))
    years = [year for year, _ in observed + trajectory]
    first = min([*years, assessment.baseline_year or assessment.year, assessment.year])
    last = max([*years, assessment.target_year])

    def shown(value: Decimal) -> float:
        return float(value / scale.divisor)

    figure = Figure(figsize=(8.0, 5.0))
    axes = figure.add_axes((0.11, 0.25, 0.85, 0.56))
    figure.text(0.5, 0.94, literal(title_zh), ha="center", va="center", fontproperties=_font(font, 15))
    figure.text(
        0.11,
        0.865,
        literal(f"{assessment.target_id}　目标：{_target_figure(assessment, scale)}（{assessment.target_year}年）"),
        ha="left",
        va="center",
        fontproperties=_font(font, 10),
        color="#333333",
    )
    figure.text(
        0.96,
        0.865,
        f"{assessment.year}年：{STATUS_ZH[assessment.status]}",
        ha="right",
        va="center",
        fontproperties=_font(font, 10),
        color="white" if assessment.status not in ("at_risk", "no_baseline") else "black",
        bbox={"boxstyle": "round,pad=0.3", "facecolor": STATUS_COLOURS[assessment.status], "edgecolor": "none"},
    )
    handles: list[Line2D | Patch] = []
    if trajectory:
        (line,) = axes.plot(
            [year for year, _ in trajectory],
            [shown(value) for _, value in trajectory],
            color=TRAJECTORY_COLOUR,
            linestyle=":",
            linewidth=1.6,
            marker="o",
            markersize=3,
            label="目标轨迹",
        )
        handles.append(line)
    if assessment.target_level is not None:
        level = shown(assessment.target_level)
        if range_top is not None:
            handles.append(
                axes.axhspan(level, shown(range_top), color=TARGET_COLOUR, alpha=0.12, linewidth=0, label="目标区间")
            )
        handles.append(
            axes.axhline(
                level, color=TARGET_COLOUR, linestyle="--", linewidth=1.4, label=f"{assessment.target_year}年目标"
            )
        )
        # At the left end, where the trajectory is still far from it; below the line for a target to come down to.
        above = assessment.comparator != "down_to"
        target_label = scaled_text(assessment.target_level, scale)
        if range_top is not None:
            target_label = f"{number_text(assessment.target_level / scale.divisor)}—{scaled_text(range_top, scale)}"
        axes.annotate(
            f"目标 {target_label}",
            (first, level),
            xytext=(4, 4 if above else -4),
            textcoords="offset points",
            ha="left",
            va="bottom" if above else "top",
            fontproperties=_font(font, 9),
            color=TARGET_COLOUR,
        )
    if observed:
        (line,) = axes.plot(
            [year for year, _ in observed],
            [shown(value) for _, value in observed],
            color=OBSERVED_COLOUR,
            linewidth=2.2,
            marker="o",
            markersize=6,
            label="实际值",
            zorder=3,
        )
        handles.append(line)
        last_year, last_value = observed[-1]
        # Below the point when the trajectory passes above it, so that the label does not sit on the dotted line.
        planned = dict(trajectory).get(last_year)
        below = planned is not None and planned > last_value
        axes.annotate(
            scaled_text(last_value, scale),
            (last_year, shown(last_value)),
            xytext=(0, -10 if below else 9),
            textcoords="offset points",
            ha="center",
            va="top" if below else "bottom",
            fontproperties=_font(font, 9),
            color=OBSERVED_COLOUR,
            zorder=4,
        )
        if assessment.forecast is not None and last_year < assessment.target_year:
            axes.plot(
                [last_year, assessment.target_year],
                [shown(last_value), shown(assessment.forecast)],
                color=OBSERVED_COLOUR,
                linestyle="--",
                linewidth=1,
                alpha=0.6,
            )
            (point,) = axes.plot(
                [assessment.target_year],
                [shown(assessment.forecast)],
                linestyle="none",
                marker="o",
                markersize=7,
                markerfacecolor="white",
                markeredgecolor=OBSERVED_COLOUR,
                markeredgewidth=1.6,
                label="趋势预测",
                zorder=3,
            )
            handles.append(point)
    else:
        axes.text(
            0.5,
            0.5,
            "暂无观测数据",
            transform=axes.transAxes,
            ha="center",
            va="center",
            fontproperties=_font(font, 12),
            color="#757575",
        )
    axes.set_xlim(first - 0.4, last + 0.4)
    axes.xaxis.set_major_locator(FixedLocator(list(range(first, last + 1))))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:.0f}"))
    axes.yaxis.set_major_formatter(FuncFormatter(_plain_ticks))
    if assessment.unit in WHOLE_UNITS and scale.divisor == 1:
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # whole things: no 2.5 parks on the axis
    axes.set_ylim(*_value_range([shown(value) for value in levels]))
    axes.grid(True, color="#e0e0e0", linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.set_xlabel("年份", fontproperties=_font(font, 10))
    axes.set_ylabel(f"数值（{scale.suffix}）" if scale.suffix else "数量", fontproperties=_font(font, 10))
    if handles:
        figure.legend(
            handles=handles,
            loc="center",
            bbox_to_anchor=(0.5, 0.085),
            ncol=len(handles),
            frameon=False,
            prop=_font(font, 9),
        )
    figure.text(0.01, 0.015, literal(f"依据：{assessment.citation}"), fontproperties=_font(font, 7), color="#757575")
    return svg_bytes(figure)


def _value_range(values: list[float]) -> tuple[float, float]:
    """The y axis: from 0 when the figures come near it (a count, a revenue), else from a little below them (a share
    moving between 14.6 and 13.5 % would be a flat line on an axis from 0); room above for the labels."""
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    span = (high - low) or abs(high) or 1.0
    bottom = 0.0 if 0 <= low <= span else low - 0.15 * span
    return bottom, high + 0.2 * span


def _short(name: str) -> str:
    return name if len(name) <= _NAME_CHARACTERS else name[: _NAME_CHARACTERS - 1] + "…"


def _percent(value: Decimal) -> str:
    return number_text(value * 100, 0) + "%"


def _groups(report: AssessmentReport) -> list[tuple[str, str, Sequence[TargetAssessment]]]:
    """(sector name, its summary line, its targets) in the order of the report's sectors."""
    groups: list[tuple[str, str, Sequence[TargetAssessment]]] = []
    for summary in report.sectors:
        targets = [target for target in report.targets if target.sector == summary.sector]
        mean = f"，平均进度 {_percent(summary.mean_progress)}" if summary.mean_progress is not None else ""
        groups.append((summary.sector_name_zh or CITY_WIDE_ZH, f"{summary.targets}项目标{mean}", targets))
    return groups


def sector_progress_svg(report: AssessmentReport, *, font_file: str | Path | None = None) -> bytes:
    """Every target's progress (the share of the way from its baseline to its target), one bar each, coloured by
    its status, grouped under its sector with the sector's mean; the mark on a bar is where the trajectory is."""
    font = cjk_font(font_file)
    groups = _groups(report)
    # At least one row: a report without targets still draws its frame, saying so.
    rows = max(1, sum(1 + max(1, len(targets)) for _, _, targets in groups))
    row_inches, bottom_inches = 0.27, 0.95
    top_inches = 1.3 if rows > 30 else 1.05  # room for the scale repeated at the top of a long chart
    height = rows * row_inches + top_inches + bottom_inches
    figure = Figure(figsize=(10.0, height))
    axes = figure.add_axes((0.3, bottom_inches / height, 0.6, rows * row_inches / height))
    figure.text(
        0.5,
        1 - 0.35 / height,
        f"{report.year}年 现代生产性服务业2027年目标进度（按行业）",
        ha="center",
        va="center",
        fontproperties=_font(font, 15),
    )
    figure.text(
        0.5,
        1 - 0.68 / height,
        "进度：自基线至目标已走过的比例（100%即达到目标，超过150%的按150%绘制）；竖线：当年按轨迹应达的进度",
        ha="center",
        va="center",
        fontproperties=_font(font, 9),
        color="#555555",
    )
    left_of_figure = blended_transform_factory(figure.transFigure, axes.transData)
    right_of_axes = blended_transform_factory(axes.transAxes, axes.transData)
    tick_positions: list[float] = []
    tick_labels: list[str] = []
    row = 0
    for name, summary, targets in groups:
        axes.axhspan(row - 0.5, row + 0.5, color="#eeeeee", linewidth=0)
        axes.text(
            0.015,
            row,
            literal(f"{name}（{summary}）"),
            transform=left_of_figure,
            ha="left",
            va="center",
            fontproperties=_font(font, 10),
        )
        row += 1
        if not targets:
            axes.text(0.0, row, "无目标", ha="left", va="center", fontproperties=_font(font, 8), color="#757575")
            row += 1
            continue
        for target in targets:
            tick_positions.append(row)
            tick_labels.append(literal(f"{target.target_id} {_short(target.indicator_name_zh)}"))
            colour = STATUS_COLOURS[target.status]
            if target.progress is not None:
                drawn = min(max(target.progress, PROGRESS_FLOOR), PROGRESS_CAP)
                axes.barh(row, float(drawn), height=0.62, color=colour, edgecolor="none")
                if target.progress > PROGRESS_CAP:
                    axes.plot([float(PROGRESS_CAP)], [row], marker=">", color=colour, markersize=7, clip_on=False)
                label = _percent(target.progress)
            else:
                label = STATUS_ZH[target.status]
            if target.expected_progress is not None:
                expected = min(max(target.expected_progress, PROGRESS_FLOOR), PROGRESS_CAP)
                axes.plot([float(expected)], [row], marker="|", markersize=12, markeredgewidth=2, color="#212121")
            axes.text(
                1.02,
                row,
                label,
                transform=right_of_axes,
                ha="left",
                va="center",
                fontproperties=_font(font, 8),
                color="#212121",
            )
            row += 1
    if not groups:
        axes.text(0.0, 0, "暂无目标", ha="left", va="center", fontproperties=_font(font, 10), color="#757575")
        row = 1
    axes.set_ylim(row - 0.5, -0.5)
    axes.set_xlim(float(PROGRESS_FLOOR), float(PROGRESS_CAP) + 0.05)
    axes.yaxis.set_major_locator(FixedLocator(tick_positions))
    axes.set_yticklabels(tick_labels, fontproperties=_font(font, 8))
    axes.tick_params(axis="y", length=0)
    percent_ticks = [-0.2, 0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    axes.xaxis.set_major_locator(FixedLocator(percent_ticks))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value * 100:.0f}%"))
    if rows > 30:  # a long chart: the scale at its top too
        axes.tick_params(axis="x", top=True, labeltop=True)
    axes.axvline(0, color="#9e9e9e", linewidth=0.8)
    axes.axvline(1.0, color=TARGET_COLOUR, linestyle="--", linewidth=1.2)
    axes.grid(True, axis="x", color="#e0e0e0", linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    present = [status for status in STATUSES if any(target.status == status for target in report.targets)]
    handles: list[Line2D | Patch] = [Patch(color=STATUS_COLOURS[status], label=STATUS_ZH[status]) for status in present]
    handles.append(
        Line2D(
            [],
            [],
            color="#212121",
            marker="|",
            markersize=12,
            markeredgewidth=2,
            linestyle="none",
            label="当年应达进度",
        )
    )
    handles.append(Line2D([], [], color=TARGET_COLOUR, linestyle="--", linewidth=1.2, label="目标（100%）"))
    figure.legend(
        handles=handles,
        loc="center",
        bbox_to_anchor=(0.5, 0.3 / height),
        ncol=len(handles) if len(handles) <= 7 else 5,
        frameon=False,
        prop=_font(font, 9),
    )
    return svg_bytes(figure)
