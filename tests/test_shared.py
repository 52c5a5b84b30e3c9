"""The common library: money, credit codes, database errors (principal signatures: test_signatures.py)."""

import gc
import threading
from decimal import Decimal

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from shared.errors import DatabaseUnavailable, database_away
from shared.money import format_yuan, parse_yuan, round_fen
from shared.perf import gc_paused
from shared.uscc import make_uscc, uscc_problem

SECRET = "s3cret"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("5000000", "5000000.00"), ("0.1", "0.10"), (12, "12.00"), (0.1, "0.10"), (1234.5, "1234.50"), (" 7.05 ", "7.05")],
)
def test_money_parses_exact_amounts(given, expected):
    assert format_yuan(parse_yuan(given)) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("1.005", "at most two decimal places"),
        (1.005, "cannot be represented exactly"),
        (1e15 + 0.5, "cannot be represented exactly"),
        ("-1", "must not be negative"),
        ("abc", "not a decimal amount"),
        ("NaN", "finite"),
        (float("inf"), "finite"),
        (True, "not a boolean"),
        ("99999999999999999", "must not exceed"),
    ],
)
def test_money_refuses_inexact_or_invalid_amounts(given, message):
    with pytest.raises(ValueError, match=message):
        parse_yuan(given)


def test_rounding_is_half_up_to_the_fen():
    # POLICY.md: ratios apply to the verified amount and round half-up to the fen.
    assert round_fen(Decimal("0.005")) == Decimal("0.01")
    assert round_fen(Decimal("2.675")) == Decimal("2.68")
    assert round_fen(Decimal("2.665")) == Decimal("2.67")
    assert round_fen(Decimal("-0.005")) == Decimal("-0.01")


def test_credit_code_checksum_matches_gb_32100_examples():
    # Published codes whose check characters were computed by the registration authorities.
    assert uscc_problem("91350100M000100Y43") is None
    assert uscc_problem("9144030071526726XG") is None
    # The check character worked by hand for 91500000MA5U0000A: Σ(value × weight) mod 31 = 4, 31 − 4 = 27 → 'U'.
    assert make_uscc("91500000MA5U0000A") == "91500000MA5U0000AU"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100Y44", "check character"),
        ("91350100M000100I43", "alphabet"),
        ("91350100m000100Y43", "alphabet"),
    ],
)
def test_credit_code_problems_are_named(code, message):
    problem = uscc_problem(code)
    assert problem is not None and message in problem


class DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "away"),
    [
        (DatabaseUnavailable(), True),  # the connection refused (shared.db)
        (OperationalError("SELECT 1", {}, DriverError("")), True),
        (DBAPIError("SELECT 1", {}, DriverError("57P01")), True),  # terminating connection: administrator command
        (DBAPIError("SELECT 1", {}, DriverError("57P03")), True),  # the database system is starting up
        (DBAPIError("SELECT 1", {}, DriverError("08006")), True),  # connection failure
        (DBAPIError("SELECT 1", {}, DriverError("53300")), True),  # too many connections: the budget is spent
        (DBAPIError("SELECT 1", {}, DriverError("53200")), False),  # out of memory: not a connection refused
        (DBAPIError("SELECT 1", {}, DriverError("42P01")), False),  # undefined table: a bug, a 500
        (IntegrityError("INSERT", {}, DriverError("23505")), False),  # a 409
        (ValueError("x"), False),
    ],
)
def test_which_errors_mean_the_database_is_away(error: Exception, away: bool) -> None:
    assert database_away(error) is away


@pytest.mark.parametrize("key", ["abc", True, 0, -1, 2**63, 1.5, [1], None, {"id": 1}])
def test_an_id_cursor_that_no_page_issued_is_a_422_naming_the_cursor(key):
    from shared.errors import InvalidInput
    from shared.pagination import encode_cursor, id_cursor

    with pytest.raises(InvalidInput) as caught:
        id_cursor(encode_cursor(key))
    assert caught.value.errors == [{"loc": ["query", "cursor"], "msg": "invalid cursor"}]


def test_id_and_text_cursors_round_trip_within_their_columns():
    from shared.errors import InvalidInput
    from shared.pagination import MAX_ID, MAX_INTEGER_ID, encode_cursor, id_cursor, text_cursor

    assert id_cursor(None) is None and id_cursor(encode_cursor(MAX_ID)) == MAX_ID
    assert id_cursor(encode_cursor(MAX_INTEGER_ID), MAX_INTEGER_ID) == MAX_INTEGER_ID
    with pytest.raises(InvalidInput):
        id_cursor(encode_cursor(MAX_INTEGER_ID + 1), MAX_INTEGER_ID)  # beyond an integer id column
    assert text_cursor(encode_cursor("91500103MA5U7XXXX0")) == "91500103MA5U7XXXX0"
    for bad in (7, "x" * 65, "a\x00b"):
        with pytest.raises(InvalidInput):
            text_cursor(encode_cursor(bad))


@pytest.mark.parametrize("text", ["-0.00", "-0", "-0.0"])
def test_negative_zero_is_zero(text):
    amount = parse_yuan(text)
    assert amount == 0 and not amount.is_signed() and format_yuan(amount) == "0.00"


