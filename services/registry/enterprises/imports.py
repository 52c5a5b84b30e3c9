"""Reading a bulk-import body, CSV with a header, an XLSX workbook or a JSON array of objects, as a stream of raw
rows.

Rows are produced one at a time and counted as they come: the row after the limit stops the import, so that a body
of millions of tiny rows never has more than the limit's worth in memory (a whole-body parse of 60 MB of `{}`
took the registry to 1.7 GB).

A CSV is UTF-8 (with or without a byte order mark) or GB18030, the superset of the GBK and GB2312 that Excel on
Chinese Windows saves; an XLSX row is given as the text of its cells, as Excel would save the sheet as CSV, so that
the same rows give the same report in every format (the values are then normalised by `EnterpriseImportRow`).
"""

import codecs
import csv
import io
import itertools
import math
import pyexpat
import re
import zipfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any
from xml.etree.ElementTree import ParseError

import charset_normalizer
import ijson
from defusedxml import DefusedXmlException, DTDForbidden  # type: ignore[import-untyped]
from openpyxl.reader.excel import ExcelReader  # type: ignore[import-untyped]
from openpyxl.styles.numbers import (  # type: ignore[import-untyped]
    BUILTIN_FORMATS_MAX_SIZE,
    STRIP_RE,
    builtin_format_code,
)
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.utils.exceptions import InvalidFileException  # type: ignore[import-untyped]
from openpyxl.worksheet._read_only import ReadOnlyWorksheet  # type: ignore[import-untyped]
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS  # type: ignore[import-untyped]

from services.registry.enterprises.schemas import IMPORT_COLUMNS, EnterpriseImportRow
from services.registry.problems import ImportRefused
from shared.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from shared.openapi import schema_ref

REQUIRED_COLUMNS = ("uscc", "name", "district_code", "sector", "established_on")
CSV_TYPES = ("text/csv", "application/csv")
JSON_TYPES = ("application/json",)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLS_TYPE = "application/vnd.ms-excel"
# Bytes decoded at a time: the text of a whole body (up to four times its size in memory) is never made.
_DECODE_CHUNK = 256 * 1024
# The charsets a CSV may declare: GBK and GB2312 are decoded as GB18030, which encodes every character they do with
# the same bytes (and the rest of Unicode besides), so that a file saved as "ANSI" on Chinese Windows reads whole.
UTF8_CHARSETS = frozenset({"utf-8", "utf8"})
GB_CHARSETS = frozenset({"gb18030", "gbk", "gb2312", "cp936", "x-gbk", "euc-cn"})
# Bytes around the first one that is not UTF-8 given to the detector: it reads them a few times over, and the rows
# of one file share their encoding.
_DETECTION_SAMPLE = 64 * 1024
# How far charset-normalizer may find a sample, decoded as GB18030, to be "chaotic" (0 to 1: unlikely characters,
# mixed scripts) for it to be taken as GB18030. Measured: GBK samples read 0.0 (one row named 顺丰速运, a file whose
# only Chinese is 是/否), Big5 text 0.113, Shift_JIS 0.1; Latin-1 text does not decode at all.
_MAX_GB18030_CHAOS = 0.05
# A CSV line at most this many characters: a row of the import's 13 columns is a few hundred; each line is joined
# from the chunks it spans, so that a body of one huge line is refused when it has read 1 MiB, not after.
MAX_LINE = 1024 * 1024

try:  # the C parser (yajl), an order of magnitude faster than the pure-Python one
    _FAST_JSON = ijson.get_backend("yajl2_c")
except ImportError:  # pragma: no cover - the wheels of every supported platform carry it
    _FAST_JSON = ijson
# yajl turns an escaped lone surrogate ("\ud800") into "?", silently; bodies that may hold one go to the pure-Python
# parser, which keeps it (and validation then names the field, as for any text that cannot be stored).
_PYTHON_JSON = ijson.get_backend("python")
# Both branches start with the literal `\u`, so that the search jumps from escape to escape. With the low
# surrogate's lookbehind first it tried every byte, holding the interpreter lock: 1.45 s for 40 MB of `{},` during
# which the event loop served nobody (0.05 s now).
_LONE_SURROGATE = re.compile(
    rb"\\u(?:[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2}\\u)[dD][c-fC-F][0-9a-fA-F]{2})"
)
_SCALARS = frozenset({"string", "number", "boolean", "null"})
# A row has the import's few columns; the keys past this many are read over and not kept. Such a row is refused for
# the unknown keys it keeps (more than the report lists for one row), and a million keys in one row cost nothing.
_MAX_ROW_KEYS = 64


