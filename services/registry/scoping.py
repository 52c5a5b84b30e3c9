"""District scoping and paging rules every registry domain applies the same way."""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from shared.auth import Principal
from shared.errors import Forbidden
from shared.pagination import MAX_INTEGER_ID, encode_cursor, id_cursor, text_cursor

Row = TypeVar("Row")

# A refusal names the caller, never the record's district: that would tell a district who owns what.
_OWN_DISTRICT_ONLY = "The {principal} principal may {verb} only the records of its own district."


def ensure_writable(principal: Principal, district_code: str) -> None:
    if not principal.may_write_district(district_code):
        raise Forbidden(_OWN_DISTRICT_ONLY.format(principal=principal.label, verb="write"))


def ensure_readable(principal: Principal, district_code: str) -> None:
    if not principal.may_read_district(district_code):
        raise Forbidden(_OWN_DISTRICT_ONLY.format(principal=principal.label, verb="read"))


def listing_district(principal: Principal, requested: str | None) -> str | None:
    """The district a listing is restricted to: the caller's own for a district principal."""
    if principal.reads_everything:
        return requested
    if requested is not None and requested != principal.district_code:
        raise Forbidden(f"The {principal.label} principal may not list records of district {requested}.")
    return principal.district_code


def cursor_key(cursor: str | None, kind: type) -> Any:
    """The key of the last row of the previous page: a registry id (an integer column) or a credit code."""
    return id_cursor(cursor, MAX_INTEGER_ID) if kind is int else text_cursor(cursor)


def next_cursor(rows: Sequence[Row], limit: int, key: Callable[[Row], Any]) -> str | None:
    """Rows were fetched with limit + 1: a surplus row means there is a next page."""
    return encode_cursor(key(rows[limit - 1])) if len(rows) > limit else None
