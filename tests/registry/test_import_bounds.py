"""Bounds of the import on hostile or odd bodies (issue 14 review): wide rows and long lines refused before they are
built, the parts of a workbook read whole bounded together, GBK detected by asking whether it is GB18030, dates only
as dates, and the same report in every format for typed cells (date-times, percents) and repeated columns."""

import io
import json
import random
import zipfile
from typing import Any
from xml.sax.saxutils import quoteattr

import pytest
from openpyxl.worksheet._reader import WorkSheetParser
from starlette.requests import Request

from services.registry.dependencies import _import_cost
from services.registry.enterprises import imports
from tests.registry.test_import_formats import (
    EXISTING,
    USCC,
    XLSX,
    csv_text,
    listed,
    post,
    refused,
    with_sheet_xml,
    xlsx_body,
)
from tests.support import CITY

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REQUIRED = ["uscc", "name", "district_code", "sector", "established_on"]
HEADER_CELLS = "".join(f'<c t="inlineStr"><is><t>{name}</t></is></c>' for name in REQUIRED)


def sheet(*rows: str) -> bytes:
    """A first sheet of the header row and `rows` (the XML inside each <row>), without a dimension."""
    data = "".join(f"<row>{row}</row>" for row in rows)
    return f'<worksheet xmlns="{MAIN}"><sheetData><row>{HEADER_CELLS}</row>{data}</sheetData></worksheet>'.encode()


def text_cells(*texts: str) -> str:
    return "".join(f'<c t="inlineStr"><is><t>{text}</t></is></c>' for text in texts)


def workbook(sheet_xml: bytes, styles_xml: str | None = None) -> bytes:
    body = with_sheet_xml(xlsx_body([REQUIRED], title_rows=0), sheet_xml)
    return body if styles_xml is None else with_sheet_xml(body, styles_xml.encode(), "xl/styles.xml")


def styles(*number_formats: int, custom: str = "") -> str:
    """A styles part whose cell styles 1, 2, ... show numbers in `number_formats` (ids; 164 is `custom`)."""
    formats = f'<numFmts count="1"><numFmt numFmtId="164" formatCode={quoteattr(custom)}/></numFmts>' if custom else ""
    xfs = "".join(f'<xf numFmtId="{number}" applyNumberFormat="1"/>' for number in number_formats)
    return (
        f'<styleSheet xmlns="{MAIN}">{formats}<fonts count="1"><font/></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
        f'<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
        f'<cellXfs count="{len(number_formats) + 1}"><xf/>{xfs}</cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
    )


def row_of(uscc: str, established: str, name: str = "重庆物流有限公司") -> str:
    """A data row's cells, the date cell given as XML."""
    return text_cells(uscc, name, "500103", "modern_logistics") + established


@pytest.fixture
async def before(city) -> list[dict[str, Any]]:
    """The registry before a refused import (as in test_import_formats), which a refused import leaves as it was."""
    assert (await city.post("/enterprises", json=EXISTING)).status_code == 201
    return await listed(city)


@pytest.fixture
def rows_not_built(monkeypatch):
    """Fails the test if openpyxl builds a row of the sheet (or parses it for its dimension)."""

    def built(*_: Any) -> Any:
        raise AssertionError("openpyxl read the sheet")

    monkeypatch.setattr(WorkSheetParser, "parse_row", built)
    monkeypatch.setattr(WorkSheetParser, "parse_dimensions", built)


@pytest.fixture
def small_limits(registry_app):
    settings = registry_app.state.settings
    original = settings.import_max_rows, settings.import_max_bytes
    settings.import_max_rows, settings.import_max_bytes = 5, 400_000
    yield settings
    settings.import_max_rows, settings.import_max_bytes = original


# ---- XLSX: cells counted before a row is built ---------------------------------------------------------------


