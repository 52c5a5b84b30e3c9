"""Prometheus metrics of the gateway, in a registry of its own (one per app, so tests can make many apps)."""

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy.pool import Pool, QueuePool

from gateway.breaker import CircuitState
from shared.metrics import method_label

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _PoolCollector:
    """The key database's pool, read when scraped (nothing per request); no series before the pool exists."""

    def __init__(self, pool: Callable[[], Pool | None], max_connections: int) -> None:
        self.pool = pool
        self.max_connections = max_connections

    def describe(self) -> list[Metric]:
        return list(self._families(None))

    def collect(self) -> Iterator[Metric]:
        return self._families(self.pool())

    def _families(self, pool: Pool | None) -> Iterator[Metric]:
        size = GaugeMetricFamily("gateway_db_pool_size", "Connections the key database pool keeps open.")
        most = GaugeMetricFamily(
            "gateway_db_pool_max_connections", "Connections the pool may open at most (its size and its overflow)."
        )
        checked_out = GaugeMetricFamily(
            "gateway_db_pool_checked_out", "Connections in use now (key reads, last-use writes, /readyz)."
        )
        overflow = GaugeMetricFamily("gateway_db_pool_overflow", "Connections open now beyond the pool's size.")
        if isinstance(pool, QueuePool):
            size.add_metric([], pool.size())
            most.add_metric([], self.max_connections)
            checked_out.add_metric([], pool.checkedout())
            # The pool counts its overflow from minus its size (connections it has not opened yet).
            overflow.add_metric([], max(0, pool.overflow()))
        yield from (size, most, checked_out, overflow)


class GatewayMetrics:
    content_type = CONTENT_TYPE_LATEST
    # Label combinations are bounded (methods × route templates × statuses); the cache is bounded all the same.
    MAX_CACHED_CHILDREN = 10_000

    def __init__(self, pool: Callable[[], Pool | None] = lambda: None, max_connections: int = 0) -> None:
        """`pool`: the key database's pool once the lifespan has made it; `max_connections`: its size and overflow."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "gateway_requests",
            "Requests answered by the gateway, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gateway_request_duration_seconds",
            "Time from the request's arrival to the end of the response, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_latency = Histogram(
            "gateway_upstream_response_seconds",
            "Time until an upstream's response headers arrived.",
            ["upstream"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "gateway_upstream_errors",
            "Upstream requests that failed: unreachable, timeout, broken mid-response, or not deployed.",
            ["upstream", "kind"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "gateway_rate_limited",
            "Requests refused with 429, by kind of caller (key or anonymous).",
            ["caller"],
            registry=self.registry,
        )
        self.in_flight = Gauge("gateway_requests_in_flight", "Requests being answered now.", registry=self.registry)
        self.circuit_state = Gauge(
            "gateway_upstream_circuit_state",
            "The circuit breaker of each upstream: 0 closed, 1 half-open (probing), 2 open (refusing at once).",
            ["upstream"],
            registry=self.registry,
        )
        self.circuit_transitions = Counter(
            "gateway_upstream_circuit_transitions",
            "Changes of an upstream's circuit, by the state entered (closed, half_open, open).",
            ["upstream", "state"],
            registry=self.registry,
        )
        self.upstream_up = Gauge(
            "gateway_upstream_up",
            "1 when the upstream's last readiness probe answered 200 (it and its database are ready), else 0.",
            ["upstream"],
            registry=self.registry,
        )
        self.rate_limit_store_up = Gauge(
            "gateway_rate_limit_store_up",
            "1 when the rate-limit store (Redis) answered the last ping; always 1 with in-process buckets.",
            registry=self.registry,
        )
        self.rate_limit_fallback = Counter(
            "gateway_rate_limit_fallback",
            "Rate-limit decisions made with in-process buckets because Redis could not be reached.",
            registry=self.registry,
        )
        self.key_database_up = Gauge(
            "gateway_key_database_up",
            "1 when the key database answered the readiness loop's last check, else 0 (the gateway is then unready).",
            registry=self.registry,
        )
        self.registry.register(_PoolCollector(pool, max_connections))
        ProcessCollector(registry=self.registry)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        # The labelled children, looked up once per (method, route, status): labels() is a locked lookup. The key is
        # the method as it came (bounded by the cache's size), its label is normalised once, when the key is new:
        # the standard methods as they are, anything else the parser accepted (PROPFIND, ...) `other`, so that a
        # scanner cannot mint series.
        children = self._children.get((method, route, status))
        if children is None:
            label = method_label(method)
            children = (self.requests.labels(label, route, str(status)), self.latency.labels(label, route))
            if len(self._children) < self.MAX_CACHED_CHILDREN:
                self._children[(method, route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def circuit_listener(self, upstream: str) -> Callable[[CircuitState, CircuitState], None]:
        """Keeps the circuit gauge and transition counter of `upstream` (the gauge starts at closed)."""
        gauge = self.circuit_state.labels(upstream)
        gauge.set(CircuitState.CLOSED)

        def changed(_previous: CircuitState, state: CircuitState) -> None:
            gauge.set(state)
            self.circuit_transitions.labels(upstream, state.label).inc()

        return changed

    def render(self) -> bytes:
        return generate_latest(self.registry)
