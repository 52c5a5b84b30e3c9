"""Imports as offices make them (issue 14): CSV in UTF-8, UTF-8 with BOM and GBK, XLSX, and JSON give the same
report for the same rows; booleans 是/否, dates 2024/5/1 and thousands separators read the same in every format; and
every body that cannot be read is a 4xx naming the row and column, with nothing written."""

import csv
import io
import json
import zipfile
from datetime import datetime
from typing import Any

import openpyxl
import pytest
from openpyxl import Workbook

from services.registry.enterprises import imports
from services.registry.enterprises.schemas import IMPORT_COLUMNS, ImportColumn, ImportProblem
from shared.errors import InvalidInput
from shared.uscc import make_uscc
from tests.registry.factories import enterprise

XLSX = imports.XLSX_TYPE
COLUMNS = [
    "uscc",
    "name",
    "district_code",
    "sector",
    "established_on",
    "spun_off_from_manufacturer",
    "year",
    "revenue_yuan",
    "employees",
    "above_scale",
    "top500_service",
]
USCC = [make_uscc(f"91500103{serial:09d}") for serial in range(777_000_001, 777_000_011)]
# The rows as an office writes them: Chinese names, 是/否, 2024/5/1, and some bad rows. As text, the way a CSV holds
# them; `SHEET_CELLS` gives the typed cells Excel would hold for the good values.
ROWS: list[list[str]] = [
    [
        USCC[0],
        "重庆渝中物流有限公司",
        "500103",
        "modern_logistics",
        "2018/3/1",
        "否",
        "2024",
        "21000000.00",
        "80",
        "是",
        "否",
    ],
    [
        USCC[1],
        "两江新区软件科技有限公司",
        "500103",
        "software_it",
        "2024-05-01",
        "FALSE",
        "2024",
        "1200000",
        "15",
        "TRUE",
        "0",
    ],
    [USCC[2], "重庆法律知识产权服务中心", "500103", "legal_ip", "2020/12/31", "", "", "", "", "", ""],
    [USCC[3], "千分位有限公司", "500103", "software_it", "2021/1/1", "否", "2024", "1,200,000", "10", "否", "否"],
    [USCC[4], "也许有限公司", "500103", "software_it", "2021/1/1", "否", "2024", "500000", "10", "也许", "否"],
    [USCC[5], "二月三十日有限公司", "500103", "software_it", "2024/2/30", "否", "", "", "", "", ""],
    [USCC[6], "未知区县有限公司", "500199", "software_it", "2021/1/1", "否", "", "", "", "", ""],
    [USCC[7], "三位小数有限公司", "500103", "software_it", "2021/1/1", "否", "2024", "1200000.123", "10", "1", "否"],
    [USCC[8], "全角逗号有限公司", "500103", "software_it", "2021/1/1", "否", "2024", "3000000", "1，200", "是", "否"],
    [USCC[9], "重庆改名后有限公司", "500103", "supply_chain", "2019/5/20", "否", "2023", "4000000.5", "30", "是", "是"],
]
# USCC[9] exists before the import, under another name: the import updates it.
EXISTING = enterprise(uscc=USCC[9], name="重庆改名前有限公司")
EXPECTED_REPORT = {
    "rows": 10,
    "created": 3,
    "updated": 1,
    "unchanged": 0,
    "years_written": 3,
    "rejected": [
        {
            "row": 4,
            "uscc": USCC[3],
            "errors": [
                {
                    "loc": ["revenue_yuan"],
                    "msg": "write the number without thousands separators: 1200000, not 1,200,000",
                }
            ],
        },
        {
            "row": 5,
            "uscc": USCC[4],
            "errors": [{"loc": ["above_scale"], "msg": "write yes or no as 是 or 否, true or false, 1 or 0"}],
        },
        {
            "row": 6,
            "uscc": USCC[5],
            "errors": [
                {"loc": ["established_on"], "msg": "not a date of the calendar; write it as 2024-05-01 or 2024/5/1"}
            ],
        },
        {
            "row": 7,
            "uscc": USCC[6],
            "errors": [
                {
                    "loc": ["district_code"],
                    "msg": "'500199' is not one of the 38 district codes of Chongqing (GB/T 2260)",
                }
            ],
        },
        {
            "row": 8,
            "uscc": USCC[7],
            "errors": [{"loc": ["revenue_yuan"], "msg": "money has at most two decimal places (fen)"}],
        },
        {
            "row": 9,
            "uscc": USCC[8],
            "errors": [
                {"loc": ["employees"], "msg": "write the number without thousands separators: 1200000, not 1,200,000"}
            ],
        },
    ],
}