async def test_a_sheet_row_of_a_hundred_thousand_cells_is_refused_before_openpyxl_builds_it(
    city, before, rows_not_built
):
    digits = random.Random(1).choices("0123456789", k=100_000)  # compressing as little as real values do
    body = workbook(sheet("".join(f"<c><v>{digit}</v></c>" for digit in digits)))
    problem = await refused(city, before, XLSX, body, 422)
    assert problem["detail"].startswith("Sheet row 2 has more than 256 cells (or a cell right of column IV)")
    assert problem["errors"] == [{"loc": ["body", "sheet row 2"], "msg": "more than 256 cells"}]


async def test_a_cell_right_of_column_iv_is_refused(city, before, rows_not_built):
    body = workbook(sheet(text_cells(USCC[0]) + '<c r="XFD2"><v>1</v></c>'))
    problem = await refused(city, before, XLSX, body, 422)
    assert problem["errors"] == [{"loc": ["body", "sheet row 2"], "msg": "more than 256 cells"}]


async def test_a_row_of_256_cells_is_read(city):
    cells = row_of(USCC[0], '<c t="inlineStr"><is><t>2020/1/1</t></is></c>') + "<c/>" * (256 - 5)
    response = await post(city, XLSX, workbook(sheet(cells)))
    assert response.status_code == 200, response.text[:500]
    assert response.json()["created"] == 1


async def test_a_row_numbered_past_excels_last_is_refused(city, before, rows_not_built):
    body = workbook(sheet(text_cells(USCC[0])).replace(b"</sheetData>", b'<row r="99999999999"/></sheetData>'))
    problem = await refused(city, before, XLSX, body, 400)
    assert "a row numbered 99999999999, past Excel's last row (1048576)" in problem["detail"]


async def test_the_cells_of_a_sheet_are_bounded_in_all(city, before, small_limits, rows_not_built):
    # 5 rows at most: (5 + 10 header search rows) x 26 = 390 cells; the header's 5 and 20 rows of 20 are 405.
    body = workbook(sheet(*["<c><v>1</v></c>" * 20] * 20))
    problem = await refused(city, before, XLSX, body, 413)
    assert "more than 390 cells (at sheet row 21)" in problem["detail"]


async def test_a_sheet_with_a_dtd_is_refused_by_the_count_too(city, before):
    body = workbook(b'<?xml version="1.0"?><!DOCTYPE worksheet SYSTEM "x.dtd">' + sheet())
    problem = await refused(city, before, XLSX, body, 400)
    assert "declares entities or a DTD" in problem["detail"]


# ---- XLSX: the parts parsed whole -------------------------------------------------------------------------------


def with_members(body: bytes, members: dict[str, bytes]) -> bytes:
    """The workbook with `members` put in (replaced or added)."""
    source = zipfile.ZipFile(io.BytesIO(body))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            if member.filename not in members:
                target.writestr(member.filename, source.read(member))
        for name, content in members.items():
            target.writestr(name, content)
    return buffer.getvalue()


def padding(size: int) -> bytes:
    """An XML comment of `size` bytes that compresses little (no zip bomb)."""
    filler = "".join(random.Random(size).choices("abcdefghijklmnopqrstuvwxyz0123456789", k=size - 7))
    return f"<!--{filler}-->".encode()


def with_part(body: bytes, name: str, size: int) -> bytes:
    """The workbook with the part `name` padded by `size` bytes."""
    return with_members(body, {name: zipfile.ZipFile(io.BytesIO(body)).read(name) + padding(size)})


async def test_the_small_parts_read_whole_are_bounded_together(city, before, monkeypatch):
    monkeypatch.setattr(imports, "_SMALL_PARTS", 100_000)
    body = workbook(sheet(row_of(USCC[0], '<c t="inlineStr"><is><t>2020/1/1</t></is></c>')))
    # Each part under the bound, both together over it.
    body = with_part(with_part(body, "xl/workbook.xml", 60_000), "xl/styles.xml", 60_000)
    problem = await refused(city, before, XLSX, body, 413)
    assert "parts other than the sheets and shared strings inflate to more than 100000 bytes" in problem["detail"]


