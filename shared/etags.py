"""Entity tags of versioned records and the If-Match precondition, both read and written by routers: services take
the versions a request expects and return the version a record is at, never header text."""

from typing import Annotated

from fastapi import Depends, Header


def etag(version: int) -> str:
    return f'"{version}"'


def _version(tag: str) -> int | None:
    """The version a strong tag of ours names (`"3"`); None for any other tag, which no version matches. Tags compare
    character by character (RFC 9110 §8.8.3.2): `"03"` is not the tag of version 3."""
    if len(tag) >= 3 and tag[0] == tag[-1] == '"' and tag[1:-1].isdecimal() and tag[1:-1].isascii():
        version = int(tag[1:-1])
        return version if etag(version) == tag else None
    return None


async def expected_versions(
    if_match: Annotated[
        str | None,
        Header(alias="If-Match", max_length=1024, description="The record's ETag, sent back to change it safely"),
    ] = None,
) -> frozenset[int] | None:
    """The versions an If-Match header accepts: None when any will do (no header, or `*`). A coroutine, so that
    FastAPI runs it on the event loop rather than in its thread pool."""
    if if_match is None:
        return None
    tags = [tag.strip() for tag in if_match.split(",")]
    if "*" in tags:
        return None
    return frozenset(version for tag in tags if (version := _version(tag)) is not None)


# A dependency: None (any version) or the versions the caller's If-Match names (empty: none matches).
IfMatchDep = Annotated[frozenset[int] | None, Depends(expected_versions)]