DESCRIPTION = """Creates or updates enterprises, each with one year's figures if the row has them, from a JSON array of
rows, a CSV or an Excel workbook. The columns are the fields of `EnterpriseImportRow`.

- **JSON** (`application/json`): an array of `EnterpriseImportRow` objects.
- **CSV** (`text/csv`): a header row naming the columns, then one row per line. UTF-8, with or without a byte order
  mark, or GB18030/GBK as Excel saves it on Chinese Windows: declare it (`text/csv; charset=gbk`; `gb2312`, `gb18030`
  and `utf-8` are understood too), or leave it to be detected. Bytes that are neither are a 400 naming the row and
  column (and the line and byte). A line is at most 1,048,576 characters and a cell at most 131,072 (else a 422 naming
  the row).
- **XLSX** (`application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`): the first sheet; its header row is
  the first of its first 10 rows that names an import column (title rows above it are allowed). Cells hold values:
  text, numbers (as the number the cell holds: a cell shown as `1,200,000` holds 1200000), dates (as dates, in the
  built-in and the Chinese date formats), booleans; a formula is a 422 naming its row and column. As the CSV Excel
  would save of the sheet, a date with a time of day (`2020/1/1 12:00`) is refused as a date, and a percent cell is
  read as it shows (`50%`), which a number column refuses.

A CSV or sheet row has at most 256 cells (a 422 naming the row); a column is named once in the header.

Values are read the same way in every format: booleans as `是`/`否`, `true`/`false` or `1`/`0`; dates as
`2024-05-01` or `2024/5/1`; numbers without thousands separators (`1,200,000` is refused by name); money with at most
two decimals. An import takes at most 200,000 rows (the service's setting).

Every row is validated and the valid ones are written: the answer is the report (`ImportReport`), `rejected` listing
each row not written with its errors, the same for the same rows in every format. With `atomic=true` nothing is
written unless every row is valid (else a 422 listing the rows in `rejected`). With an `Idempotency-Key`, a retry of
the same request gets the first answer again (`Idempotent-Replayed: true`) and writes nothing; the key sent with
another body is a 422. A district key writes its own district's enterprises only: other rows are rejected."""

# The JSON body's row, by reference: the route reads the body itself (streamed), FastAPI never sees the model.
ROW_SCHEMA = schema_ref(EnterpriseImportRow)


@dataclass(frozen=True, slots=True)
class ImportLimits:
    max_rows: int
    # The import's byte limit: an XLSX archive's contents are bounded by multiples of it (see _check_archive).
    max_bytes: int


def parse_body(content_type: str, body: bytes, limits: ImportLimits) -> Iterator[Any]:
    """The body's rows, one at a time; reading the row after `limits.max_rows` raises the 422 "too many rows".

    Nothing is read before the first row is asked for: the caller iterates in a worker thread.
    """
    media_type, parameters = _media_type(content_type)
    if media_type in CSV_TYPES:
        rows: Iterator[Any] = _csv_rows(body, parameters.get("charset"))
    elif media_type == XLSX_TYPE:
        rows = _xlsx_rows(body, limits)
    elif media_type in JSON_TYPES:
        rows = _json_rows(body)
    elif media_type == XLS_TYPE:
        raise UnsupportedMediaType("An Excel 97-2003 workbook (.xls) cannot be imported: save it as .xlsx or CSV.")
    else:
        raise UnsupportedMediaType(
            f"Send the import as text/csv, {XLSX_TYPE} (.xlsx) or application/json, not {media_type or 'nothing'}."
        )
    return _counted(rows, limits.max_rows)


def _media_type(content_type: str) -> tuple[str, dict[str, str]]:
    media_type, *pairs = content_type.split(";")
    parameters = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        parameters[name.strip().lower()] = value.strip().strip('"').lower()
    return media_type.strip().lower(), parameters


def _too_many_rows(max_rows: int, detail: str = "") -> InvalidInput:
    return InvalidInput(
        f"An import takes at most {max_rows} rows; this one has more{detail}: row {max_rows + 1} is past the limit. "
        "Split the file and send the parts one after the other.",
        errors=[{"loc": ["body", max_rows + 1], "msg": f"more than {max_rows} rows"}],
    )


def _counted(rows: Iterator[Any], max_rows: int) -> Iterator[Any]:
    for number, row in enumerate(rows, start=1):
        if number > max_rows:
            raise _too_many_rows(max_rows)
        yield row


def _checked_header(names: list[str], kind: str) -> None:
    unknown = [name for name in names if name not in IMPORT_COLUMNS]
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    # Else the last of two columns of one name would win without a word.
    repeated = sorted({name for name in names if names.count(name) > 1 and name in IMPORT_COLUMNS})
    if unknown or missing or repeated:
        errors = [{"loc": ["header", name], "msg": "unknown column"} for name in unknown]
        errors += [{"loc": ["header", name], "msg": "required column missing"} for name in missing]
        errors += [{"loc": ["header", name], "msg": "column named more than once"} for name in repeated]
        raise ImportRefused(
            f"The {kind} header does not match the import columns.", errors=errors, columns=list(IMPORT_COLUMNS)
        )


