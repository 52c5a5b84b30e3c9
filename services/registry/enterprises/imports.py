"""Reading a bulk-import body, CSV with a header or a JSON array of objects, as a stream of raw rows.

Rows are produced one at a time and counted as they come: the row after the limit stops the import, so that a body
of millions of tiny rows never has more than the limit's worth in memory (a whole-body parse of 60 MB of `{}`
took the registry to 1.7 GB).
"""

import codecs
import csv
import io
import re
from collections import deque
from collections.abc import Iterator
from typing import Any

import ijson

from services.registry.enterprises.schemas import IMPORT_COLUMNS
from shared.errors import BadRequest, InvalidInput, UnsupportedMediaType

REQUIRED_COLUMNS = ("uscc", "name", "district_code", "sector", "established_on")
CSV_TYPES = ("text/csv", "application/csv")
JSON_TYPES = ("application/json",)
# Bytes decoded at a time: the text of a whole body (up to four times its size in memory) is never made.
_DECODE_CHUNK = 256 * 1024
_BOM = codecs.BOM_UTF8

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


def parse_body(content_type: str, body: bytes, max_rows: int) -> Iterator[Any]:
    """The body's rows, one at a time; reading the row after `max_rows` raises the 422 "too many rows"."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type in CSV_TYPES:
        rows = _csv_rows(body)
    elif media_type in JSON_TYPES:
        rows = _json_rows(body)
    else:
        raise UnsupportedMediaType(f"Send the import as text/csv or application/json, not {media_type or 'nothing'}.")
    return _counted(rows, max_rows)


def _counted(rows: Iterator[Any], max_rows: int) -> Iterator[Any]:
    for number, row in enumerate(rows, start=1):
        if number > max_rows:
            raise InvalidInput(
                f"An import takes at most {max_rows} rows; this one has more.",
                errors=[{"loc": ["body"], "msg": f"more than {max_rows} rows"}],
            )
        yield row


# ---- CSV ------------------------------------------------------------------------------------------------------


def _lines(body: bytes) -> Iterator[str]:
    """The body decoded as UTF-8 chunk by chunk, in lines as `newline=""` splits them (the csv module's input)."""
    position = len(_BOM) if body.startswith(_BOM) else 0
    pending = ""
    while position < len(body):
        chunk = body[position : position + _DECODE_CHUNK]
        final = position + len(chunk) >= len(body)
        try:
            text, consumed = codecs.utf_8_decode(chunk, "strict", final)
        except UnicodeDecodeError as exc:
            raise BadRequest(f"The CSV is not UTF-8 (byte {position + exc.start}).") from None
        position += consumed
        lines = io.StringIO(pending + text, newline="").readlines()
        # The last line may go on in the next chunk (or be a CR whose LF comes next): kept back until then.
        pending = lines.pop() if lines else ""
        yield from lines
    if pending:
        yield pending


def _csv_rows(body: bytes) -> Iterator[dict[str | None, Any]]:
    reader = csv.DictReader(_lines(body))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise BadRequest(f"The CSV is malformed at line {reader.line_num}: {exc}.") from None
    header = [name.strip() for name in fieldnames or []]
    unknown = [name for name in header if name not in IMPORT_COLUMNS]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if unknown or missing:
        errors = [{"loc": ["header", name], "msg": "unknown column"} for name in unknown]
        errors += [{"loc": ["header", name], "msg": "required column missing"} for name in missing]
        raise InvalidInput(
            "The CSV header does not match the import columns.", errors=errors, columns=list(IMPORT_COLUMNS)
        )
    reader.fieldnames = header
    try:
        for record in reader:
            # Blank cells are absent values; a row with more cells than the header keeps them under None.
            row: dict[str | None, Any] = {key: value for key, value in record.items() if value not in ("", None)}
            if None in row:
                row["unexpected_cells"] = row.pop(None)
            yield row
    except csv.Error as exc:
        raise BadRequest(f"The CSV is malformed at line {reader.line_num}: {exc}.") from None


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
