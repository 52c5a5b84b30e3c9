"""The published ranking as files for the official notice: CSV (UTF-8 with BOM, for spreadsheet programs) and XLSX."""

import csv
import io
from decimal import Decimal

# openpyxl ships no type information (no stubs are pinned in this project).
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Font  # type: ignore[import-untyped]

from services.ranking.decimals import six_places
from services.ranking.rankings.schemas import RankingOut
from shared.money import FEN
from shared.spreadsheets import csv_row, xlsx_row

HEADER = ("rank", "district_code", "district_name", "score", "award_yuan")
HEADER_ZH = ("名次", "区县代码", "区县", "综合得分", "奖励金额（元）")
TITLE = "重庆市生产性服务业发展区县综合评价结果（渝发改规范〔2024〕7号 第（六）条）"


def to_csv(ranking: RankingOut) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in ranking.rows:
        # Scores (six places, negative under z-scores) and awards stay numbers; csv_row neutralises the text.
        writer.writerow(
            csv_row(
                (row.rank, row.district_code, row.district_name, six_places(row.score), row.award_yuan.quantize(FEN))
            )
        )
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(ranking: RankingOut) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = f"{ranking.year}"
    sheet.append([f"{TITLE} {ranking.year}"])
    sheet["A1"].font = Font(bold=True)
    sheet.append(list(HEADER_ZH))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for line, row in enumerate(ranking.rows, start=3):
        sheet.append(xlsx_row([row.rank, row.district_code, row.district_name, row.score, row.award_yuan]))
        sheet.cell(row=line, column=4).number_format = "0.000000"
        sheet.cell(row=line, column=5).number_format = "#,##0.00"
    sheet.append([None, None, "合计", None, Decimal(ranking.total_award_yuan)])
    sheet.cell(row=3 + len(ranking.rows), column=5).number_format = "#,##0.00"
    for column, width in zip("ABCDE", (8, 12, 24, 14, 18), strict=True):
        sheet.column_dimensions[column].width = width

    provenance = workbook.create_sheet("provenance")
    for label, value in (
        ("year", ranking.year),
        ("run_id", ranking.run_id),
        ("methodology_version", ranking.methodology_version),
        ("tie_break_rule", ranking.methodology.tie_break_rule),
        ("input_hash", ranking.input_hash),
        ("code_version", ranking.code_version),
        ("award_table_as_of", ranking.as_of.isoformat()),
        ("published_at", ranking.published_at.isoformat()),
        ("published_by", ranking.published_by),
    ):
        provenance.append(xlsx_row([label, value]))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