# ---- CSV ------------------------------------------------------------------------------------------------------


def _csv_encoding(charset: str | None, body: bytes) -> str:
    """The codec of the CSV: the declared charset, else UTF-8 when the whole body is UTF-8, else what the detector
    finds in the lines of the first byte that is not."""
    if charset is not None:
        if charset in UTF8_CHARSETS:
            return "utf-8"
        if charset in GB_CHARSETS:
            return "gb18030"
        raise UnsupportedMediaType(
            f"A CSV import is UTF-8 or GB18030/GBK, not charset={charset}: save it as UTF-8, or send a GBK file "
            "as text/csv; charset=gbk."
        )
    first_bad = _first_non_utf8(body)
    if first_bad is None:
        return "utf-8"
    return _detected(body, first_bad)


def _first_non_utf8(body: bytes) -> int | None:
    """The offset of the body's first byte that is not UTF-8, read chunk by chunk (the text is not kept)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    view = memoryview(body)
    for position in range(0, len(body), _DECODE_CHUNK):
        buffered = len(decoder.getstate()[0])
        try:
            decoder.decode(view[position : position + _DECODE_CHUNK], position + _DECODE_CHUNK >= len(body))
        except UnicodeDecodeError as exc:
            return position - buffered + exc.start
    return None


def _detected(body: bytes, first_bad: int) -> str:
    """GB18030 when charset-normalizer finds a Chinese national encoding in the whole lines around `first_bad`.

    Only the GB18030 family is taken. District offices save CSV as UTF-8 or, on Chinese Windows, as GBK (code page
    936); any other guess from a sample (Big5, Shift_JIS, a single-byte Windows code page, which decodes any byte at
    all) would be a statistical guess that, when wrong, stores garbled names in the registry without a word, where a
    refusal costs the office one re-save. When GB18030 scores as well as the best guess (a few short names can read
    as Big5 or Korean just as well), it is taken: it is the encoding such a file comes in.
    """
    # Whole lines from that byte's line on: in GB18030 as in UTF-8 a 0x0A byte is always a line feed, so no character
    # is cut. On a line too long for the sample it starts at the byte itself, all before it being UTF-8.
    start = body.rfind(b"\n", 0, first_bad) + 1
    if first_bad - start > _DETECTION_SAMPLE:
        start = first_bad
    end = body.find(b"\n", start + _DETECTION_SAMPLE, start + 2 * _DETECTION_SAMPLE)
    sample = body[start : end if end != -1 else start + 2 * _DETECTION_SAMPLE]
    as_gb18030 = charset_normalizer.from_bytes(sample, cp_isolation=["gb18030"]).best()
    if as_gb18030 is not None and as_gb18030.chaos <= _MAX_GB18030_CHAOS:
        return "gb18030"
    matches = charset_normalizer.from_bytes(sample)
    best = matches.best()
    if best is not None:
        equals = [match.encoding for match in matches if (match.chaos, match.coherence) == (best.chaos, best.coherence)]
        if any(encoding in GB_CHARSETS for encoding in equals):
            return "gb18030"
    looks_like = f" (it reads best as {best.encoding})" if best is not None else ""
    raise _undecodable(body, first_bad, f"UTF-8 or GB18030/GBK{looks_like}")


_DECLARE_CHARSET = (
    "Save it as UTF-8, or declare its encoding: Content-Type: text/csv; charset=gbk for a file Excel saved on Chinese "
    "Windows."
)


def _undecodable(body: bytes, offset: int, encoding: str, hint: str = _DECLARE_CHARSET) -> BadRequest:
    line = body.count(b"\n", 0, offset) + 1
    column = offset - (body.rfind(b"\n", 0, offset) + 1) + 1
    where = f"line {line}, byte {column} of the line (byte {offset})"
    row, name = _cell_at(body, offset, "gb18030" if encoding == "GB18030" else "utf-8")
    loc: list[str | int]
    if row == 0:
        where, loc = f"the header ({where})", ["header"]
    else:
        where, loc = f"row {row}, column {name} ({where})", ["body", row, name]
    return BadRequest(
        f"The CSV bytes cannot be decoded as {encoding} at {where}: 0x{body[offset]:02X}. {hint}",
        errors=[{"loc": loc, "msg": f"byte {column} of line {line} (0x{body[offset]:02X}) is not {encoding}"}],
    )


def _cell_at(body: bytes, offset: int, encoding: str) -> tuple[int, str]:
    """The report's row (0: the header) and the column of the byte at `offset`, from the CSV read up to it (all valid
    in `encoding`): a row may span lines (quoted line breaks) and blank lines are not rows."""
    view = memoryview(body)
    chunks = (
        bytes(view[position : min(position + _DECODE_CHUNK, offset)]) for position in range(0, offset, _DECODE_CHUNK)
    )
    marker = "\ue000"  # ends the text where the byte was: the last record holds it, in the byte's cell
    text = itertools.chain(codecs.iterdecode(chunks, encoding, errors="replace"), [marker])
    header: list[str] = []
    count, last = 0, []
    try:
        for record in csv.reader(_split_lines(text)):
            if record:
                count, last = count + 1, record
                header = header or [name.strip().removeprefix("\ufeff") for name in record]
    except (csv.Error, _LineTooLong):
        return count, "?"
    index = len(last) - 1
    return count - 1, header[index] if index < len(header) and header[index] else get_column_letter(index + 1)


class _LineTooLong(Exception):
    pass


def _split_lines(chunks: Iterator[str]) -> Iterator[str]:
    """Text given in chunks, in lines as `newline=""` splits them (the csv module's input), each at most MAX_LINE.

    The pieces of a line are joined only when a chunk ends it: joining them at every chunk copied a long line again
    and again (a 62 MB line took 34 s)."""
    pieces: list[str] = []
    length = 0
    for text in chunks:
        pieces.append(text)
        length += len(text)
        if "\n" not in text and "\r" not in text:
            if length > MAX_LINE:
                raise _LineTooLong
            continue
        lines = io.StringIO("".join(pieces), newline="").readlines()
        # The last line may go on in the next chunk (or be a CR whose LF comes next): kept back until then.
        last = lines.pop()
        if last.endswith("\n"):
            lines.append(last)
            last = ""
        pieces, length = [last], len(last)
        if length > MAX_LINE or any(len(line) > MAX_LINE for line in lines):
            raise _LineTooLong
        yield from lines
    yield from io.StringIO("".join(pieces), newline="").readlines()


def _lines(body: bytes, encoding: str, declared: bool) -> Iterator[str]:
    """The body decoded chunk by chunk, in lines (`_split_lines`)."""
    name = "GB18030" if encoding == "gb18030" else "UTF-8"
    hint = f"The file is not in the {name} its charset declares: save it again." if declared else _DECLARE_CHARSET
    return _split_lines(_decoded(body, encoding, name, hint))


def _decoded(body: bytes, encoding: str, name: str, hint: str) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    view = memoryview(body)
    started = False
    for position in range(0, len(body), _DECODE_CHUNK):
        buffered = len(decoder.getstate()[0])  # the bytes of a character the previous chunk cut
        try:
            text = decoder.decode(view[position : position + _DECODE_CHUNK], position + _DECODE_CHUNK >= len(body))
        except UnicodeDecodeError as exc:
            raise _undecodable(body, position - buffered + exc.start, name, hint) from None
        if not started and text:
            text = text.removeprefix("\ufeff")  # the byte order mark, of UTF-8 or of GB18030
            started = True
        yield text


def _csv_rows(body: bytes, charset: str | None) -> Iterator[dict[str | None, Any]]:
    reader = csv.DictReader(_lines(body, _csv_encoding(charset, body), declared=charset is not None))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise BadRequest(f"The CSV is malformed at line {reader.line_num}: {exc}.") from None
    header = [name.strip() for name in fieldnames or []]
    _checked_header(header, "CSV")
    reader.fieldnames = header
    number = 0
    try:
        for number, record in enumerate(reader, start=1):
            # Blank cells are absent values; a row with more cells than the header keeps them under None.
            row: dict[str | None, Any] = {key: value for key, value in record.items() if value not in ("", None)}
            if None in row:
                surplus = row.pop(None)
                if len(header) + len(surplus) > MAX_ROW_CELLS:
                    raise _too_wide(f"Row {number} (line {reader.line_num})", number)
                row["unexpected_cells"] = surplus
            yield row
    except _LineTooLong:
        raise InvalidInput(
            f"Row {number + 1} (line {reader.line_num + 1}) is longer than {MAX_LINE} characters, far more than a row "
            "of the import's columns: the file is not a list of enterprises, or a quote is not closed.",
            errors=[{"loc": ["body", number + 1], "msg": f"longer than {MAX_LINE} characters"}],
        ) from None
    except csv.Error as exc:
        if "field limit" in str(exc):
            raise InvalidInput(
                # The reader counts the line once it has parsed it: the error is on the next.
                f"Row {number + 1} (line {reader.line_num + 1}) has a cell longer than {csv.field_size_limit()} "
                "characters, far more than any value of the import: the file is not a list of enterprises, or a "
                "quote is not closed.",
                errors=[{"loc": ["body", number + 1], "msg": "a cell is too long"}],
            ) from None
        raise BadRequest(f"The CSV is malformed at line {reader.line_num}: {exc}.") from None


def _too_wide(where: str, row: int | str) -> InvalidInput:
    """A row of more than MAX_ROW_CELLS cells, in a CSV or a sheet, refused as soon as it is read."""
    return InvalidInput(
        f"{where} has more than {MAX_ROW_CELLS} cells (or a cell right of column {_LAST_COLUMN}); an import has "
        f"{len(IMPORT_COLUMNS)} columns. Delete the cells right of the data and send it again.",
        errors=[{"loc": ["body", row], "msg": f"more than {MAX_ROW_CELLS} cells"}],
    )


# ---- XLSX -----------------------------------------------------------------------------------------------------

# Excel 97-2003 workbooks (.xls) and password-protected .xlsx files are OLE2 compound files, not ZIP archives.
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
# Bounds on the archive, checked on its directory before any member is inflated (zipfile then never inflates a member
# past the size its directory declares: a member that would is a CRC error). A workbook has about ten members, a
# 100,000-row sheet is 30-60 MB of XML that compresses 10-20 times; a zip bomb compresses thousands of times.
_MAX_MEMBERS = 1_000
# The end of a ZIP archive's directory (its last 22 bytes, before a comment of up to 64 KiB): the number of members
# and the size of the directory, read before zipfile builds an object per member (a 64 MB body holds a million).
_END_OF_DIRECTORY = b"PK\x05\x06"
_END_RECORD_SIZE = 22
_MAX_DIRECTORY = _MAX_MEMBERS * 1024  # a workbook's part names are tens of bytes
_MAX_RATIO = 100
_RATIO_FLOOR = 1024 * 1024  # members smaller than this may compress as they like
_EXPANSION = 8  # the whole archive, inflated, may be this many times the import's byte limit
# The worksheets are streamed; the parts openpyxl opens while loading (shared strings, workbook, styles, theme,
# relationships, ...) are parsed whole, in memory, at about 6 times their XML for the shared strings and 15 for
# workbook.xml's defined names or the styles. Together they may take the byte limit over _WHOLE_PARTS_SHARE (the
# shared strings of 200,000 rows of unique names are about 20 MB); all but the shared strings together at most
# _SMALL_PARTS (kilobytes as Excel writes them; styles bloated by pasted formats a few MB), so that no hostile
# workbook.xml or styles.xml of tens of MB is parsed (24 MB of defined names took 360 MiB).
_WHOLE_PARTS_SHARE = 2
_SMALL_PARTS = 8 * 1024 * 1024
# The cells of a sheet row, counted (and their columns, by their reference) before openpyxl builds the row, which it
# does whole (a dict and a cell object a cell: one row of 3,000,000 cells, 2.4 MB of body, took 1.45 GB). The import
# has 13 columns; 256 (column IV, the width of an Excel 97-2003 sheet) leaves room for notes and formatted blank
# cells right of the data, which no office's list fills.
MAX_ROW_CELLS = 256
_LAST_COLUMN = get_column_letter(MAX_ROW_CELLS)
# The cells of the whole sheet, at most this many a row of the row limit: twice the import's columns, for formatted
# blank cells (the work is then bounded by the rows, about 100,000 cells/s).
_CELLS_PER_ROW = 2 * len(IMPORT_COLUMNS)
_EXCEL_ROWS = 1_048_576
_SHEET_ROW = f"{SHEET_MAIN_NS} row"
_SHEET_CELL = f"{SHEET_MAIN_NS} c"
# Built-in date formats openpyxl does not know: Excel on Chinese, Japanese and Korean Windows writes them by id alone,
# without a format code (31 is yyyy"年"m"月"d"日"), so that their cells would read as serial numbers (43831).
_CJK_DATE_FORMATS = frozenset(range(27, 37)) | frozenset(range(50, 59))
# What openpyxl raises for a workbook it cannot read: a broken archive (CRC, truncation), broken or hostile XML
# (defusedxml's refusals are ValueErrors), a part missing.
_UNREADABLE = (zipfile.BadZipFile, KeyError, ValueError, TypeError, EOFError, ParseError, pyexpat.ExpatError)
# The header row is looked for among the sheet's first rows, below any title rows.
HEADER_SEARCH_ROWS = 10


def archive_members(body: bytes) -> list[zipfile.ZipInfo] | None:
    """The members of the ZIP archive `body` from its directory (None: not an archive); 413 for more than
    _MAX_MEMBERS, before they are read. Cheap enough for the event loop (the import's admission weighs a workbook
    by its inflated size)."""
    end = body.rfind(_END_OF_DIRECTORY, max(0, len(body) - _END_RECORD_SIZE - 0xFFFF))
    if end < 0 or end + _END_RECORD_SIZE > len(body):
        return None
    count = int.from_bytes(body[end + 10 : end + 12], "little")
    directory = int.from_bytes(body[end + 12 : end + 16], "little")
    if count > _MAX_MEMBERS or directory > _MAX_DIRECTORY:
        raise PayloadTooLarge(
            f"The workbook's directory lists {count} parts in {directory} bytes; an import takes at most "
            f"{_MAX_MEMBERS} parts."
        )
    try:
        return zipfile.ZipFile(io.BytesIO(body)).infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        return None


def _check_archive(body: bytes, limits: ImportLimits) -> None:
    if body.startswith(_OLE2_MAGIC):
        if _ENCRYPTED_PACKAGE in body:
            raise BadRequest("The workbook is password-protected: save it without a password and send it again.")
        raise BadRequest("This is an Excel 97-2003 workbook (.xls): save it as an Excel Workbook (.xlsx) or as CSV.")
    members = archive_members(body)
    if members is None:
        raise BadRequest(f"The body is not an XLSX workbook (a ZIP archive), as {XLSX_TYPE} declares.")
    if any(member.flag_bits & 0x1 for member in members):
        raise BadRequest("The workbook is encrypted: save it without a password and send it again.")
    total = sum(member.file_size for member in members)
    if total > _EXPANSION * limits.max_bytes:
        raise PayloadTooLarge(
            f"The workbook inflates to {total} bytes; an import takes at most {_EXPANSION * limits.max_bytes}."
        )
    for member in members:
        if member.file_size > _RATIO_FLOOR and member.file_size > _MAX_RATIO * max(member.compress_size, 1):
            raise PayloadTooLarge(
                f"The workbook's part {member.filename} inflates {member.file_size // max(member.compress_size, 1)} "
                f"times (at most {_MAX_RATIO}): it is not a workbook a spreadsheet program saves."
            )


def _xlsx_rows(body: bytes, limits: ImportLimits) -> Iterator[dict[str, Any]]:
    """The rows of the workbook's first sheet below its header row, each as the text of its cells by column.

    Read in openpyxl's read-only mode, which streams the sheet (its XML parsed by defusedxml: no entities, no
    external references); with `data_only=False`, so that a formula is seen as one and refused. The parts it parses
    whole are bounded as it opens them, and the sheet's cells counted before it reads the sheet (_BoundedReader).
    """
    _check_archive(body, limits)
    try:
        reader = _BoundedReader(body, limits)
        reader.read()
        workbook = reader.wb
    except (InvalidFileException, *_UNREADABLE) as exc:
        raise BadRequest(f"The body is not a readable XLSX workbook: {_reason(exc)}.") from None
    try:
        if not workbook.worksheets:
            raise InvalidInput("The workbook has no worksheet.", errors=[{"loc": ["body"], "msg": "no worksheet"}])
        sheet = workbook.worksheets[0]
        declared = sheet.max_row  # from the sheet's <dimension>, when it has one
        if declared is not None and declared - 1 > limits.max_rows:
            raise _too_many_rows(limits.max_rows, f" (the sheet's dimension declares {declared} rows)")
        # Rows are then as long as their last cell, not padded to a declared width of up to 16,384 columns.
        sheet.reset_dimensions()
        _add_cjk_date_styles(workbook)
        yield from _sheet_rows(sheet.iter_rows(), _percent_styles(workbook))
    except _UNREADABLE as exc:
        raise BadRequest(f"The workbook's first sheet cannot be read: {_reason(exc)}.") from None
    finally:
        workbook.close()


class _BoundedArchive(zipfile.ZipFile):
    """The workbook's archive, counting each part openpyxl opens to parse whole against the budgets above."""

    def __init__(self, body: bytes, budget: int) -> None:
        super().__init__(io.BytesIO(body))
        self.budget = budget
        self.shared_strings = ""  # the part's name, once the manifest is read
        self.streamed: frozenset[str] = frozenset()  # the first worksheet, once the workbook is read
        self._counted: set[str] = set()
        self._whole = 0
        self._small = 0

    def open(self, name: Any, mode: Any = "r", pwd: bytes | None = None, **options: Any) -> Any:
        info = name if isinstance(name, zipfile.ZipInfo) else self.getinfo(name)
        if info.filename not in self.streamed and info.filename not in self._counted:
            self._counted.add(info.filename)
            self._whole += info.file_size
            if info.filename != self.shared_strings:
                self._small += info.file_size
            if self._small > _SMALL_PARTS:
                raise PayloadTooLarge(
                    "The workbook's parts other than the sheets and shared strings inflate to more than "
                    f"{_SMALL_PARTS} bytes (at {info.filename}); an import reads at most that of them."
                )
            if self._whole > self.budget:
                raise PayloadTooLarge(
                    f"The workbook's parts read whole (shared strings, styles, ...) inflate to more than {self.budget} "
                    f"bytes (at {info.filename}); an import reads at most that of them."
                )
        return super().open(name, mode, pwd, **options)


