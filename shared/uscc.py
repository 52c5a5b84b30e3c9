"""The unified social credit code (统一社会信用代码), GB 32100-2015."""

import re
from operator import mul

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUES = {char: index for index, char in enumerate(ALPHABET)}
_WELL_FORMED = re.compile(f"[{re.escape(ALPHABET)}]{{18}}")
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28


def check_character(first17: str) -> str:
    total = sum(map(mul, map(_VALUES.__getitem__, first17), WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """Why `code` is not a valid credit code, or None if it is."""
    if len(code) != 18:
        return f"a credit code has 18 characters, this one has {len(code)}"
    if _WELL_FORMED.fullmatch(code) is None:
        bad = sorted({char for char in code if char not in _VALUES})
        return f"characters {''.join(bad)!r} are not in the credit-code alphabet (digits and A–Y without I, O, S, V, Z)"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"the check character is {code[17]!r} but the first 17 characters give {expected!r}"
    return None


def validate_uscc(code: str) -> str:
    """Pydantic-style validator: upper-cases, checks and returns the code, or raises ValueError."""
    normalised = code.strip().upper()
    problem = uscc_problem(normalised)
    if problem is not None:
        raise ValueError(problem)
    return normalised


def make_uscc(first17: str) -> str:
    """A valid code from its first 17 characters (for demo data and tests)."""
    return first17 + check_character(first17)