async def test_the_shared_strings_take_the_whole_budget_and_no_more(city, before, small_limits):
    # The budget of parts read whole is the byte limit over 2: 200,000 bytes here, the shared strings included.
    xml = f'<sst xmlns="{MAIN}">' + "".join(f"<si><t>{name}</t></si>" for name in REQUIRED) + "</sst>"
    body = xlsx_body([REQUIRED], title_rows=0)
    ok, over = (with_shared_strings(body, xml.encode() + padding(size)) for size in (150_000, 210_000))
    response = await post(city, XLSX, ok)
    assert response.status_code == 200, response.text[:500]
    problem = await refused(city, before, XLSX, over, 413)
    assert "parts read whole (shared strings, styles, ...) inflate to more than 200000 bytes" in problem["detail"]
    assert "xl/sharedStrings.xml" in problem["detail"]


def with_shared_strings(body: bytes, shared_strings: bytes) -> bytes:
    """The workbook with a shared strings part (openpyxl writes none), its header row taken from them."""
    source = zipfile.ZipFile(io.BytesIO(body))
    types = source.read("[Content_Types].xml").replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        b'spreadsheetml.sharedStrings+xml"/></Types>',
    )
    rels = source.read("xl/_rels/workbook.xml.rels").replace(
        b"</Relationships>",
        b'<Relationship Id="rIdS" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        b'sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    )
    header = "".join(f'<c t="s"><v>{index}</v></c>' for index in range(len(REQUIRED)))
    sheet_xml = f'<worksheet xmlns="{MAIN}"><sheetData><row>{header}</row></sheetData></worksheet>'.encode()
    members = {"[Content_Types].xml": types, "xl/_rels/workbook.xml.rels": rels, "xl/worksheets/sheet1.xml": sheet_xml}
    return with_members(body, {**members, "xl/sharedStrings.xml": shared_strings})


# ---- CSV: long lines and wide rows ------------------------------------------------------------------------------


def test_a_long_line_is_refused_once_it_has_read_the_line_limit():
    consumed = 0

    def chunks():
        nonlocal consumed
        for _ in range(1_000):
            consumed += 1
            yield "x" * 65_536

    with pytest.raises(imports._LineTooLong):
        list(imports._split_lines(chunks()))
    assert consumed == imports.MAX_LINE // 65_536 + 1


def test_lines_are_split_as_the_csv_module_expects_across_chunks():
    chunks = ["a,b\r", "\nc,", "d\re", "f\n", "", "g"]
    assert list(imports._split_lines(iter(chunks))) == ["a,b\r\n", "c,d\r", "ef\n", "g"]


async def test_a_csv_line_longer_than_the_limit_is_422_naming_the_row(city, before):
    body = (csv_text([[USCC[0], "甲", "500103", "software_it", "2021/1/1"]], REQUIRED) + "x" * (2 << 20)).encode()
    problem = await refused(city, before, "text/csv", body, 422)
    assert problem["detail"].startswith("Row 2 (line 3) is longer than 1048576 characters")
    assert problem["errors"] == [{"loc": ["body", 2], "msg": "longer than 1048576 characters"}]


async def test_a_csv_row_of_more_than_256_cells_is_422_naming_the_row(city, before):
    row = [USCC[0], "甲", "500103", "software_it", "2021/1/1"]
    body = csv_text([row, row[:1] + ["乙", *row[2:]] + ["1"] * 252], REQUIRED).encode()
    problem = await refused(city, before, "text/csv", body, 422)
    assert problem["detail"].startswith("Row 2 (line 3) has more than 256 cells")
    assert problem["errors"] == [{"loc": ["body", 2], "msg": "more than 256 cells"}]
    # 256 cells are a row, its surplus cells rejected in the report.
    body = csv_text([row + ["1"] * 251], REQUIRED).encode()
    response = await post(city, "text/csv", body)
    assert response.status_code == 200 and response.json()["rejected"][0]["row"] == 1


async def test_a_csv_cell_past_the_field_limit_is_422_naming_the_row(city, before):
    body = csv_text([[USCC[0], "甲" * 200_000, "500103", "software_it", "2021/1/1"]], REQUIRED).encode()
    problem = await refused(city, before, "text/csv", body, 422)
    assert problem["detail"].startswith("Row 1 (line 2) has a cell longer than 131072 characters")


