"""Prometheus metrics of a service: who may read them, and what they say.

`/metrics` tells an outsider the traffic, the routes and the failures of the system, so it is read with a bearer
token (`METRICS_TOKEN`, the same for every component; Prometheus sends it from a file, deploy/prometheus). Without
one, development and tests answer anyone and production answers no one.

Each app has a registry of its own (tests make many apps in one process). What a request costs is one cached
counter and one histogram observation; the database pool and the heavy-work admission are read only when Prometheus
scrapes, from the objects themselves, so they cost the requests nothing.
"""

import hmac
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar, Token
from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy.pool import Pool, QueuePool

from shared.errors import Forbidden, Unauthorized
from shared.settings import ServiceSettings

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# The route label of a request no route matched (a 404, or a refusal before routing): one series, not one per path.
UNMATCHED_ROUTE = "unmatched"
# The method label: the standard methods as they are, anything else the HTTP parser accepts (PROPFIND, MKCALENDAR, …:
# a scanner's choice) one label, so a caller cannot make series at will.
STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
OTHER_METHOD = "other"


def method_label(method: str) -> str:
    return method if method in STANDARD_METHODS else OTHER_METHOD


def check_metrics_reader(settings: ServiceSettings, authorization: str | None) -> None:
    """Nothing if the caller may read the metrics; else the 401 or 403 problem to answer."""
    token = settings.metrics_token
    if not token:
        if settings.environment == "production":
            raise Forbidden("Metrics are read with a token: set METRICS_TOKEN and give it to Prometheus.")
        return
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise Unauthorized("Metrics are read with `Authorization: Bearer <METRICS_TOKEN>`.")
    if not hmac.compare_digest(presented.strip().encode(), token.encode()):
        raise Forbidden("This token does not read the metrics.")


class JobsView(NamedTuple):
    """What the heavy-work admission (shared.admission) holds, read at scrape time. It refuses what it cannot run at
    once (nothing waits in a queue), so refusals are what shows the pressure."""

    capacity: int
    in_use: int
    admitted: int
    refused_caller: int
    refused_process: int


class _StateCollector:
    """Gauges read from the app's objects when scraped: its engine's pool and its heavy-work admission."""

    def __init__(
        self, pool: Callable[[], Pool | None], max_connections: int, jobs: Callable[[], JobsView | None]
    ) -> None:
        self.pool = pool
        self.max_connections = max_connections
        self.jobs = jobs

    def describe(self) -> list[Metric]:
        return list(self._families(None, None))

    def collect(self) -> Iterator[Metric]:
        return self._families(self.pool(), self.jobs())

    def _families(self, pool: Pool | None, jobs: JobsView | None) -> Iterator[Metric]:
        size = GaugeMetricFamily("service_db_pool_size", "Connections the database pool keeps open.")
        limit = GaugeMetricFamily(
            "service_db_pool_max_connections", "Connections the pool may open at most (its size and its overflow)."
        )
        checked_out = GaugeMetricFamily("service_db_pool_checked_out", "Connections in use by requests now.")
        overflow = GaugeMetricFamily("service_db_pool_overflow", "Connections open now beyond the pool's size.")
        if isinstance(pool, QueuePool):
            size.add_metric([], pool.size())
            limit.add_metric([], self.max_connections)
            checked_out.add_metric([], pool.checkedout())
            # The pool counts its overflow from minus its size (connections it has not opened yet).
            overflow.add_metric([], max(0, pool.overflow()))
        yield from (size, limit, checked_out, overflow)

        capacity = GaugeMetricFamily("service_jobs_capacity_units", "Units of heavy work the process runs at once.")
        in_use = GaugeMetricFamily("service_jobs_in_use_units", "Units of heavy work running now.")
        admitted = CounterMetricFamily("service_jobs_admitted", "Heavy-work requests admitted.")
        refused = CounterMetricFamily(
            "service_jobs_refused",
            "Heavy-work requests refused: beyond the caller's share (429) or the process's capacity (503).",
            labels=["reason"],
        )
        if jobs is not None:
            capacity.add_metric([], jobs.capacity)
            in_use.add_metric([], jobs.in_use)
            admitted.add_metric([], jobs.admitted)
            refused.add_metric(["caller"], jobs.refused_caller)
            refused.add_metric(["process"], jobs.refused_process)
        yield from (capacity, in_use, admitted, refused)


