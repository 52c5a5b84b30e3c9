"""`make bench`: runs every bench module (or those named) and reports every figure beside its target and ceiling.

    python -m tests.bench [--format both|json|table] [--no-save] [MODULE ...]
    python -m tests.bench --from var/bench/report-….json [--format table]

The JSON document goes to standard output (so `make bench > report.json` keeps it machine-readable) and is saved
as var/bench/report-<UTC time>.json; the table goes to standard error (`--format both`, the default), or to
standard output alone (`--format table`). Each module exposes `async def run() -> {"figures": [...], "detail": {...}}`;
modules whose name starts with "_" are helpers. A module that fails is reported and the others still run; the
exit status is then 1.
"""

import argparse
import asyncio
import importlib
import json
import os
import pkgutil
import platform
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn

import tests.bench as bench_package
from shared.settings import PROJECT_ROOT, VAR_DIR
from tests.bench._report import SPECS, complete, dumps, not_measured, render
from tests.support import postgres_admin_url

REPORT_DIR = VAR_DIR / "bench"


def _modules() -> list[str]:
    """The bench modules, in the order of the issues that name their figures, then any others by name."""
    present = {info.name for info in pkgutil.iter_modules(bench_package.__path__) if not info.name.startswith("_")}
    ordered = list(dict.fromkeys(spec.module for spec in SPECS if spec.module in present))
    return ordered + sorted(present - set(ordered))


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+changes" if dirty else head


def _postgres_version() -> str | None:
    async def ask() -> str:
        connection = await asyncpg.connect(postgres_admin_url())
        try:
            return str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()

    try:
        return asyncio.run(ask())
    except (OSError, asyncpg.PostgresError):
        return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def run_modules(names: list[str]) -> dict[str, Any]:
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    machine: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "uvicorn": uvicorn.__version__,
        "postgresql": _postgres_version(),
        "load_average_start": _load(),
    }
    figures: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in names:
        print(f"bench: {name} …", file=sys.stderr, flush=True)
        module_started = time.perf_counter()
        try:
            module = importlib.import_module(f"tests.bench.{name}")
            result = asyncio.run(module.run())
        except Exception:
            errors[name] = traceback.format_exc()
            print(errors[name], file=sys.stderr, flush=True)
            figures += not_measured(name, "the module failed; see errors")
            continue
        seconds = round(time.perf_counter() - module_started, 1)
        details[name] = {**result.get("detail", {}), "module_seconds": seconds}
        if "skipped" in result:
            figures += not_measured(name, result["skipped"])
        else:
            figures += complete(name, result["figures"])
        print(f"bench: {name} done in {seconds} s", file=sys.stderr, flush=True)
    machine["load_average_end"] = _load()
    return {
        "report": "make bench",
        "started_at": started_at.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 1),
        "commit": _commit(),
        "modules": names,
        "machine": machine,
        "ratio_to_ceiling": "fraction of the ceiling achieved: measured/ceiling for rates, ceiling/measured for "
        "times; the ceiling is measured in the same run (docs/performance.md)",
        "figures": figures,
        "details": details,
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help=f"bench modules to run (default all: {', '.join(_modules())})")
    parser.add_argument("--format", choices=("both", "json", "table"), default="both")
    parser.add_argument("--from", dest="source", type=Path, help="render a saved report instead of running")
    parser.add_argument("--no-save", action="store_true", help=f"do not write the report under {REPORT_DIR}")
    arguments = parser.parse_args()

    if arguments.source is not None:
        document = json.loads(arguments.source.read_text())
    else:
        unknown = sorted(set(arguments.modules) - set(_modules()))
        if unknown:
            parser.error(f"no bench module {', '.join(unknown)}; there are {', '.join(_modules())}")
        names = [name for name in _modules() if not arguments.modules or name in arguments.modules]
        document = run_modules(names)
        if not arguments.no_save:
            REPORT_DIR.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            path = REPORT_DIR / f"report-{stamp}.json"
            path.write_text(dumps(document) + "\n")
            print(f"bench: report saved to {path.relative_to(PROJECT_ROOT)}", file=sys.stderr, flush=True)

    if arguments.format in ("both", "json"):
        print(dumps(document), flush=True)
    if arguments.format == "both":
        print("\n" + render(document), file=sys.stderr, flush=True)
    elif arguments.format == "table":
        print(render(document), flush=True)
    if document.get("errors"):
        sys.exit(1)


if __name__ == "__main__":
    main()
