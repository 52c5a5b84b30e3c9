"""The load test, bounded for CI: the whole mix through the gateway of a stack of its own, at a modest fixed rate.
Every operation of the mix is sent and none may fail; `make load` runs the full 60 s at 200 requests/s."""

import asyncio
from pathlib import Path

import pytest

from tests.load.__main__ import own_stack, run
from tests.load.mix import MIX

pytestmark = pytest.mark.e2e

RATE = 40.0
SECONDS = 8.0


def test_the_mix_at_a_fixed_rate_has_no_errors(tmp_path: Path) -> None:
    with own_stack(tmp_path) as (gateway, keys, pids):
        report = asyncio.run(run(gateway, keys, RATE, SECONDS, pids))

    assert report["requests"] == int(RATE * SECONDS)
    assert report["errors"] == 0, report["error_samples"]
    assert set(report["operations"]) == {operation.name for operation in MIX}
    assert report["statuses"].keys() <= {"200", "201"}
