"""Awards as files for the official documents: CSV (UTF-8 with BOM, for spreadsheet programs) and XLSX.

The awards come as rows of the exported columns (repository.every), and the workbook is written in openpyxl's
write-only mode, which streams each row out instead of keeping a cell object per value: 100,000 awards took the
process past 1 GiB that way.
"""

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# openpyxl ships no type information (no stubs are pinned in this project).
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
from openpyxl.styles import Font  # type: ignore[import-untyped]
from sqlalchemy import Row

from services.eligibility.awards.identity import DISTRICT_NAMES
from services.eligibility.awards.schemas import AwardFilters
from services.eligibility.measures.catalogue import MEASURES_BY_ID
from services.eligibility.rules.base import DOCUMENT, ZERO
from shared.money import FEN
from shared.spreadsheets import csv_row, xlsx_row

HEADER = (
    "no",
    "award_id",
    "policy",
    "measure_id",
    "citation",
    "subject_type",
    "subject_id",
    "subject_name",
    "recipient_kind",
    "recipient",
    "year",
    "district_code",
    "district_name",
    "amount_yuan",
    "payable_yuan",
    "tops_up_award_id",
    "status",
    "standing",
    "publicised_on",
    "notice_ends_on",
    "paid_on",
)
HEADER_ZH = (
    "序号",
    "奖励编号",
    "政策文件",
    "措施",
    "依据条款",
    "支持对象类型",
    "支持对象编号",
    "支持对象名称",
    "受奖单位类型",
    "受奖单位",
    "年度",
    "区县代码",
    "区县",
    "核定金额（元）",
    "本次拨付（元）",
    "补差所涉奖励",
    "状态",
    "有效",
    "公示日期",
    "公示截止",
    "拨付日期",
)
TITLE = "重庆市现代生产性服务业扶持资金奖励名单（就高不重复）"
STATUS_ZH = {
    "proposed": "拟奖励",
    "approved": "已审核",
    "publicised": "公示中",
    "paid": "已拨付",
    "rejected": "不予奖励",
    "withdrawn": "已撤回",
    "superseded": "已被更高奖励替代",
}
RECIPIENT_KIND_ZH = {"enterprise": "企业", "district": "区县政府", "city_department": "市级部门（含开发区管委会）"}
MONEY_COLUMNS = (14, 15)
MONEY_FORMAT = "#,##0.00"
COLUMN_WIDTHS = (6, 10, 24, 8, 30, 12, 22, 28, 14, 22, 8, 10, 14, 18, 18, 12, 16, 6, 12, 12, 12)
Exported = Row[Any]


def citation(award: Exported) -> str:
    measure = MEASURES_BY_ID.get(award.measure_id) if award.policy == DOCUMENT else None
    return measure.citation if measure is not None else f"{award.policy} {award.measure_id}"


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def to_csv(awards: Sequence[Exported]) -> bytes:
    # Encoded as it is written: a text buffer of 100,000 rows of Chinese text holds four bytes per character.
    buffer = io.BytesIO()
    text = io.TextIOWrapper(buffer, encoding="utf-8-sig", newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADER)
    for number, award in enumerate(awards, start=1):
        writer.writerow(
            csv_row(
                (
                    number,
                    award.id,
                    award.policy,
                    award.measure_id,
                    citation(award),
                    award.subject_type,
                    award.subject_id,
                    award.subject_name or "",
                    award.recipient_kind,
                    award.recipient or "",
                    award.year if award.year is not None else "",
                    award.district_code,
                    DISTRICT_NAMES.get(award.district_code, ""),
                    # Decimals with their two places, as numbers (text is what csv_row neutralises).
                    award.amount_yuan.quantize(FEN),
                    award.payable_yuan.quantize(FEN),
                    award.tops_up_award_id if award.tops_up_award_id is not None else "",
                    award.status,
                    "true" if award.is_standing else "false",
                    _day(award.publicised_on),
                    _day(award.notice_ends_on),
                    _day(award.paid_on),
                )
            )
        )
    text.flush()
    text.detach()  # the buffer stays open for reading
    return buffer.getvalue()


def to_xlsx(awards: Sequence[Exported], filters: AwardFilters, generated_at: datetime) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("awards")
    # Column widths go before the first row in write-only mode.
    for column, width in zip("ABCDEFGHIJKLMNOPQRSTU", COLUMN_WIDTHS, strict=True):
        sheet.column_dimensions[column].width = width
    bold = Font(bold=True)
    sheet.append([_styled(sheet, TITLE, font=bold)])
    sheet.append([_styled(sheet, name, font=bold) for name in HEADER_ZH])
    amount_total = payable_total = ZERO
    for number, award in enumerate(awards, start=1):
        amount_total += award.amount_yuan
        payable_total += award.payable_yuan
        row = xlsx_row(
            [
                number,
                award.id,
                award.policy,
                award.measure_id,
                citation(award),
                award.subject_type,
                award.subject_id,
                award.subject_name,
                RECIPIENT_KIND_ZH[award.recipient_kind],
                award.recipient,
                award.year,
                award.district_code,
                DISTRICT_NAMES.get(award.district_code),
                Decimal(award.amount_yuan),
                Decimal(award.payable_yuan),
                award.tops_up_award_id,
                STATUS_ZH[award.status],
                "是" if award.is_standing else "否",
                award.publicised_on,
                award.notice_ends_on,
                award.paid_on,
            ]
        )
        sheet.append(_with_money(sheet, row))
    total_row: list[object] = [None] * len(HEADER_ZH)
    total_row[12] = f"合计（{len(awards)}项）"
    total_row[13] = amount_total
    total_row[14] = payable_total
    sheet.append(_with_money(sheet, total_row))

    selection = workbook.create_sheet("selection")
    selection.append(["generated_at", generated_at.isoformat()])
    for name in AwardFilters.__dataclass_fields__:
        value = getattr(filters, name)
        selection.append(xlsx_row([name, "" if value is None else str(value)]))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _styled(sheet: Any, value: Any, **style: Any) -> Any:
    cell = WriteOnlyCell(sheet, value=value)
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell


def _with_money(sheet: Any, row: list[Any]) -> list[Any]:
    """`row` with its amounts as cells formatted as money."""
    for column in MONEY_COLUMNS:
        row[column - 1] = _styled(sheet, row[column - 1], number_format=MONEY_FORMAT)
    return row