def csv_text(rows: list[list[str]] = ROWS, columns: list[str] = COLUMNS) -> str:
    """The rows as Excel saves them: quoted where a cell holds a comma, CRLF line ends."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows([columns, *rows])
    return text.getvalue()


def sheet_cell(column: str, text: str) -> Any:
    """The cell Excel holds for `text` typed into `column`: numbers, dates and booleans typed, the rest text."""
    if text in ("TRUE", "FALSE"):
        return text == "TRUE"
    if column in ("year", "employees", "revenue_yuan"):
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() else number
    if column == "established_on":
        try:
            return datetime.strptime(text.replace("-", "/"), "%Y/%m/%d")
        except ValueError:  # 2024/2/30: Excel keeps what is no date as text
            return text
    return text


def xlsx_body(rows: list[list[Any]], *, title_rows: int = 1) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for index in range(title_rows):
        sheet.append([f"2024年渝中区生产性服务业企业名单（第{index + 1}页）"])
    for cells in rows:
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def typed_sheet(rows: list[list[str]] = ROWS) -> list[list[Any]]:
    typed = [
        [sheet_cell(column, text) if text else None for column, text in zip(COLUMNS, cells, strict=True)]
        for cells in rows
    ]
    return [COLUMNS, *typed]


def with_sheet_xml(body: bytes, sheet_xml: bytes, name: str = "xl/worksheets/sheet1.xml") -> bytes:
    """The workbook with its first sheet's XML replaced (to build what no spreadsheet program saves)."""
    source = zipfile.ZipFile(io.BytesIO(body))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            target.writestr(member.filename, sheet_xml if member.filename == name else source.read(member))
    return buffer.getvalue()


def json_rows(rows: list[list[str]] = ROWS) -> list[dict[str, str]]:
    return [{column: text for column, text in zip(COLUMNS, cells, strict=True) if text} for cells in rows]


FORMATS: dict[str, tuple[str, bytes]] = {
    "utf-8": ("text/csv", csv_text().encode()),
    "utf-8-bom": ("text/csv; charset=utf-8", b"\xef\xbb\xbf" + csv_text().encode()),
    "gbk-declared": ("text/csv; charset=gbk", csv_text().encode("gbk")),
    "gb2312-declared": ('text/csv; charset="GB2312"', csv_text().encode("gbk")),
    "gbk-detected": ("text/csv", csv_text().encode("gbk")),
    "gb18030-detected": ("text/csv", csv_text().encode("gb18030")),
    "xlsx": (XLSX, xlsx_body(typed_sheet())),
    "json": ("application/json", json.dumps(json_rows(), ensure_ascii=False).encode()),
}


async def listed(client) -> list[dict[str, Any]]:
    return (await client.get("/enterprises", params={"limit": 200})).json()["items"]


async def post(client, content_type: str, body: bytes, **params: str):
    return await client.post("/enterprises/import", content=body, params=params, headers={"content-type": content_type})


