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


def decode_cursor(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput(
            "The cursor is not one this service issued.", errors=[field_error(["query", "cursor"], "invalid cursor")]
        ) from None