# ---- CSV: GBK detection -----------------------------------------------------------------------------------------


def gbk_rows(names: list[str], yes_no: bool = False) -> list[list[str]]:
    return [
        [USCC[index], name, "500103", "modern_logistics", "2020/1/1", "是" if yes_no and index % 2 else "否"]
        for index, name in enumerate(names)
    ]


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param(gbk_rows(["顺丰速运"]), id="one-row-named-shunfeng"),
        pytest.param(gbk_rows([f"Chongqing Logistics {n}" for n in range(3)], yes_no=True), id="only-yes-no-3"),
        pytest.param(gbk_rows([f"Chongqing Logistics {n}" for n in range(10)], yes_no=True), id="only-yes-no-10"),
    ],
)
async def test_an_undeclared_gbk_csv_is_detected(city, rows):
    body = csv_text(rows, [*REQUIRED, "spun_off_from_manufacturer"]).encode("gbk")
    response = await post(city, "text/csv", body)
    assert response.status_code == 200, response.text[:500]
    assert response.json()["rows"] == len(rows)
    assert (await city.get(f"/enterprises/{USCC[0]}")).json()["name"] == rows[0][1]


@pytest.mark.parametrize(
    ("encoding", "name"),
    [("big5", "臺灣積體電路製造股份有限公司"), ("shift_jis", "株式会社トヨタ自動車"), ("latin-1", "Café Müller GmbH")],
)
async def test_an_undeclared_csv_in_another_encoding_is_still_refused(city, before, encoding, name):
    body = csv_text([[USCC[0], name, "500103", "software_it", "2021/1/1"]] * 20, REQUIRED).encode(encoding)
    problem = await refused(city, before, "text/csv", body, 400)
    assert "cannot be decoded as UTF-8 or GB18030/GBK" in problem["detail"]


# ---- Dates ------------------------------------------------------------------------------------------------------

NOT_A_DATE = [{"loc": ["established_on"], "msg": "not a date; write it as 2024-05-01 or 2024/5/1"}]


@pytest.mark.parametrize("text", ["0", "1577836800", "43831", "20240501", "2024-05-01T00:00", "2020/1/1 12:00"])
async def test_a_date_is_a_date_not_digits_or_a_date_time(city, text):
    body = csv_text([[USCC[0], "甲", "500103", "software_it", text]], REQUIRED).encode()
    response = await post(city, "text/csv", body)
    assert response.status_code == 200, response.text[:500]
    assert response.json()["rejected"] == [{"row": 1, "uscc": USCC[0], "errors": NOT_A_DATE}]


async def test_a_json_date_given_as_a_number_is_rejected(city):
    rows = [{"uscc": USCC[0], "name": "甲", "district_code": "500103", "sector": "software_it", "established_on": 0}]
    response = await post(city, "application/json", json.dumps(rows).encode())
    assert response.json()["rejected"] == [{"row": 1, "uscc": USCC[0], "errors": NOT_A_DATE}]


@pytest.mark.parametrize(
    ("number_format", "custom"),
    [(14, ""), (31, ""), (27, ""), (57, ""), (164, 'yyyy"年"m"月"d"日"'), (164, "[$-804]yyyy年m月d日")],
)
async def test_a_cell_in_a_cjk_date_format_is_a_date(city, number_format, custom):
    body = workbook(sheet(row_of(USCC[0], '<c s="1"><v>43831</v></c>')), styles(number_format, custom=custom))
    response = await post(city, XLSX, body)
    assert response.status_code == 200, response.text[:500]
    assert response.json()["created"] == 1
    assert (await city.get(f"/enterprises/{USCC[0]}")).json()["established_on"] == "2020-01-01"


# ---- The same report in every format ----------------------------------------------------------------------------