class _BoundedReader(ExcelReader):  # type: ignore[misc]
    """openpyxl's read-only reader, telling the archive which part is the shared strings, and loading the first
    worksheet only, its cells counted (_check_cells) before openpyxl reads any of it: it parses a sheet without a
    <dimension> up to its data when loading, building every cell of the first row (3,000,000 cells: 9 s, 250 MiB)."""

    archive: _BoundedArchive

    def __init__(self, body: bytes, limits: ImportLimits) -> None:
        super().__init__(io.BytesIO(body), read_only=True, data_only=False, keep_links=False)
        self.archive = _BoundedArchive(body, limits.max_bytes // _WHOLE_PARTS_SHARE)
        self.max_cells = (limits.max_rows + HEADER_SEARCH_ROWS) * _CELLS_PER_ROW

    def read_strings(self) -> None:
        part = self.package.find(SHARED_STRINGS)
        if part is not None:
            self.archive.shared_strings = part.PartName[1:]
        super().read_strings()

    def read_worksheets(self) -> None:
        for sheet, rel in self.parser.find_sheets():
            if rel.target in self.valid_files and "chartsheet" not in rel.Type:
                self.archive.streamed = frozenset({rel.target})
                with self.archive.open(rel.target) as source:
                    _check_cells(source, self.max_cells)
                self.wb._sheets.append(ReadOnlyWorksheet(self.wb, sheet.name, rel.target, self.shared_strings))
                return


def _check_cells(source: IO[bytes], max_cells: int) -> None:
    """Refuses a sheet with a row of more than MAX_ROW_CELLS cells (or a cell right of that column), or with more than
    `max_cells` cells, reading its XML once before openpyxl builds any row.

    expat with a handler for the start of each element only: no element is built or kept. It reads the bench's
    100,000-row sheet in 0.9 s, where openpyxl takes 7.6 s to build its rows and defusedxml's iterparse 6 s to count.
    """
    row = cells = total = 0

    def started(tag: str, attributes: dict[str, str]) -> None:
        nonlocal row, cells, total
        if tag == _SHEET_CELL:
            cells += 1
            total += 1
            letters = attributes.get("r", "").rstrip("0123456789")
            too_far = len(letters) > len(_LAST_COLUMN) or (len(letters) == len(_LAST_COLUMN) and letters > _LAST_COLUMN)
            if cells > MAX_ROW_CELLS or too_far:
                # The report's row is not known yet (the header row is found later): the sheet's row is named.
                raise _too_wide(f"Sheet row {row}", f"sheet row {row}")
            if total > max_cells:
                raise PayloadTooLarge(
                    f"The sheet has more than {max_cells} cells (at sheet row {row}); an import of its row limit has "
                    "at most that many. Delete the cells outside the data and send it again."
                )
        elif tag == _SHEET_ROW:
            number = attributes.get("r", "")
            row, cells = (int(number) if number.isdigit() else row + 1), 0
            if row > _EXCEL_ROWS:  # openpyxl would give every row up to it, blank
                raise BadRequest(f"The sheet has a row numbered {number}, past Excel's last row ({_EXCEL_ROWS}).")

    def refused(name: str, system_id: str | None, public_id: str | None, *_: Any) -> None:
        raise DTDForbidden(name, system_id, public_id)

    parser = pyexpat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = started
    parser.StartDoctypeDeclHandler = refused
    parser.ParseFile(source)


def _add_cjk_date_styles(workbook: Any) -> None:
    """Makes the styles in a CJK built-in date format date styles, whose numbers openpyxl then reads as dates."""
    for index, style in enumerate(workbook._cell_styles):
        if style.numFmtId in _CJK_DATE_FORMATS:
            workbook._date_formats.add(index)


def _percent_styles(workbook: Any) -> frozenset[int]:
    """The workbook's styles that show a number as a percent."""
    percent = set()
    for index, style in enumerate(workbook._cell_styles):
        if style.numFmtId < BUILTIN_FORMATS_MAX_SIZE:
            code = builtin_format_code(style.numFmtId)
        else:
            code = workbook._number_formats[style.numFmtId - BUILTIN_FORMATS_MAX_SIZE]
        if code and "%" in STRIP_RE.sub("", code.split(";")[0]):
            percent.add(index)
    return frozenset(percent)


def _reason(exc: BaseException) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, DefusedXmlException):
            return "its XML declares entities or a DTD, which no spreadsheet program writes (refused as an XML attack)"
        cause = cause.__cause__ or cause.__context__
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _sheet_rows(rows: Iterator[tuple[Any, ...]], percent_styles: frozenset[int]) -> Iterator[dict[str, Any]]:
    header_row, names = _header(rows)
    columns = [(index, name) for index, name in enumerate(names) if name]
    _checked_header([name for _, name in columns], "sheet")
    blank_rows = 0
    for sheet_row, cells in enumerate(rows, start=header_row + 1):
        row: dict[str, Any] = {}
        unexpected: list[str] = []
        for index, cell in enumerate(cells):
            if cell.value is None:
                continue
            name = names[index] if index < len(names) else ""
            if cell.data_type == "f":
                raise _formula(sheet_row - header_row, sheet_row, index, name, cell.value)
            if cell._style_id in percent_styles and cell.data_type == "n":
                # Excel saves such a cell in a CSV as it shows it, 50%, which a number column refuses: so here.
                text = f"{_number_text(cell.value * 100)}%"
            else:
                text = _cell_text(cell.value)
            if text == "":
                continue
            if name:
                row[name] = text
            else:
                unexpected.append(text)
        if unexpected:
            row["unexpected_cells"] = unexpected
        if not row:
            # A blank row is a row (as in the CSV Excel saves), unless only blank rows follow it: a sheet's formatted
            # empty rows below its data are not data.
            blank_rows += 1
            continue
        for _ in range(blank_rows):
            yield {}
        blank_rows = 0
        yield row