@pytest.mark.parametrize("kind", list(FORMATS))
async def test_the_same_rows_give_the_same_report_in_every_format(city, kind):
    assert (await city.post("/enterprises", json=EXISTING)).status_code == 201
    content_type, body = FORMATS[kind]
    response = await post(city, content_type, body)
    assert response.status_code == 200, response.text[:800]
    assert response.json() == EXPECTED_REPORT
    stored = {item["uscc"]: item for item in await listed(city)}
    assert stored[USCC[0]]["name"] == "重庆渝中物流有限公司" and stored[USCC[0]]["established_on"] == "2018-03-01"
    first_year = stored[USCC[0]]["years"][0]
    assert (first_year["revenue_yuan"], first_year["above_scale"], first_year["top500_service"]) == (
        "21000000.00",
        True,
        False,
    )
    assert stored[USCC[1]]["years"][0]["revenue_yuan"] == "1200000.00"
    assert stored[USCC[9]]["name"] == "重庆改名后有限公司"
    assert stored[USCC[9]]["years"][0]["revenue_yuan"] == "4000000.50"


def test_import_row_columns_are_the_import_column_enum():
    assert tuple(ImportColumn) == IMPORT_COLUMNS


def test_openpyxl_parses_with_defusedxml():
    assert openpyxl.DEFUSEDXML is True


async def test_an_excel_float_is_read_to_the_fen_and_a_finer_one_refused(city):
    rows = [
        COLUMNS,
        [USCC[0], "浮点有限公司", "500103", "software_it", datetime(2020, 1, 1), False, 2024, 0.1 + 0.2, 3.0, 1, 0],
        [USCC[1], "浮点二有限公司", "500103", "software_it", datetime(2020, 1, 1), False, 2024, 1200000.005, 3, 1, 0],
    ]
    report = (await post(city, XLSX, xlsx_body(rows, title_rows=0))).json()
    assert report["created"] == 1
    assert report["rejected"] == [
        {
            "row": 2,
            "uscc": USCC[1],
            "errors": [{"loc": ["revenue_yuan"], "msg": "money has at most two decimal places (fen)"}],
        }
    ]
    stored = (await city.get(f"/enterprises/{USCC[0]}")).json()
    assert stored["years"][0]["revenue_yuan"] == "0.30" and stored["years"][0]["employees"] == 3


async def test_blank_rows_between_rows_count_and_blank_rows_below_them_do_not(city):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(COLUMNS[:5])
    sheet.append(ROWS[0][:5])
    sheet.append([])
    sheet.append(ROWS[1][:5])
    sheet.cell(row=40, column=3).number_format = "0.00"  # a formatted, empty cell far below
    sheet.cell(row=41, column=2, value="")
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = (await post(city, XLSX, buffer.getvalue())).json()
    assert (report["rows"], report["created"]) == (3, 2)
    assert [item["row"] for item in report["rejected"]] == [2]


# ---- bad input: a 4xx naming the row and column, nothing written ------------------------------------------------


@pytest.fixture
async def before(city) -> list[dict[str, Any]]:
    """The registry before a refused import: one enterprise, which a refused import leaves as it was."""
    assert (await city.post("/enterprises", json=EXISTING)).status_code == 201
    return await listed(city)


async def refused(city, before, content_type: str, body: bytes, status: int) -> dict[str, Any]:
    response = await post(city, content_type, body)
    assert response.status_code == status, response.text[:800]
    assert response.headers["content-type"] == "application/problem+json"
    assert await listed(city) == before
    problem: dict[str, Any] = response.json()
    return problem


async def test_undecodable_csv_names_the_row_column_line_and_byte(city, before):
    lines = csv_text().encode("gbk").split(b"\r\n")
    lines[3] = lines[3][:18] + b"\xff" + lines[3][18:]  # in the third data row, after its credit code
    body = b"\r\n".join(lines)
    offset = body.index(b"\xff")
    problem = await refused(city, before, "text/csv; charset=gbk", body, 400)
    # Line 4 is the report's row 3 (the header is line 1); the byte ends its credit code.
    assert f"row 3, column uscc (line 4, byte 19 of the line (byte {offset}))" in problem["detail"]
    assert "not in the GB18030 its charset declares" in problem["detail"]
    assert problem["errors"] == [{"loc": ["body", 3, "uscc"], "msg": "byte 19 of line 4 (0xFF) is not GB18030"}]
    # Undeclared, and in no Chinese encoding: refused, with how to declare the charset.
    latin = csv_text([[USCC[0], "Café Müller GmbH", "500103", "software_it", "2021/1/1", *[""] * 6]]).encode("latin-1")
    problem = await refused(city, before, "text/csv", latin, 400)
    assert "cannot be decoded as UTF-8 or GB18030/GBK" in problem["detail"]
    assert "line 2" in problem["detail"] and "charset=gbk" in problem["detail"]
    # Declared in an encoding the import does not take.
    problem = await refused(city, before, "text/csv; charset=big5", csv_text().encode("utf-8"), 415)
    assert "charset=big5" in problem["detail"]


