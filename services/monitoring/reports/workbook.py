"""A year's assessment as a workbook for the meeting (XLSX): a summary of every target, a sheet per sector, and
where every value comes from.

Figures are numbers in the cells (a Decimal becomes a float only there), formatted by their unit: money with two
places, shares of the way as percentages; text goes through shared.spreadsheets (no formula can be smuggled in).
The same report gives the same bytes: openpyxl stamps the file with the time of saving (the document's modified
date and every zip entry's date), both replaced here by the report's generated_at.
"""

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# openpyxl ships no type information (no stubs are pinned in this project).
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

from services.monitoring.assessments.schemas import STATUSES, AssessmentReport, Provenance, TargetAssessment
from services.monitoring.reports.labels import CITY_WIDE_ZH, MEASURE_ZH, STATUS_ZH, UNIT_ZH
from shared.policy.targets import GROWTH_MEASURES, WHOLE_UNITS
from shared.spreadsheets import xlsx_row

TITLE = "渝府发〔2024〕18号 2027年目标监测评估"
MONEY_FORMAT = "#,##0.00"
WHOLE_FORMAT = "#,##0"
PERCENT_FIGURE_FORMAT = "0.00"  # a figure that is itself in percent (年均增长15 → 15.00)
SHARE_FORMAT = "0.0%"  # a share of the way (0.5625 → 56.3%)
SUMMARY_SHEET, PROVENANCE_SHEET = "汇总", "数据来源"

# The summary's columns: (header, width). The per-sector sheets repeat them.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("目标编号", 8),
    ("行业", 14),
    ("指标", 30),
    ("测度", 14),
    ("表述", 12),
    ("目标值", 16),
    ("目标上限", 10),
    ("单位", 6),
    ("目标年份", 8),
    ("目标水平值", 18),
    ("基线年份", 8),
    ("基线值", 18),
    ("基线来源", 16),
    ("评估年份", 8),
    ("当年值", 18),
    ("达成值", 16),
    ("当年轨迹值", 18),
    ("进度", 9),
    ("应达进度", 9),
    ("状态", 10),
    ("目标年预测值", 18),
    ("预测可达", 8),
    ("预测方法", 24),
    ("依据", 36),
)
PROVENANCE_COLUMNS: tuple[tuple[str, int], ...] = (
    ("目标编号", 8),
    ("指标", 30),
    ("年份", 8),
    ("来源类型", 10),
    ("来源", 20),
    ("来源类别", 16),
    ("录入人", 20),
    ("录入时间", 28),
    ("修订号", 8),
)
ORIGIN_ZH = {"observation": "观测记录", "registry": "登记系统"}
_BOLD = Font(bold=True)
_FORBIDDEN_IN_SHEET_NAMES = re.compile(r"[\[\]:*?/\\]")
_CORE_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _figure_format(unit: str, value: Decimal) -> str:
    if unit == "yuan":
        return MONEY_FORMAT
    if unit == "percent":
        return PERCENT_FIGURE_FORMAT
    # A whole count shown whole; a trajectory's 13.25 clusters keeps its decimals (General).
    return WHOLE_FORMAT if unit in WHOLE_UNITS and value == value.to_integral_value() else "General"


class _Cell:
    """A value with its number format, for _append."""

    __slots__ = ("number_format", "value")

    def __init__(self, value: Decimal | None, number_format: str) -> None:
        self.value = value
        self.number_format = number_format


def _figure(value: Decimal | None, unit: str) -> _Cell | None:
    return None if value is None else _Cell(value, _figure_format(unit, value))


def _share(value: Decimal | None) -> _Cell | None:
    return None if value is None else _Cell(value, SHARE_FORMAT)


def _append(sheet: Any, values: Sequence[Any], *, bold: bool = False) -> None:
    """One row: text made safe, Decimals as floats (here only), each figure with its format."""
    formats: dict[int, str] = {}
    plain: list[Any] = []
    for column, value in enumerate(values, start=1):
        if isinstance(value, _Cell):
            formats[column] = value.number_format
            value = value.value
        plain.append(float(value) if isinstance(value, Decimal) else value)
    sheet.append(xlsx_row(plain))
    row = sheet.max_row
    for column, number_format in formats.items():
        sheet.cell(row=row, column=column).number_format = number_format
    if bold:
        for cell in sheet[row]:
            cell.font = _BOLD


def _target_row(target: TargetAssessment) -> list[Any]:
    # The target, and what the year achieved in its terms, are percentages for the growth measures.
    own_terms = "percent" if target.measure in GROWTH_MEASURES else target.unit
    return [
        target.target_id,
        target.sector_name_zh or CITY_WIDE_ZH,
        target.indicator_name_zh,
        MEASURE_ZH[target.measure],
        target.comparator_text,
        _figure(target.target_value, own_terms),
        _figure(target.target_value_max, own_terms),
        UNIT_ZH[target.unit],
        target.target_year,
        _figure(target.target_level, target.unit),
        target.baseline_year,
        _figure(target.baseline_value, target.unit),
        target.baseline_source,
        target.year,
        _figure(target.value, target.unit),
        _figure(target.achieved, own_terms),
        _figure(target.expected, target.unit),
        _share(target.progress),
        _share(target.expected_progress),
        STATUS_ZH[target.status],
        _figure(target.forecast, target.unit),
        None if target.forecast_meets_target is None else ("是" if target.forecast_meets_target else "否"),
        target.forecast_method,
        target.citation,
    ]