def _header(rows: Iterator[tuple[Any, ...]]) -> tuple[int, list[str]]:
    """The header row's number and its names: the first row that names an import column."""
    for number, cells in enumerate(rows, start=1):
        names = [cell.value.strip() if isinstance(cell.value, str) else "" for cell in cells]
        if any(name in IMPORT_COLUMNS for name in names):
            return number, names
        if number == HEADER_SEARCH_ROWS:
            break
    raise ImportRefused(
        f"The sheet has no header row: none of its first {HEADER_SEARCH_ROWS} rows names the import columns "
        f"({', '.join(IMPORT_COLUMNS)}). Put them in one row above the data; title rows above it are allowed.",
        errors=[{"loc": ["header"], "msg": f"no header row in the first {HEADER_SEARCH_ROWS} rows"}],
        columns=list(IMPORT_COLUMNS),
    )


def _formula(row: int, sheet_row: int, index: int, name: str, formula: Any) -> InvalidInput:
    cell = f"{get_column_letter(index + 1)}{sheet_row}"
    column = name or get_column_letter(index + 1)
    return InvalidInput(
        f"Row {row} (sheet row {sheet_row}), column {column}: cell {cell} holds a formula ({str(formula)[:100]}) where "
        "a value belongs. Copy the sheet and paste it as values (Paste Special > Values), then send it again.",
        errors=[{"loc": ["body", row, column], "msg": f"cell {cell} holds a formula, not a value"}],
    )