async def test_a_gbk_csv_without_chinese_in_its_first_lines_is_still_detected(city):
    ascii_rows = [
        [make_uscc(f"91500103{n:09d}"), f"Chongqing Co {n}", "500103", "software_it", "2021/1/1", *[""] * 6]
        for n in range(778_000_000, 778_004_000)
    ]
    body = csv_text([*ascii_rows, ROWS[0]]).encode("gbk")
    assert len(body) > imports._DECODE_CHUNK
    response = await post(city, "text/csv", body)
    assert response.status_code == 200, response.text[:500]
    assert response.json()["created"] == 4_001
    assert (await city.get(f"/enterprises/{USCC[0]}")).json()["name"] == "重庆渝中物流有限公司"


async def test_a_sheet_without_a_header_row_is_422(city, before):
    rows = [["企业名单"], *[[f"第{n}行"] for n in range(15)], COLUMNS]  # the header below the rows searched
    problem = await refused(city, before, XLSX, xlsx_body(rows, title_rows=0), 422)
    assert "no header row" in problem["detail"]
    assert problem["errors"] == [{"loc": ["header"], "msg": "no header row in the first 10 rows"}]
    assert ImportProblem.model_validate(problem).columns == list(ImportColumn)
    assert problem["type"] == "/problems/import-refused"
    wrong = await refused(city, before, XLSX, xlsx_body([["uscc", "名称"], ROWS[0][:2]]), 422)
    assert {"loc": ["header", "名称"], "msg": "unknown column"} in wrong["errors"]
    assert wrong["type"] == "/problems/import-refused"


async def test_a_formula_where_a_value_belongs_is_422_naming_row_and_column(city, before):
    rows = typed_sheet(ROWS[:3])
    rows[2][7] = "=B2*2"  # the second data row's revenue_yuan (column H), sheet row 4 below the title row
    problem = await refused(city, before, XLSX, xlsx_body(rows), 422)
    assert problem["errors"] == [{"loc": ["body", 2, "revenue_yuan"], "msg": "cell H4 holds a formula, not a value"}]
    assert "Row 2 (sheet row 4), column revenue_yuan: cell H4 holds a formula (=B2*2)" in problem["detail"]


def bomb(inflated: int) -> bytes:
    """A workbook whose sheet inflates to `inflated` bytes of spaces (a valid sheet, padded) from a few kilobytes."""
    sheet = b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    sheet += b" " * inflated + b"<sheetData/></worksheet>"
    return with_sheet_xml(xlsx_body([COLUMNS]), sheet)


async def test_a_zip_bomb_is_refused_before_it_is_inflated(city, before):
    body = bomb(200 * 1024 * 1024)
    assert len(body) < 1024 * 1024
    problem = await refused(city, before, XLSX, body, 413)
    assert "xl/worksheets/sheet1.xml" in problem["detail"] and "at most 100" in problem["detail"]


async def test_a_workbook_inflating_past_the_import_limit_is_refused(registry_app, city, before):
    settings = registry_app.state.settings
    original = settings.import_max_bytes
    settings.import_max_bytes = 64 * 1024
    try:
        problem = await refused(city, before, XLSX, xlsx_body(typed_sheet(ROWS * 150)), 413)
    finally:
        settings.import_max_bytes = original
    assert "inflates to" in problem["detail"]


