"""A worker's health check: `python -m deploy.worker_health [--max-age 60] [FILE]`.

The workers (`python -m services.<name>.worker`) serve no HTTP. Each touches its health file (`WORKER_HEALTH_FILE`)
after every heartbeat that reached its database (shared.queue.run_worker), so a file younger than `--max-age`
seconds means the process runs, its event loop turns and its database answers. Exit 0 then; otherwise exit 1 with
one line saying why (the compose healthcheck and the Kubernetes liveness probe show it). Only the standard library:
the probe runs every few seconds and must start fast.
"""

import argparse
import os
import sys
import time
from pathlib import Path

HEALTH_FILE_VARIABLE = "WORKER_HEALTH_FILE"
DEFAULT_MAX_AGE_SECONDS = 60.0


def check(path: Path, max_age_seconds: float, now: float | None = None) -> str | None:
    """None when `path` was touched within `max_age_seconds`; otherwise why not."""
    try:
        touched = path.stat().st_mtime
    except FileNotFoundError:
        return f"{path} does not exist: the worker has not reached its database since it started"
    except OSError as error:
        return f"{path} cannot be read: {error.strerror or error}"
    age = (time.time() if now is None else now) - touched
    if age > max_age_seconds:
        return (
            f"{path} was last touched {age:.0f} s ago (more than {max_age_seconds:g} s): the worker is stuck or "
            "cannot reach its database"
        )
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.worker_health", description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, help=f"the health file (default: ${HEALTH_FILE_VARIABLE})")
    parser.add_argument("--max-age", type=float, default=DEFAULT_MAX_AGE_SECONDS, help="seconds (default 60)")
    arguments = parser.parse_args(argv)
    if arguments.max_age <= 0:
        parser.error("--max-age must be positive")
    path: Path | None = arguments.file
    if path is None:
        configured = os.environ.get(HEALTH_FILE_VARIABLE, "")
        if not configured:
            print(f"worker_health: no file given and {HEALTH_FILE_VARIABLE} is not set", file=sys.stderr)
            return 2
        path = Path(configured)
    problem = check(path, arguments.max_age)
    if problem is not None:
        print(f"worker_health: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
