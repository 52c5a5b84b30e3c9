"""Validated identifier types for request models: credit codes, district and sector codes, years, names."""

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

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
    Field(min_length=1, max_length=32, examples=["91500103MA5U7XXXX0"]),
    AfterValidator(validate_uscc),
]
DistrictCode = Annotated[str, BeforeValidator(_strip), AfterValidator(_known_district), Field(examples=["500103"])]
SectorCode = Annotated[str, BeforeValidator(_strip), AfterValidator(_known_sector), Field(examples=["software_it"])]
Year = Annotated[int, Field(ge=MIN_YEAR, le=MAX_YEAR)]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_printable)
]
