"""Validated identifier types for request models: credit codes, district and sector codes, years, names."""

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from shared.openapi import named
from shared.reference import DISTRICT_CODES, MAX_YEAR, MIN_YEAR, SECTOR_CODES
from shared.uscc import validate_uscc


def _known_district(code: str) -> str:
    if code not in DISTRICT_CODES:
        raise ValueError(f"{code!r} is not one of the 38 district codes of Chongqing (GB/T 2260)")
    return code


def _known_sector(code: str) -> str:
    if code not in SECTOR_CODES:
        raise ValueError(f"{code!r} is not one of the 18 producer-service sectors; see GET /sectors")
    return code


def _printable(text: str) -> str:
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in text):
        raise ValueError("text may not contain control characters or unpaired surrogates")
    return text


def _storable(value: object) -> object:
    if isinstance(value, str) and any(char == "\x00" or "\ud800" <= char <= "\udfff" for char in value):
        raise ValueError("text may not contain NUL characters or unpaired surrogates")
    return value


# Free text (line breaks allowed) and query values that reach PostgreSQL, which holds neither NUL nor an unpaired
# surrogate: refused by field name here rather than by the database (a 500) later. None passes.
Storable = AfterValidator(_storable)


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


Uscc = Annotated[
    str,
    BeforeValidator(_strip),
    Field(min_length=1, max_length=32, examples=["91500103MA5U7XXXXH"]),
    AfterValidator(validate_uscc),
]
# 项目代码 of the national 投资项目在线审批监管平台: year, the filing authority's division, industry, type, serial.
PROJECT_CODE_SHAPE = re.compile(r"(\d{4})-(\d{6})-(\d{2})-(\d{2})-(\d{6})")
CITY_DIVISION = "500000"


def project_code_problem(code: str) -> str | None:
    """Why `code` is not a national investment project code (项目代码 of the 投资项目在线审批监管平台) of Chongqing."""
    match = PROJECT_CODE_SHAPE.fullmatch(code)
    if match is None:
        return "a project code (项目代码) has the shape YYYY-XXXXXX-NN-NN-NNNNNN, e.g. 2024-500103-65-03-012345"
    year, division = int(match.group(1)), match.group(2)
    if not MIN_YEAR <= year <= MAX_YEAR:
        return f"the year segment {match.group(1)} is not a year of {MIN_YEAR}–{MAX_YEAR}"
    if division not in DISTRICT_CODES and division != CITY_DIVISION:
        return f"the division segment {division} is neither one of Chongqing's 38 districts nor the city (500000)"
    return None


def _project_code(code: str) -> str:
    problem = project_code_problem(code)
    if problem is not None:
        raise ValueError(problem)
    return code


# Documented as the named enums of shared.openapi (one type each in generated clients); validated here, with messages
# that say what the codes are rather than pydantic's list of 38 literals.
DistrictCode = Annotated[
    str, BeforeValidator(_strip), AfterValidator(_known_district), Field(json_schema_extra=named("DistrictCode"))
]
SectorCode = Annotated[
    str, BeforeValidator(_strip), AfterValidator(_known_sector), Field(json_schema_extra=named("SectorCode"))
]
Year = Annotated[int, Field(ge=MIN_YEAR, le=MAX_YEAR)]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_printable)
]
ProjectCode = Annotated[
    str,
    BeforeValidator(_strip),
    Field(max_length=32, examples=["2024-500103-65-03-012345"]),
    AfterValidator(_project_code),
]
