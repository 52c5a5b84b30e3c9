"""The load test: a realistic mix through the gateway at a fixed rate (issue 8: 200 requests/s for 60 s, zero
errors, on a 2-core machine).

    python -m tests.load [--rate 200] [--seconds 60]                   # starts its own stack on PostgreSQL
    python -m tests.load --url http://127.0.0.1:8000 [--keys var/demo-keys.json]   # a running stack (make run)

The report is JSON on stdout and a table on stderr. The target is met when no request failed and the answers
kept pace with the offered rate (throughput at least 95% of it: the last answers arrive after the schedule ends).
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from shared.settings import VAR_DIR
from tests.load.runner import drive
from tests.load.world import prepare
from tests.stack import launch_stack

REDIS_URL = "redis://127.0.0.1:6379/0"
DISTRICTS = ("500103", "500105", "500106", "500112")
THROUGHPUT_SHARE = 0.95


def stack_env() -> dict[str, str]:
    """The gateway as deployed, with limits far above the offered rate: the test measures the system, not them."""
    env = {
        "GATEWAY_RATE_LIMIT_PER_SECOND": "100000",
        "GATEWAY_RATE_LIMIT_BURST": "100000",
        "GATEWAY_ANONYMOUS_RATE_LIMIT_PER_SECOND": "100000",
        "GATEWAY_ANONYMOUS_RATE_LIMIT_BURST": "100000",
        "GATEWAY_MAX_CONCURRENT_PER_CLIENT": "10000",
    }
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping()
        env["GATEWAY_REDIS_URL"] = REDIS_URL
    except redis.RedisError:
        pass
    return env


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def own_stack(logs: Path) -> Iterator[tuple[str, dict[str, Any], dict[str, int]]]:
    """The stack's gateway, its keys (in the layout of var/demo-keys.json) and the process ids."""
    specs = {"city": ("city", None), "auditor": ("auditor", None)}
    specs |= {code: ("district", code) for code in DISTRICTS}
    with launch_stack(logs, stack_env(), keys=specs) as stack:
        keys = {
            "city": stack.keys["city"],
            "auditor": stack.keys["auditor"],
            "districts": {code: stack.keys[code] for code in DISTRICTS},
        }
        pids = {name: process.popen.pid for name, process in stack.processes.items() if process.popen}
        yield stack.gateway, keys, pids


async def run(
    gateway: str, keys: dict[str, Any], rate: float, seconds: float, pids: dict[str, int] | None = None
) -> dict[str, Any]:
    world = await prepare(gateway, keys["city"], keys["auditor"], dict(keys["districts"]), rate=rate, seconds=seconds)
    processes = {**(pids or {}), "load generator": os.getpid()}
    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    report = await drive(gateway, world, rate=rate, seconds=seconds)
    # Where the CPU went, per request answered: what the 2 cores are shared between (PostgreSQL not counted).
    report["cpu_ms_per_request"] = {
        name: round((cpu_seconds(pid) - before[name]) * 1000 / max(1, report["requests"]), 2)
        for name, pid in processes.items()
    }
    report["target"] = {
        "rate_per_s": rate,
        "errors": 0,
        "met": report["errors"] == 0 and report["throughput_per_s"] >= THROUGHPUT_SHARE * rate,
    }
    return report


def table(report: dict[str, Any]) -> str:
    lines = [
        f"offered {report['offered_rate_per_s']}/s for {report['duration_s']} s: {report['requests']} requests, "
        f"throughput {report['throughput_per_s']}/s, errors {report['errors']}, "
        f"p50 {report['p50_ms']} ms, p95 {report['p95_ms']} ms, p99 {report['p99_ms']} ms, "
        f"max send lag {report['max_send_lag_ms']} ms — target {'met' if report['target']['met'] else 'NOT met'}",
        "",
        f"{'operation':<52} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}",
    ]
    for name, figures in report["operations"].items():
        lines.append(
            f"{name:<52} {figures['requests']:>8} {figures['errors']:>6} "
            f"{figures['p50_ms']:>8} {figures['p95_ms']:>8} {figures['p99_ms']:>8}"
        )
    cpu = ", ".join(f"{name} {ms}" for name, ms in report["cpu_ms_per_request"].items())
    lines.append(f"\nCPU ms per request: {cpu}")
    lines.extend(f"error: {sample}" for sample in report["error_samples"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests a second (default 200)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long (default 60)")
    parser.add_argument("--url", help="a running gateway; by default a stack of its own is started")
    parser.add_argument("--keys", type=Path, default=VAR_DIR / "demo-keys.json", help="keys file, with --url")
    args = parser.parse_args(argv)

    if args.url:
        keys = json.loads(args.keys.read_text(encoding="utf-8"))
        report = asyncio.run(run(args.url, keys, args.rate, args.seconds))
    else:
        logs = Path(tempfile.mkdtemp(prefix="load-"))
        print(f"load: starting the stack (logs in {logs}) …", file=sys.stderr, flush=True)
        with own_stack(logs) as (gateway, keys, pids):
            report = asyncio.run(run(gateway, keys, args.rate, args.seconds, pids))
        report["logs"] = str(logs)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    print(table(report), file=sys.stderr)
    return 0 if report["target"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
