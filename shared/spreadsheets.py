"""Rows for XLSX exports: text is made fit for the XML inside a workbook, whatever a caller once sent."""

from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # type: ignore[import-untyped]


def xlsx_row(values: Iterable[Any]) -> list[Any]:
    """`values` with control characters in text replaced by U+FFFD (openpyxl refuses to write them)."""
    return [ILLEGAL_CHARACTERS_RE.sub("\ufffd", value) if isinstance(value, str) else value for value in values]
