"""The workers' health check (deploy/worker_health.py): the exec probe of compose and Kubernetes."""

import os
import subprocess
import sys
import time
from pathlib import Path

from deploy.worker_health import check, main
from shared.settings import PROJECT_ROOT


def test_a_fresh_file_is_healthy_and_a_stale_or_missing_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "worker-health"
    assert check(path, 60) is not None and "does not exist" in str(check(path, 60))
    path.touch()
    assert check(path, 60) is None
    old = time.time() - 120
    os.utime(path, (old, old))
    problem = check(path, 60)
    assert problem is not None and "120 s ago" in problem
    assert check(path, 180) is None


def test_the_command_reads_the_file_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "worker-health"
    monkeypatch.delenv("WORKER_HEALTH_FILE", raising=False)
    assert main([]) == 2  # nothing to check
    monkeypatch.setenv("WORKER_HEALTH_FILE", str(path))
    assert main([]) == 1
    path.touch()
    assert main([]) == 0
    assert main(["--max-age", "60", str(path)]) == 0
    old = time.time() - 61
    os.utime(path, (old, old))
    assert main(["--max-age", "60"]) == 1


def test_the_probe_runs_as_the_containers_run_it(tmp_path: Path) -> None:
    # The exact command of docker-compose.yml's and the manifests' probes, as a process.
    path = tmp_path / "worker-health"
    path.touch()
    command = [sys.executable, "-m", "deploy.worker_health", "--max-age", "60"]
    env = {**os.environ, "WORKER_HEALTH_FILE": str(path)}
    started = time.monotonic()
    done = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 5  # the standard library only: fast enough for a probe every few seconds
    path.unlink()
    done = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1 and "does not exist" in done.stderr