def _cell_text(value: Any) -> str:
    """A cell's value as the text Excel saves in a CSV, which the row's validation reads as it reads a CSV's."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():  # saved in a CSV as 2020/1/1 12:00, which a date column refuses
            return f"{value.year}/{value.month}/{value.day} {value:%H:%M}"
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)  # a time of day or a duration: the date and number columns refuse it


def _number_text(value: float) -> str:
    """A numeric cell's value as Excel shows it, to its 15 significant digits.

    The cell holds a binary float: 1200000.0 for 1,200,000 and 0.30000000000000004 for a pasted 0.1 + 0.2. Read to
    the 15 digits Excel keeps, a whole number is an integer and an amount in fen has its two decimals; the digits past
    them are the float's, not the office's (an amount with a third decimal stays one, and is refused as money).
    """
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return format(value, ".15g")


# ---- JSON -----------------------------------------------------------------------------------------------------


def _json_rows(body: bytes) -> Iterator[Any]:
    """The items of the top-level array, built from the parser's events.

    A row is a flat object: a nested array or object (in a row, or as a row) is passed over without being built and
    stands as an empty one of its kind, which validation refuses like any other value of the wrong type, so that
    neither deep nesting nor one huge value in a row costs memory.
    """
    backend = _PYTHON_JSON if _LONE_SURROGATE.search(body) else _FAST_JSON
    events = backend.basic_parse(io.BytesIO(body), use_float=True)
    try:
        first = next(events, None)
        if first is None or first[0] != "start_array":
            deque(events, maxlen=0)  # valid JSON of another shape is a 422, invalid JSON a 400
            raise InvalidInput(
                "A JSON import is an array of row objects.", errors=[{"loc": ["body"], "msg": "expected an array"}]
            )
        for event, value in events:
            if event == "end_array":
                break
            yield _item(event, value, events)
        deque(events, maxlen=0)  # anything after the array is invalid JSON
    except (ijson.JSONError, ValueError):
        raise BadRequest("The body is not valid JSON.") from None


def _item(event: str, value: Any, events: Iterator[tuple[str, Any]]) -> Any:
    if event in _SCALARS:
        return value
    if event == "start_array":
        _skip(events)
        return []
    row: dict[str, Any] = {}
    key = ""
    for event, value in events:
        if event == "map_key":
            key = value
        elif event == "end_map":
            return row
        else:
            if event not in _SCALARS:  # a nested array or object
                _skip(events)
                value = [] if event == "start_array" else {}
            if len(row) < _MAX_ROW_KEYS or key in row:
                row[key] = value
    return row


def _skip(events: Iterator[tuple[str, Any]]) -> None:
    """Consume the events of the container just opened, up to its end."""
    depth = 1
    for event, _ in events:
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                return
