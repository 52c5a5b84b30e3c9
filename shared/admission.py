"""Admission of heavy work by cost: how much CPU-heavy work (a batch, a screening, a simulation, an analysis, an
import, an export) one process runs at once, in all and per caller.

Each such request runs its computation in worker threads, but every thread of a process shares one interpreter lock:
a few large ones at once keep the cores busy, and each one more only slows all of them and the event loop that
serves the cheap reads. So each heavy request costs units, estimated before anything is read or computed (10 units
are a full-size request: the largest batch, an import of 100,000 rows, a screening of the whole registry; a small
one costs 1), and a process runs at most `process_units` at once, one caller (the principal's label: `city`,
`district:500103`, …) at most `caller_units`, and every anonymous caller together at most `anonymous_units`. A
request beyond its caller's share is a 429, beyond the process's a 503, both problems with `Retry-After`, and
nothing of it has started. The budgets are per process: N workers or replicas admit N times as much.
"""

import math
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from fastapi import Depends, Request
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.applications import Starlette

from shared.auth import Principal, PrincipalDep, Role
from shared.errors import ProblemError, ServiceUnavailable

FULL_SIZE = 10  # units of the largest request of its kind

Cost = Callable[[Request, Principal], int]


class HeavyWorkSettings(BaseSettings):
    """HEAVY_PROCESS_UNITS, HEAVY_CALLER_UNITS, HEAVY_ANONYMOUS_UNITS, HEAVY_RETRY_AFTER_SECONDS (every service)."""

    model_config = SettingsConfigDict(env_prefix="HEAVY_", extra="ignore")

    # Two full-size requests and a few small ones: on two cores, more at once only makes each slower.
    process_units: int = Field(default=25, ge=FULL_SIZE, le=10_000)
    # One full-size request per caller; many small ones (a district system's 25-row imports) side by side.
    caller_units: int = Field(default=FULL_SIZE, ge=1, le=10_000)
    # Every caller without a key shares one share: one public batch of 10,000 at a time.
    anonymous_units: int = Field(default=FULL_SIZE, ge=1, le=10_000)
    # A full-size batch takes a second or two, a screening of the whole registry a few seconds.
    retry_after_seconds: int = Field(default=2, ge=1, le=600)

    @model_validator(mode="after")
    def _shares_within_the_total(self) -> "HeavyWorkSettings":
        if max(self.caller_units, self.anonymous_units) > self.process_units:
            raise ValueError("HEAVY_CALLER_UNITS and HEAVY_ANONYMOUS_UNITS may not exceed HEAVY_PROCESS_UNITS")
        return self


class CallerBusy(ProblemError):
    status, title, slug = 429, "Too Many Requests", "heavy-work-per-caller"


class HeavyWorkBusy(ServiceUnavailable):
    slug = "heavy-work-busy"


ANONYMOUS_CALLER = "anonymous"


class Admission:
    """The units in use in one process. Taken and given back on the event loop only, so no lock is needed."""

    def __init__(self, settings: HeavyWorkSettings) -> None:
        self.settings = settings
        self.running = 0
        self.by_caller: dict[str, int] = {}
        # Read by the metrics (shared.metrics) when scraped.
        self.admitted = 0
        self.refused_caller = 0
        self.refused_process = 0

    @contextmanager
    def admit(self, principal: Principal, cost: int) -> Iterator[None]:
        if principal.role is Role.ANONYMOUS:
            caller, share = ANONYMOUS_CALLER, self.settings.anonymous_units
        else:
            caller, share = principal.label, self.settings.caller_units
        cost = max(1, min(cost, share))  # a request of any size is admitted when its caller runs nothing
        held = self.by_caller.get(caller, 0)
        retry = {"Retry-After": str(self.settings.retry_after_seconds)}
        if held + cost > share:
            self.refused_caller += 1
            raise CallerBusy(
                f"This caller already runs heavy work here ({held} of its {share} units; this request needs "
                f"{cost}); nothing was started, retry when it has finished.",
                headers=retry,
            )
        if self.running + cost > self.settings.process_units:
            self.refused_process += 1
            raise HeavyWorkBusy(
                "The service runs as much heavy work as it takes at once; nothing was started, retry shortly.",
                headers=retry,
            )
        self.running += cost
        self.by_caller[caller] = held + cost
        self.admitted += 1
        try:
            yield
        finally:
            self.running -= cost
            left = self.by_caller[caller] - cost
            if left:
                self.by_caller[caller] = left
            else:
                del self.by_caller[caller]


def admission_of(app: Starlette) -> Admission:
    """The app's admission, made on first use from its settings' `heavy` (every service's settings have one)."""
    state = app.state
    admission: Admission | None = getattr(state, "admission", None)
    if admission is None:
        admission = state.admission = Admission(state.settings.heavy)
    return admission


ADMITS_HEAVY_WORK = "admits_heavy_work"


_Dependency = TypeVar("_Dependency", bound=Callable[..., Any])


def admits_heavy_work(dependency: _Dependency) -> _Dependency:
    """Marks a dependency that admits its route's heavy work, so that what reads the routes (the latency alerts'
    test) finds every admitted route, whichever way its cost is weighed."""
    setattr(dependency, ADMITS_HEAVY_WORK, True)
    return dependency


def heavy_work(cost: Cost) -> Any:
    """A dependency admitting the request at `cost` units, held until the route returns (scope="function": not
    while the answer is sent). It runs before the route parses or validates the body, so a refusal starts none of
    the work (the body's bytes are already in memory: the middleware read them to check the signature, within the
    service's body limit)."""

    @admits_heavy_work
    async def admitted(request: Request, principal: PrincipalDep) -> AsyncIterator[None]:
        with admission_of(request.app).admit(principal, cost(request, principal)):
            yield

    return Depends(admitted, scope="function")


# ---- costs, each estimated from what is known before the work starts -----------------------------------------


def by_body_size(full_size_bytes: int) -> Cost:
    """In proportion to the declared body size, `full_size_bytes` being a full-size request (no declared size:
    full size)."""

    def cost(request: Request, _: Principal) -> int:
        declared = request.headers.get("content-length", "")
        if not declared.isdigit():
            return FULL_SIZE
        return math.ceil(FULL_SIZE * int(declared) / full_size_bytes)

    return cost


def by_reach(request: Request, principal: Principal) -> int:
    """What the caller may reach: a district key its own district (a 38th of the registry), the others all of it."""
    return 1 if principal.role is Role.DISTRICT else FULL_SIZE


def by_query(name: str, full_size: int, default: int) -> Cost:
    """In proportion to an integer query parameter (`default` when absent), `full_size` being a full-size request;
    an unreadable value costs 1 (the route refuses it)."""

    def cost(request: Request, _: Principal) -> int:
        raw = request.query_params.get(name, str(default))
        return math.ceil(FULL_SIZE * int(raw) / full_size) if raw.isdigit() and len(raw) < 12 else 1

    return cost