async def test_xml_entities_in_a_workbook_are_refused(city, before):
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row></sheetData></worksheet>'
    )
    problem = await refused(city, before, XLSX, with_sheet_xml(xlsx_body([COLUMNS]), laughs), 400)
    assert "not a readable XLSX workbook" in problem["detail"] and "entities" in problem["detail"]


async def test_a_body_that_is_not_an_xlsx_workbook_is_400(city, before):
    problem = await refused(city, before, XLSX, csv_text().encode(), 400)
    assert "not an XLSX workbook" in problem["detail"]
    xls = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512
    assert ".xls" in (await refused(city, before, XLSX, xls, 400))["detail"]
    assert ".xls" in (await refused(city, before, "application/vnd.ms-excel", xls, 415))["detail"]
    encrypted = xls + "EncryptedPackage".encode("utf-16-le")
    assert "password" in (await refused(city, before, XLSX, encrypted, 400))["detail"]
    other_zip = io.BytesIO()
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("word/document.xml", "<document/>")
    assert "not a readable XLSX" in (await refused(city, before, XLSX, other_zip.getvalue(), 400))["detail"]


def million_rows_sheet(rows: int, *, dimension: bool) -> bytes:
    head = b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    if dimension:
        head += f'<dimension ref="A1:E{rows + 1}"/>'.encode()
    header = "".join(
        f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{name}</t></is></c>' for i, name in enumerate(COLUMNS[:5])
    )
    data = "".join(f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>x{n}</t></is></c></row>' for n in range(2, rows + 2))
    sheet = head + f'<sheetData><row r="1">{header}</row>'.encode() + data.encode() + b"</sheetData></worksheet>"
    return with_sheet_xml(xlsx_body([COLUMNS]), sheet)


async def test_a_sheet_of_a_million_and_one_rows_is_refused_by_its_dimension(city, before):
    problem = await refused(city, before, XLSX, million_rows_sheet(1_000_001, dimension=True), 422)
    assert problem["errors"] == [{"loc": ["body", 200001], "msg": "more than 200000 rows"}]
    assert "dimension declares 1000002 rows" in problem["detail"]


async def test_the_row_after_the_limit_stops_a_sheet_without_a_dimension(registry_app, city, before):
    settings = registry_app.state.settings
    original = settings.import_max_rows
    settings.import_max_rows = 5
    try:
        problem = await refused(city, before, XLSX, million_rows_sheet(6, dimension=False), 422)
        at_limit = await post(city, XLSX, million_rows_sheet(5, dimension=False))
    finally:
        settings.import_max_rows = original
    assert problem["errors"] == [{"loc": ["body", 6], "msg": "more than 5 rows"}]
    assert "row 6 is past the limit" in problem["detail"]
    assert at_limit.status_code == 200 and at_limit.json()["rows"] == 5


async def test_an_atomic_refusal_is_an_import_problem(city, before):
    response = await post(city, "text/csv; charset=gbk", csv_text().encode("gbk"), atomic="true")
    assert response.status_code == 422
    assert await listed(city) == before
    problem = ImportProblem.model_validate(response.json())
    assert problem.rejected is not None and [item.row for item in problem.rejected] == [4, 5, 6, 7, 8, 9]
    assert problem.type == "/problems/import-refused"


def test_a_short_gbk_sample_that_reads_as_well_in_big5_is_taken_as_gbk():
    # charset-normalizer scores `1,北京` in GBK the same as Big5, cp949 and GB18030: GB18030 is taken.
    body = "uscc,name\n1,北京\n".encode("gbk")
    rows = imports.parse_body("text/csv", body, imports.ImportLimits(max_rows=10, max_bytes=1024))
    with pytest.raises(InvalidInput, match="header"):  # the header lacks required columns: decoding came first
        next(rows)
    body = csv_text([[USCC[0], "北京", "500103", "software_it", "2021/1/1", *[""] * 6]]).encode("gbk")
    rows = imports.parse_body("text/csv", body, imports.ImportLimits(max_rows=10, max_bytes=len(body)))
    assert next(rows)["name"] == "北京"