async def test_a_date_time_cell_is_rejected_as_the_csv_excel_saves_of_it(city):
    xlsx = workbook(sheet(row_of(USCC[0], '<c s="1"><v>43831.5</v></c>')), styles(22))
    csv_body = csv_text([[USCC[0], "重庆物流有限公司", "500103", "modern_logistics", "2020/1/1 12:00"]], REQUIRED)
    reports = [(await post(city, XLSX, xlsx)).json(), (await post(city, "text/csv", csv_body.encode())).json()]
    assert reports[0] == reports[1]
    assert reports[0]["rejected"] == [{"row": 1, "uscc": USCC[0], "errors": NOT_A_DATE}]


async def test_a_percent_cell_is_rejected_as_the_csv_excel_saves_of_it(city):
    columns = [*REQUIRED, "year", "revenue_yuan", "employees", "above_scale"]
    figures = '<c><v>2024</v></c><c s="2"><v>0.5</v></c><c><v>10</v></c>' + text_cells("是")
    xlsx = workbook(
        sheet(row_of(USCC[0], '<c s="1"><v>43831</v></c>') + figures).replace(
            HEADER_CELLS.encode(), text_cells(*columns).encode()
        ),
        styles(14, 9),
    )
    csv_body = csv_text(
        [[USCC[0], "重庆物流有限公司", "500103", "modern_logistics", "2020/1/1", "2024", "50%", "10", "是"]], columns
    )
    reports = [(await post(city, XLSX, xlsx)).json(), (await post(city, "text/csv", csv_body.encode())).json()]
    assert reports[0] == reports[1]
    assert reports[0]["rejected"][0]["errors"][0]["loc"] == ["revenue_yuan"]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
async def test_a_column_named_twice_is_refused(city, before, kind):
    columns = [*REQUIRED, "name"]
    row = [USCC[0], "甲", "500103", "software_it", "2021/1/1", "乙"]
    if kind == "csv":
        content_type, body = "text/csv", csv_text([row], columns).encode()
    else:
        content_type, body = XLSX, xlsx_body([columns, row], title_rows=0)
    problem = await refused(city, before, content_type, body, 422)
    assert problem["errors"] == [{"loc": ["header", "name"], "msg": "column named more than once"}]


# ---- Errors name the row ----------------------------------------------------------------------------------------


async def test_an_undecodable_byte_names_the_row_and_column_across_quoted_line_breaks(city, before):
    rows = [[USCC[0], "甲\n乙", "500103", "software_it", "2021/1/1"], [USCC[1], "丙", "500103", "software_it", "x"]]
    body = csv_text(rows, REQUIRED).encode().replace(b",x", b",\xff")
    problem = await refused(city, before, "text/csv; charset=utf-8", body, 400)
    # Line 4 of the file is the report's row 2: the first row spans two lines.
    assert "at row 2, column established_on (line 4," in problem["detail"]
    assert problem["errors"][0]["loc"] == ["body", 2, "established_on"]
    header = b"uscc,na\xffme\r\n"
    problem = await refused(city, before, "text/csv; charset=utf-8", header, 400)
    assert "at the header (line 1, byte 8 of the line" in problem["detail"]
    assert problem["errors"][0]["loc"] == ["header"]


# ---- Admission --------------------------------------------------------------------------------------------------


def import_request(content_type: str, length: int) -> Request:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(length).encode())]
    return Request({"type": "http", "method": "POST", "path": "/enterprises/import", "headers": headers})


def test_a_workbook_is_weighed_by_what_it_inflates_to():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<c/>" * 3_750_000)  # 15 MB of XML, 15 kB compressed
    body = buffer.getvalue()
    assert len(body) < 100_000
    # Half a full-size import (30 MB inflated): 5 of 10 units, where its compressed size weighed 1.
    assert _import_cost(import_request(XLSX, len(body)), CITY, body) == 5
    assert _import_cost(import_request(XLSX, 5), CITY, b"not a zip") == 1
    assert _import_cost(import_request("text/csv", 5_000_000), CITY, b"") == 5


async def test_a_directory_of_too_many_parts_is_refused_before_it_is_read(city, before):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for number in range(1_001):
            archive.writestr(f"x/{number}", b"")
    problem = await refused(city, before, XLSX, buffer.getvalue(), 413)
    assert problem["detail"].startswith("The workbook's directory lists 1001 parts")
