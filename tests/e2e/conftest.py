"""The real stack for end-to-end tests (tests/stack.py), once per session: rate limits shared through Redis,
a short upstream read timeout so that a hung service is seen quickly."""

from collections.abc import Iterator

import httpx
import pytest

from tests.stack import Stack, launch_stack

__all__ = ["RATE_BURST", "RATE_PER_SECOND", "READ_TIMEOUT_SECONDS", "REDIS_URL", "Stack"]

REDIS_URL = "redis://127.0.0.1:6379/0"
READ_TIMEOUT_SECONDS = 2.0
RATE_PER_SECOND = 20
RATE_BURST = 60


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {
        "GATEWAY_REDIS_URL": REDIS_URL,
        "GATEWAY_UPSTREAM_READ_TIMEOUT": str(READ_TIMEOUT_SECONDS),
        "GATEWAY_PROBE_TIMEOUT": "1",
        # The readiness probes run this often, so that a test waiting for the gateway to see a change waits little.
        "GATEWAY_UPSTREAM_PROBE_INTERVAL": "0.5",
        "GATEWAY_KEY_CACHE_SECONDS": "0",
        "GATEWAY_RATE_LIMIT_PER_SECOND": str(RATE_PER_SECOND),
        "GATEWAY_RATE_LIMIT_BURST": str(RATE_BURST),
        # Every caller without a valid key shares the loopback address's bucket: the matrix sends many.
        "GATEWAY_ANONYMOUS_RATE_LIMIT_PER_SECOND": "100",
        "GATEWAY_ANONYMOUS_RATE_LIMIT_BURST": "300",
        # …and many wrong keys: failed authentications from the loopback are not what this stack measures.
        "GATEWAY_AUTH_FAILURE_BURST": "100000",
        "GATEWAY_AUTH_FAILURE_PER_SECOND": "1000",
        "GATEWAY_CORS_ORIGINS": "https://screens.cq.example",
        # Webhooks to the tests' receiver on the loopback (tests/receiver.py), retried within seconds, not hours;
        # the relay and the workers quick to notice; jobs of a killed worker taken up again after 3 s.
        "NOTIFICATIONS_ALLOWED_NETWORKS": "127.0.0.0/8",
        # Large imports stay synchronous here unless they ask (their bounds and faults are what these tests see);
        # tests/jobs and test_notifications see the jobs.
        "REGISTRY_IMPORT_ASYNC_THRESHOLD_BYTES": "0",
        "NOTIFICATIONS_RETRY_SCHEDULE_SECONDS": "1,1,2,2,3",
        "NOTIFICATIONS_RELAY_POLL_SECONDS": "0.2",
        "NOTIFICATIONS_WORKER_POLL_SECONDS": "0.5",
        **{
            f"{service}_WORKER_{setting}": value
            for service in ("REGISTRY", "ELIGIBILITY", "NOTIFICATIONS")
            for setting, value in (("HEARTBEAT_SECONDS", "1"), ("STALLED_AFTER_SECONDS", "3"))
        },
    }
    with launch_stack(tmp_path_factory.mktemp("e2e-logs"), env) as result:
        yield result


@pytest.fixture(scope="session")
def city(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client(stack.keys["city"]) as client:
        yield client
