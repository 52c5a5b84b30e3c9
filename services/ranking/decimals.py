"""Exact decimal arithmetic for rankings: one context, six places on the way out."""

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

PLACES = Decimal("0.000001")
# Every run computes in this context whatever the process's default, so the same inputs give the same digits.
CONTEXT = Context(prec=34, rounding=ROUND_HALF_EVEN)


@contextmanager
def exact() -> Iterator[None]:
    with localcontext(CONTEXT):
        yield


def six_places(value: Decimal) -> Decimal:
    """Rounded half-up to six places, as scores are published and compared (never "-0.000000")."""
    rounded = value.quantize(PLACES, rounding=ROUND_HALF_UP)
    return abs(rounded) if rounded.is_zero() else rounded


def six_places_text(value: Decimal) -> str:
    return f"{six_places(value):.6f}"


# A decimal carried in JSON as a string with six places, e.g. "0.734512".
Six = Annotated[
    Decimal,
    PlainSerializer(six_places_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+\.\d{6}$", "examples": ["0.734512"]}),
]
