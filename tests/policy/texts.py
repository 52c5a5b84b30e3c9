"""The vendored policy texts, read clause by clause, for checking that every quote of the data is verbatim."""

import re
from functools import cache
from pathlib import Path

from shared.policy.references import ACTION_PLAN_DOCUMENT, MEASURES_DOCUMENT, Reference

DOCS_POLICY = Path(__file__).resolve().parents[2] / "docs" / "policy"
TEXT_FILES = {
    MEASURES_DOCUMENT: DOCS_POLICY / "measures-yufagaiguifan-2024-7.zh.txt",
    ACTION_PLAN_DOCUMENT: DOCS_POLICY / "action-plan-yufufa-2024-18.zh.txt",
}
NUMERALS = ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十",
            "十一", "十二", "十三", "十四", "十五", "十六")  # fmt: skip
SUPPLEMENTARY = "七、附则"


def compact(text: str) -> str:
    """The text without the line breaks, page breaks and spaces of its PDF extraction: what quotes are matched in."""
    return re.sub(r"\s+", "", text)


@cache
def measures_clauses() -> dict[str, str]:
    """第（一）条 … 第（十六）条 and 七、附则 of 渝发改规范〔2024〕7号, each the compacted text of that clause alone."""
    text = compact(TEXT_FILES[MEASURES_DOCUMENT].read_text(encoding="utf-8"))
    starts: list[tuple[str, int]] = []
    position = 0
    for numeral in NUMERALS:
        position = text.index(f"（{numeral}）", position)
        starts.append((f"第（{numeral}）条", position))
    starts.append((SUPPLEMENTARY, text.index(SUPPLEMENTARY, position)))
    ends = [start for _, start in starts[1:]] + [len(text)]
    return {label: text[start:end] for (label, start), end in zip(starts, ends, strict=True)}


def problem(reference: Reference) -> str | None:
    """Why `reference` does not quote its clause verbatim, or None when it does."""
    if reference.document != MEASURES_DOCUMENT:
        whole = compact(TEXT_FILES[reference.document].read_text(encoding="utf-8"))
        return None if compact(reference.quote) in whole else f"{reference.quote!r} is not in {reference.document}"
    section = measures_clauses().get(reference.clause)
    if section is None:
        return f"{reference.document} has no clause {reference.clause}"
    if compact(reference.quote) not in section:
        return f"{reference.quote!r} is not in {reference.clause} of {reference.document}"
    return None
