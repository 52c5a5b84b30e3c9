"""Reading a bulk-import body: CSV with a header, or a JSON array of objects, into raw rows."""

import csv
import io
import json
from typing import Any

from services.registry.enterprises.schemas import IMPORT_COLUMNS
from shared.errors import BadRequest, InvalidInput, UnsupportedMediaType

REQUIRED_COLUMNS = ("uscc", "name", "district_code", "sector", "established_on")
CSV_TYPES = ("text/csv", "application/csv")
JSON_TYPES = ("application/json",)


def parse_body(content_type: str, body: bytes, max_rows: int) -> list[Any]:
    media_type = content_type.split(";")[0].strip().lower()
    if media_type in CSV_TYPES:
        rows = _parse_csv(body)
    elif media_type in JSON_TYPES:
        rows = _parse_json(body)
    else:
        raise UnsupportedMediaType(f"Send the import as text/csv or application/json, not {media_type or 'nothing'}.")
    if len(rows) > max_rows:
        raise InvalidInput(
            f"An import takes at most {max_rows} rows; this one has {len(rows)}.",
            errors=[{"loc": ["body"], "msg": f"more than {max_rows} rows"}],
        )
    return rows


def _parse_csv(body: bytes) -> list[Any]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"The CSV is not UTF-8 (byte {exc.start}).") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    unknown = [name for name in header if name not in IMPORT_COLUMNS]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if unknown or missing:
        errors = [{"loc": ["header", name], "msg": "unknown column"} for name in unknown]
        errors += [{"loc": ["header", name], "msg": "required column missing"} for name in missing]
        raise InvalidInput(
            "The CSV header does not match the import columns.", errors=errors, columns=list(IMPORT_COLUMNS)
        )
    reader.fieldnames = header
    rows: list[Any] = []
    try:
        for record in reader:
            # Blank cells are absent values; a row with more cells than the header keeps them under None.
            row: dict[str | None, Any] = {key: value for key, value in record.items() if value not in ("", None)}
            if None in row:
                row["unexpected_cells"] = row.pop(None)
            rows.append(row)
    except csv.Error as exc:
        raise BadRequest(f"The CSV is malformed at line {reader.line_num}: {exc}.") from None
    return rows


def _parse_json(body: bytes) -> list[Any]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested deeper than Python parses
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(document, list):
        raise InvalidInput(
            "A JSON import is an array of row objects.", errors=[{"loc": ["body"], "msg": "expected an array"}]
        )
    return document
