"""A circuit breaker per upstream: a service that keeps failing is refused at once for a while, not waited for.

Closed: every request goes through; `failure_threshold` failures in a row (no usable answer: refused, unreachable,
broken, timed out, not HTTP) open it. Open: every request is refused (the caller gets a 503 with Retry-After) for
`cool_down` seconds. Then half-open: up to `half_open_probes` requests at once go through as probes, the others are
still refused; a probe's success closes the circuit, its failure opens it again for another cool-down.

The state follows the clock, not only the requests: an open circuit past its cool-down reads as half-open whoever
asks (the readiness loop asks every round, so the gauge and /readyz never show an idle circuit open for hours), and
a readiness probe that the service answers with a 200 closes a half-open circuit that no probe request is deciding
(`recovered`), so that a quiet upstream's circuit does not wait for the next caller to close. Only a probe sent after
the circuit opened counts, and a readiness probe is believed only until it is shown wrong: when the requests fail
again right after it closed the circuit (a service whose /readyz answers while its routes hang), the next close
takes a probe request that got an answer.

An answer the service gave, whatever its status, is a success: a 503 from the service is its own verdict (its
database, an upstream of its own, its heavy-work admission), already fast and already a problem for the caller, and
opening the circuit on it would refuse the service's routes that still work.

Written here rather than taken from a library: the asyncio ones looked at (aiobreaker, purgatory) let every
request through while half-open, read the wall clock rather than a monotonic one, and purgatory sends each request
through a message bus; this costs one comparison per request while closed.
"""

import math
import time
from collections.abc import Callable
from enum import IntEnum

Clock = Callable[[], float]


class CircuitState(IntEnum):
    """The values are those of the `gateway_upstream_circuit_state` gauge."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class Outcome(IntEnum):
    SUCCEEDED = 0
    FAILED = 1
    # Ended without telling whether the service works: the caller went away, the gateway refused it itself.
    ABANDONED = 2


class CircuitOpen(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"circuit open; retry after {retry_after:.1f} s")
        self.retry_after = retry_after

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))


# Called with the state left and the state entered.
Listener = Callable[[CircuitState, CircuitState], None]


class CircuitBreaker:
    """`admit()` before sending a request, then exactly one `settle(ticket, outcome)` for the ticket it gave."""

    def __init__(
        self,
        *,
        failure_threshold: int,
        cool_down: float,
        half_open_probes: int = 1,
        clock: Clock = time.monotonic,
        on_change: Listener | None = None,
    ) -> None:
        if failure_threshold < 1 or half_open_probes < 1 or cool_down <= 0:
            raise ValueError("a circuit needs a threshold and probes of at least 1 and a positive cool-down")
        self.failure_threshold = failure_threshold
        self.cool_down = cool_down
        self.half_open_probes = half_open_probes
        self._clock = clock
        self._on_change = on_change
        self._state = CircuitState.CLOSED
        self.failures = 0
        self._opened_at = 0.0
        self._probes = 0
        # Whether the readiness probes may close the circuit (see the module's docstring), and whether the circuit
        # was last closed by one, with no request answered since.
        self._readiness_believed = True
        self._closed_by_readiness = False
        # A ticket is the epoch it was admitted in; every change of state starts a new one, so that a request
        # admitted before (one of many stuck when the circuit opened, a probe of an earlier half-open) settles
        # nothing about the state it ends in.
        self._epoch = 0

    @property
    def state(self) -> CircuitState:
        """The state now: an open circuit whose cool-down is over is half-open (and is moved there)."""
        if self._state is CircuitState.OPEN and self._clock() >= self._opened_at + self.cool_down:
            self._move(CircuitState.HALF_OPEN)
        return self._state

    def admit(self) -> int:
        """A ticket for one request, or CircuitOpen if it is not let through now."""
        if self._state is CircuitState.CLOSED:
            return self._epoch
        if self._state is CircuitState.OPEN:
            remaining = self._opened_at + self.cool_down - self._clock()
            if remaining > 0:
                raise CircuitOpen(remaining)
            self._move(CircuitState.HALF_OPEN)
        if self._probes >= self.half_open_probes:
            # The probes in flight decide; they take at most the upstream's timeout.
            raise CircuitOpen(1.0)
        self._probes += 1
        return self._epoch

    def settle(self, ticket: int, outcome: Outcome) -> None:
        if ticket != self._epoch:
            return
        if self._state is CircuitState.CLOSED:
            if outcome is Outcome.SUCCEEDED:
                self.failures = 0
                self._closed_by_readiness = False
            elif outcome is Outcome.FAILED:
                self.failures += 1
                if self.failures >= self.failure_threshold:
                    if self._closed_by_readiness:
                        self._readiness_believed = False
                    self._open()
        elif self._state is CircuitState.HALF_OPEN:
            self._probes -= 1
            if outcome is Outcome.SUCCEEDED:
                self.failures = 0
                self._readiness_believed, self._closed_by_readiness = True, False
                self._move(CircuitState.CLOSED)
            elif outcome is Outcome.FAILED:
                self._open()

    def recovered(self, probed_at: float | None = None) -> bool:
        """The service answered a readiness probe, sent at `probed_at` (this clock; now by default), with a 200: a
        circuit past its cool-down (half-open) with no probe request in flight closes now, if it opened before the
        probe was sent and the readiness probes have not been shown wrong since; otherwise it stays. Whether the
        circuit is closed after."""
        sent = self._clock() if probed_at is None else probed_at
        if (
            self.state is CircuitState.HALF_OPEN
            and self._probes == 0
            and self._readiness_believed
            and self._opened_at <= sent
        ):
            self.failures = 0
            self._move(CircuitState.CLOSED)
            self._closed_by_readiness = True
        return self._state is CircuitState.CLOSED

    def retry_after(self) -> float:
        """Seconds until the next probe may go through (0 unless open)."""
        if self._state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.cool_down - self._clock())

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._move(CircuitState.OPEN)

    def _move(self, state: CircuitState) -> None:
        previous, self._state = self._state, state
        self._epoch += 1
        self._probes = 0
        if self._on_change is not None:
            self._on_change(previous, state)