@pytest.mark.parametrize(
    ("secret", "fragment"),
    [
        ("x", "at least 32 characters"),
        ("internal-secret", "at least 32 characters"),
        ("replace-with-a-long-random-value", "a value the repository shows"),
        ("development-internal-secret-do-not-use-in-production", "a value the repository shows"),
    ],
)
def test_production_refuses_a_short_or_known_internal_secret(monkeypatch, secret, fragment):
    from pydantic import ValidationError

    from shared.settings import ServiceSettings

    monkeypatch.setenv("INTERNAL_SECRET", secret)
    with pytest.raises(ValidationError, match=fragment):
        ServiceSettings(environment="production", database_url="postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("INTERNAL_SECRET", "8f2d6c1e9b7a43f0a5e2c8d1b6f4a9e3")
    assert ServiceSettings(environment="production", database_url="postgresql+asyncpg://u@h/db").internal.secret


def test_production_holds_the_previous_internal_secret_to_the_same_rules(monkeypatch):
    from pydantic import ValidationError

    from shared.settings import ServiceSettings

    current = "8f2d6c1e9b7a43f0a5e2c8d1b6f4a9e3"
    monkeypatch.setenv("INTERNAL_SECRET", current)
    for previous, fragment in (
        ("short", "INTERNAL_PREVIOUS_SECRET must have at least 32 characters"),
        ("replace-with-a-long-random-value", "INTERNAL_PREVIOUS_SECRET is a value the repository shows"),
        (current, "INTERNAL_PREVIOUS_SECRET is the current secret"),
    ):
        monkeypatch.setenv("INTERNAL_PREVIOUS_SECRET", previous)
        with pytest.raises(ValidationError, match=fragment):
            ServiceSettings(environment="production", database_url="postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("INTERNAL_PREVIOUS_SECRET", "0b9c4e7f2a6d48e1b3c5f8a9d2e7c4b1")
    settings = ServiceSettings(environment="production", database_url="postgresql+asyncpg://u@h/db")
    assert settings.internal.previous_secret == "0b9c4e7f2a6d48e1b3c5f8a9d2e7c4b1"


def test_production_refuses_a_short_or_known_metrics_token(monkeypatch):
    from pydantic import ValidationError

    from shared.settings import ServiceSettings

    monkeypatch.setenv("INTERNAL_SECRET", "8f2d6c1e9b7a43f0a5e2c8d1b6f4a9e3")
    production = {"environment": "production", "database_url": "postgresql+asyncpg://u@h/db"}
    monkeypatch.setenv("METRICS_TOKEN", "prometheus")
    with pytest.raises(ValidationError, match="METRICS_TOKEN must have at least 32 characters"):
        ServiceSettings(**production)
    monkeypatch.setenv("METRICS_TOKEN", "replace-with-a-long-random-value")
    with pytest.raises(ValidationError, match="METRICS_TOKEN is a value the repository shows"):
        ServiceSettings(**production)
    monkeypatch.setenv("METRICS_TOKEN", "prometheus")
    assert ServiceSettings(database_url="postgresql+asyncpg://u@h/db").metrics_token == "prometheus"  # development
    monkeypatch.setenv("METRICS_TOKEN", "5d0c8e2b7f1a49c6b3e8d4f2a7c1e9b0")
    assert ServiceSettings(**production).metrics_token == "5d0c8e2b7f1a49c6b3e8d4f2a7c1e9b0"


def test_the_migration_url_is_the_runtime_url_unless_an_owner_role_is_named():
    from shared.settings import ServiceSettings

    runtime = "postgresql+asyncpg://registry@h/registry"
    assert ServiceSettings(database_url=runtime).migration_database_url == runtime
    owner = "postgresql+asyncpg://registry_owner@h/registry"
    assert ServiceSettings(database_url=runtime, migration_database_url=owner).migration_database_url == owner


def test_a_service_without_a_database_url_refuses_to_start_and_names_the_variable(monkeypatch):
    from pydantic import ValidationError

    from services.registry.settings import RegistrySettings

    monkeypatch.delenv("REGISTRY_DATABASE_URL", raising=False)
    with pytest.raises(ValidationError, match="no database URL for registry: set REGISTRY_DATABASE_URL"):
        RegistrySettings(environment="development")


def test_overlapping_collector_pauses_leave_it_running_when_the_last_ends():
    """Two bursts in two threads, the second beginning while the first has the collector paused and ending after it:
    the collector runs again once both are done (each restoring what it saw would leave it off for good)."""
    assert gc.isenabled()
    first_paused, first_done = threading.Event(), threading.Event()

    def first() -> None:
        with gc_paused():
            first_paused.set()
            second_started.wait(5)
        first_done.set()

    second_started = threading.Event()
    worker = threading.Thread(target=first)
    worker.start()
    first_paused.wait(5)
    with gc_paused():
        second_started.set()
        first_done.wait(5)
        assert not gc.isenabled()  # the second burst still runs
    worker.join(5)
    assert gc.isenabled()
