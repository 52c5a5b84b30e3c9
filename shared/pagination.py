"""Opaque keyset cursors: the last row's sort key, base64url-encoded JSON.

A listing's router takes the cursor already decoded and validated, through one of the dependencies below
(`AfterId`, `AfterIntegerId`, `AfterText`, or `cursor_after(type)` for a composite key): a cursor this service
did not issue is a 422 problem naming `cursor` before the service or the database sees it. The service answers with
`page_of(rows, limit, key)`.
"""

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from pydantic import StrictInt, StrictStr, TypeAdapter

from shared.errors import InvalidInput, field_error
from shared.identifiers import Storable

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")]
CursorQuery = Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page")]

# Row ids are at most PostgreSQL's bigint (integer for some tables): a cursor beyond its column would reach the
# database as an overflow, a 500, rather than a 422.
MAX_ID = 2**63 - 1
MAX_INTEGER_ID = 2**31 - 1

Key = TypeVar("Key")
Row = TypeVar("Row")

_INTEGER: TypeAdapter[int] = TypeAdapter(StrictInt)
# PostgreSQL compares text without NUL: such a key would be a 500 there.
_TEXT: TypeAdapter[str] = TypeAdapter(Annotated[StrictStr, Storable])


def encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def _invalid_cursor() -> InvalidInput:
    return InvalidInput(
        "The cursor is not one this service issued.", errors=[field_error(["query", "cursor"], "invalid cursor")]
    )


def decode_cursor(cursor: str, key: TypeAdapter[Key]) -> Key:
    """The key a cursor carries, validated strictly against its type; a 422 naming the cursor for anything else."""
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode())
        return key.validate_json(raw, strict=True)
    except (binascii.Error, ValueError):  # pydantic's ValidationError is a ValueError
        raise _invalid_cursor() from None


def id_cursor(cursor: str | None, maximum: int = MAX_ID) -> int | None:
    """The row id a cursor carries (None without one), within its column."""
    if cursor is None:
        return None
    key = decode_cursor(cursor, _INTEGER)
    if not 1 <= key <= maximum:
        raise _invalid_cursor()
    return key


def text_cursor(cursor: str | None, max_length: int = 64) -> str | None:
    """The text key a cursor carries (e.g. a credit code)."""
    if cursor is None:
        return None
    key = decode_cursor(cursor, _TEXT)
    if len(key) > max_length:
        raise _invalid_cursor()
    return key


def cursor_after(key_type: Any) -> Callable[[str | None], Awaitable[Any]]:
    """A dependency for a composite key (e.g. `tuple[Kind, str]`): the previous page's last key, or None."""
    key: TypeAdapter[Any] = TypeAdapter(key_type)

    async def after(cursor: CursorQuery = None) -> Any:
        return None if cursor is None else decode_cursor(cursor, key)

    return after


# Coroutines, so that FastAPI runs them on the event loop rather than in its thread pool.
async def _after_id(cursor: CursorQuery = None) -> int | None:
    return id_cursor(cursor)


async def _after_integer_id(cursor: CursorQuery = None) -> int | None:
    return id_cursor(cursor, MAX_INTEGER_ID)


async def _after_text(cursor: CursorQuery = None) -> str | None:
    return text_cursor(cursor)


# The key of the previous page's last row: a bigint id, an integer id, a text key (a credit code).
AfterId = Annotated[int | None, Depends(_after_id)]
AfterIntegerId = Annotated[int | None, Depends(_after_integer_id)]
AfterText = Annotated[str | None, Depends(_after_text)]


def next_cursor(rows: Sequence[Row], limit: int, key: Callable[[Row], Any]) -> str | None:
    """Rows are fetched with limit + 1: a surplus row means there is a next page, after the page's last key."""
    return encode_cursor(key(rows[limit - 1])) if len(rows) > limit else None


def page_of(rows: Sequence[Row], limit: int, key: Callable[[Row], Any]) -> dict[str, Any]:
    """A page of plain rows as a dict, for the page model to validate at once in pydantic's core (far faster than
    one model per row)."""
    return {"items": rows[:limit], "next_cursor": next_cursor(rows, limit, key)}
