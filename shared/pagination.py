"""Opaque keyset cursors: the last row's sort key, base64url-encoded JSON."""

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import Query

from shared.errors import InvalidInput, field_error

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")]
CursorQuery = Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page")]


def encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


# Row ids are at most PostgreSQL's bigint (integer for some tables): a cursor beyond its column would reach the
# database as an overflow, a 500, rather than a 422.
MAX_ID = 2**63 - 1
MAX_INTEGER_ID = 2**31 - 1


def _invalid_cursor() -> InvalidInput:
    return InvalidInput(
        "The cursor is not one this service issued.", errors=[field_error(["query", "cursor"], "invalid cursor")]
    )


def id_cursor(cursor: str | None, maximum: int = MAX_ID) -> int | None:
    """The row id a cursor carries (None without one); a 422 naming the cursor for anything else."""
    if cursor is None:
        return None
    key = decode_cursor(cursor)
    if not isinstance(key, int) or isinstance(key, bool) or not 1 <= key <= maximum:
        raise _invalid_cursor()
    return key


def text_cursor(cursor: str | None, max_length: int = 64) -> str | None:
    """The text key a cursor carries (e.g. a credit code); a 422 naming the cursor for anything else."""
    if cursor is None:
        return None
    key = decode_cursor(cursor)
    if not isinstance(key, str) or len(key) > max_length or "\x00" in key:
        raise _invalid_cursor()
    return key


def decode_cursor(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise _invalid_cursor() from None
