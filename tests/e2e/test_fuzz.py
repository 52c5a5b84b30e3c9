"""Fuzzing the merged OpenAPI document through the gateway with a city key (schemathesis, bounded for CI):
no answer is a 5xx, every answer has a documented content type and matches its documented schema.
`make fuzz` runs it with FUZZ_EXAMPLES (default 100) examples per operation instead of 8."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "8"))
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"


def test_no_operation_answers_a_server_error_or_breaks_its_schema(stack: Stack, tmp_path: Path):
    schemathesis = Path(sys.executable).with_name("st")
    result = subprocess.run(
        [
            str(schemathesis),
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