def _widths(sheet: Any, columns: Iterable[tuple[str, int]]) -> None:
    for index, (_, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width


def _title(sheet: Any, text: str) -> None:
    sheet.append(xlsx_row([text]))
    sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True, size=13)


def _sheet_name(name: str, taken: set[str]) -> str:
    """An Excel sheet name: none of []:*?/\\, at most 31 characters, unique in the workbook."""
    base = _FORBIDDEN_IN_SHEET_NAMES.sub("_", name)[:31] or "_"
    candidate, number = base, 2
    while candidate.casefold() in taken:
        suffix = f" ({number})"
        candidate, number = base[: 31 - len(suffix)] + suffix, number + 1
    taken.add(candidate.casefold())
    return candidate


def _parameter_value(text: str) -> Decimal | str:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    return number if number.is_finite() else text


def _provenance_row(target: TargetAssessment, source: Provenance) -> list[Any]:
    return [
        target.target_id,
        target.indicator_name_zh,
        source.year,
        ORIGIN_ZH[source.origin],
        source.source,
        source.source_kind,
        source.recorded_by,
        source.recorded_at.isoformat() if source.recorded_at is not None else None,
        source.revision,
    ]


def assessment_workbook(report: AssessmentReport) -> bytes:
    """The workbook: 汇总 (every target), one sheet per sector with targets (全市 for the plan as a whole), and
    数据来源 (each value's source, the input hash, when it was generated, the parameters)."""
    workbook = Workbook()
    summary = workbook.active
    assert summary is not None
    taken = {SUMMARY_SHEET.casefold(), PROVENANCE_SHEET.casefold()}
    summary.title = SUMMARY_SHEET
    _title(summary, f"{report.year}年 {TITLE}")
    _append(summary, [header for header, _ in COLUMNS], bold=True)
    for target in report.targets:
        _append(summary, _target_row(target))
    _widths(summary, COLUMNS)
    summary.freeze_panes = "B3"

    for sector in report.sectors:
        targets = [target for target in report.targets if target.sector == sector.sector]
        if not targets:
            continue
        name = sector.sector_name_zh or CITY_WIDE_ZH
        sheet = workbook.create_sheet(_sheet_name(name, taken))
        _title(sheet, f"{report.year}年 {name}")
        _append(sheet, ["目标数", sector.targets, "平均进度", _share(sector.mean_progress)])
        counts: list[Any] = []
        for status in STATUSES:
            counts += [STATUS_ZH[status], getattr(sector.statuses, status)]
        _append(sheet, counts)
        _append(sheet, [])
        _append(sheet, [header for header, _ in COLUMNS], bold=True)
        for target in targets:
            _append(sheet, _target_row(target))
        _append(sheet, [])
        _append(sheet, ["目标编号", "年份", "当年值", "目标轨迹值", "单位"], bold=True)
        for target in targets:
            observed = {point.year: point.value for point in target.observed}
            planned = {point.year: point.value for point in target.trajectory}
            for year in sorted(observed.keys() | planned.keys()):
                _append(
                    sheet,
                    [
                        target.target_id,
                        year,
                        _figure(observed.get(year), target.unit),
                        _figure(planned.get(year), target.unit),
                        UNIT_ZH[target.unit],
                    ],
                )
        _widths(sheet, COLUMNS)

    provenance = workbook.create_sheet(PROVENANCE_SHEET)
    _title(provenance, f"{report.year}年 {TITLE}：数据来源")
    for label, value in (
        ("评估年份", report.year),
        ("生成时间", report.generated_at.isoformat()),
        ("输入哈希（SHA-256）", report.input_hash),
        ("代码版本", report.code_version),
    ):
        _append(provenance, [label, value])
    _append(provenance, [])
    _append(provenance, ["评估参数", "值"], bold=True)
    for name, value in sorted(report.parameters.model_dump(by_alias=True).items()):
        _append(provenance, [name, _parameter_value(value)])
    _append(provenance, [])
    _append(provenance, [header for header, _ in PROVENANCE_COLUMNS], bold=True)
    for target in report.targets:
        for source in target.provenance:
            _append(provenance, _provenance_row(target, source))
    _widths(provenance, PROVENANCE_COLUMNS)
    provenance.column_dimensions["A"].width = 34
    for row in provenance.iter_rows(min_row=2, max_row=5, max_col=2):
        for cell in row:
            cell.alignment = Alignment(horizontal="left")

    stamped = report.generated_at.astimezone(UTC).replace(tzinfo=None)
    workbook.properties.created = stamped
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _stamped(buffer.getvalue(), stamped)


def _stamped(data: bytes, when: datetime) -> bytes:
    """The XLSX `data` with the time of saving replaced by `when`: the document's modified date and the zip
    entries' dates (the zip format counts from 1980)."""
    date_time = max(when, datetime(1980, 1, 1)).timetuple()[:6]
    modified = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            content = source.read(entry.filename)
            if entry.filename == "docProps/core.xml":
                content = _CORE_MODIFIED.sub(rb"\g<1>" + modified + rb"\g<2>", content)
            stamped = zipfile.ZipInfo(entry.filename, date_time=date_time)
            stamped.compress_type = zipfile.ZIP_DEFLATED
            stamped.external_attr = entry.external_attr
            target.writestr(stamped, content)
    return out.getvalue()