class SampledGauges:
    """Gauges of state kept in the database (jobs queued, deliveries dead, a relay's lag), set by a sampling task of
    the app (shared.queue.sampled_metrics) and read at scrape time from its last sample: a scrape never queries."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str]) -> None:
        self.name, self.documentation, self.labels = name, documentation, list(labels)
        self.values: dict[tuple[str, ...], float] = {}

    def describe(self) -> list[Metric]:
        return [GaugeMetricFamily(self.name, self.documentation, labels=self.labels)]

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        for labels, value in sorted(self.values.items()):
            family.add_metric(list(labels), value)
        yield family


class ServiceMetrics:
    """The metrics of one service app: its requests, its calls to other services, its pool and its heavy work."""

    content_type = CONTENT_TYPE_LATEST
    # Label combinations are bounded (methods × route templates × statuses); the cache is bounded all the same.
    MAX_CACHED_CHILDREN = 10_000

    def __init__(
        self,
        *,
        pool: Callable[[], Pool | None] = lambda: None,
        max_connections: int = 0,
        jobs: Callable[[], JobsView | None] = lambda: None,
    ) -> None:
        """`pool`: the database pool once there is one; `max_connections`: its size and overflow together;
        `jobs`: the heavy-work admission's state once there is one."""
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "service_requests",
            "Requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "service_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_calls = Counter(
            "service_upstream_requests",
            "Reads of another service of this system (retries included in one), by upstream and outcome: ok, "
            "not_found, failed (it could not be read: the caller got a 503), cancelled (the request was given up).",
            ["upstream", "outcome"],
            registry=self.registry,
        )
        self.upstream_retries = Counter(
            "service_upstream_retries",
            "Attempts of a read repeated after a transport error or a 502/503/504, by upstream.",
            ["upstream"],
            registry=self.registry,
        )
        self.upstream_latency = Histogram(
            "service_upstream_request_duration_seconds",
            "Time a read of another service took, its retries included, by upstream.",
            ["upstream"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_StateCollector(pool, max_connections, jobs))
        # CPU, memory, open files of the process (Linux /proc; nothing elsewhere).
        ProcessCollector(registry=self.registry)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._sampled: dict[str, SampledGauges] = {}
        self._upstream_children: dict[tuple[str, str], tuple[Any, Any]] = {}

    def sampled(self, name: str, documentation: str, labels: Sequence[str]) -> SampledGauges:
        """A family of gauges set from samples (registered once per name: an app started again reuses it)."""
        if name not in self._sampled:
            self._sampled[name] = SampledGauges(name, documentation, labels)
            self.registry.register(self._sampled[name])
        return self._sampled[name]

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        # The labelled children, looked up once per (method, route, status): labels() is a locked lookup.
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            label = method_label(method)
            children = (self.requests.labels(label, route, str(status)), self.latency.labels(label, route))
            if len(self._children) < self.MAX_CACHED_CHILDREN:
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_upstream(self, upstream: str, outcome: str, seconds: float, retries: int) -> None:
        key = (upstream, outcome)
        children = self._upstream_children.get(key)
        if children is None:
            children = self._upstream_children[key] = (
                self.upstream_calls.labels(upstream, outcome),
                self.upstream_latency.labels(upstream),
            )
        children[0].inc()
        children[1].observe(seconds)
        if retries:
            self.upstream_retries.labels(upstream).inc(retries)

    def render(self) -> bytes:
        return generate_latest(self.registry)


# The metrics of the app serving the current request (set by shared.middleware.ServiceMiddleware; the tasks a request
# starts inherit it), so that its service clients count their calls there: they are made by each service's own code,
# which need not hand them the metrics.
_current: ContextVar[ServiceMetrics | None] = ContextVar("service_metrics", default=None)


def current_metrics() -> ServiceMetrics | None:
    return _current.get()


def set_metrics(metrics: ServiceMetrics | None) -> Token[ServiceMetrics | None]:
    return _current.set(metrics)


def reset_metrics(token: Token[ServiceMetrics | None]) -> None:
    _current.reset(token)
