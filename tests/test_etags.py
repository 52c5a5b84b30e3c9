"""If-Match as the routers read it (shared.etags): the versions a request expects, or None for any."""

import pytest

from shared.etags import etag, expected_versions


async def test_a_version_is_written_as_a_strong_tag_and_read_back() -> None:
    assert etag(7) == '"7"'
    assert await expected_versions(etag(7)) == frozenset({7})


@pytest.mark.parametrize(
    ("header", "versions"),
    [
        (None, None),  # no precondition
        ("*", None),
        ('"1", *', None),
        ('"1", "3"', frozenset({1, 3})),
        (' "2" ,"2"', frozenset({2})),
        ('W/"1"', frozenset()),  # a weak tag never matches a write's precondition
        ("1", frozenset()),  # not a tag
        ('"abc"', frozenset()),  # not a tag of ours
        ('"١"', frozenset()),  # a decimal digit, but not ASCII
        ('"01"', frozenset()),  # tags compare as text: this is not the tag of version 1
        ("", frozenset()),
    ],
)
async def test_the_versions_an_if_match_header_accepts(header: str | None, versions: frozenset[int] | None) -> None:
    assert await expected_versions(header) == versions
