"""Money: exact Decimal yuan with two places, JSON strings, half-up rounding to the fen."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

FEN = Decimal("0.01")
# numeric(18, 2) in the database: sixteen digits of yuan.
MAX_YUAN = Decimal("9999999999999999.99")
# A binary float of this magnitude or less with at most two decimals round-trips exactly through repr.
_FLOAT_EXACT_LIMIT = 10**13


def round_fen(value: Decimal) -> Decimal:
    """Round half-up to the fen (0.01 yuan), as the policy's money rule requires."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def format_yuan(value: Decimal) -> str:
    return f"{round_fen(value):.2f}"


def parse_yuan(value: Any) -> Decimal:
    """Parse a money amount given as a decimal string, an integer, or a float that is exactly representable.

    Raises ValueError with a message fit for the caller.
    """
    if isinstance(value, bool):
        raise ValueError('money must be a decimal string such as "1234.50", not a boolean')
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("money must be a finite number")
        amount = Decimal(repr(value))
        if abs(value) > _FLOAT_EXACT_LIMIT or amount.as_tuple().exponent < -2:  # type: ignore[operator]
            raise ValueError(
                'this number cannot be represented exactly as money; send it as a decimal string such as "1234.50"'
            )
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal amount of yuan") from None
    else:
        raise ValueError('money must be a decimal string such as "1234.50"')
    if not amount.is_finite():
        raise ValueError("money must be a finite number")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("money has at most two decimal places (fen)")
    if amount < 0:
        raise ValueError("money must not be negative")
    if amount > MAX_YUAN:
        raise ValueError(f"money must not exceed {MAX_YUAN}")
    quantized = amount.quantize(FEN)
    # "-0.00" is zero: never stored, compared or shown as a negative zero.
    return abs(quantized) if quantized.is_zero() else quantized


Yuan = Annotated[
    Decimal,
    BeforeValidator(parse_yuan),
    PlainSerializer(format_yuan, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,16}\.\d{2}$", "examples": ["5000000.00"]}),
]

# For values read back from the database, already exact: serialised like Yuan, without re-parsing.
StoredYuan = Annotated[
    Decimal,
    PlainSerializer(format_yuan, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,16}\.\d{2}$", "examples": ["5000000.00"]}),
]
