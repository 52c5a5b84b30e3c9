"""Fuzzing the merged OpenAPI document through the gateway with a city key (schemathesis, bounded for CI):
no answer is a 5xx, every answer has a documented content type and matches its documented schema.
`make fuzz` runs it with FUZZ_EXAMPLES (default 100) examples per operation instead of 8."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import RATE_BURST, RATE_PER_SECOND, REDIS_URL, Stack
from tests.stack import launch_stack

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "8"))
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"
CONFIG = Path(__file__).with_name("fuzz.toml")


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own: with named enums the fuzzer makes many valid writes (enterprises of real districts, figures
    of any year), which would change what the other tests' shared stack ranks and publishes."""
    env = {
        "GATEWAY_REDIS_URL": REDIS_URL,
        "GATEWAY_RATE_LIMIT_PER_SECOND": str(RATE_PER_SECOND),
        "GATEWAY_RATE_LIMIT_BURST": str(RATE_BURST),
    }
    with launch_stack(tmp_path_factory.mktemp("fuzz-logs"), env) as result:
        yield result


def test_no_operation_answers_a_server_error_or_breaks_its_schema(fuzzed: Stack, tmp_path: Path):
    stack = fuzzed
    schemathesis = Path(sys.executable).with_name("st")
    result = subprocess.run(
        [
            str(schemathesis),
            "--config-file",
            str(CONFIG),
            "run",
            f"{stack.gateway}/openapi.json",
            "--header",
            f"Authorization: Bearer {stack.keys['city']}",
            "--checks",
            CHECKS,
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--phases",
            "examples,fuzzing",
            "--workers",
            "1",
            "--seed",
            "20241119",
            "--suppress-health-check",
            "all",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=max(600, 60 * EXAMPLES_PER_OPERATION),
        check=False,
        cwd=tmp_path,
    )
    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary
    print(summary[-800:])
    assert " passed" in summary and "failure" not in summary.split("SUMMARY")[-1].lower(), summary
