"""The circuit breaker's state machine (gateway/breaker.py), on a clock the tests move."""

import pytest

from gateway.breaker import CircuitBreaker, CircuitOpen, CircuitState, Outcome


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


Change = tuple[CircuitState, CircuitState]


def breaker(clock: FakeClock, changes: list[Change], *, threshold: int = 3, probes: int = 1) -> CircuitBreaker:
    return CircuitBreaker(
        failure_threshold=threshold,
        cool_down=10.0,
        half_open_probes=probes,
        clock=clock,
        on_change=lambda previous, state: changes.append((previous, state)),
    )


def fail(circuit: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        circuit.settle(circuit.admit(), Outcome.FAILED)


def test_consecutive_failures_open_it_and_a_success_between_resets_the_count() -> None:
    clock, changes = FakeClock(), []
    circuit = breaker(clock, changes)
    fail(circuit, 2)
    circuit.settle(circuit.admit(), Outcome.SUCCEEDED)
    fail(circuit, 2)
    assert circuit.state is CircuitState.CLOSED and circuit.failures == 2
    fail(circuit)
    assert circuit.state is CircuitState.OPEN
    assert changes == [(CircuitState.CLOSED, CircuitState.OPEN)]


def test_open_refuses_with_the_time_left_of_the_cool_down() -> None:
    clock, changes = FakeClock(), []
    circuit = breaker(clock, changes)
    fail(circuit, 3)
    clock.now += 2.5
    with pytest.raises(CircuitOpen) as refused:
        circuit.admit()
    assert refused.value.retry_after == pytest.approx(7.5)
    assert refused.value.retry_after_header == "8"
    assert circuit.retry_after() == pytest.approx(7.5)
    clock.now += 7.4
    with pytest.raises(CircuitOpen) as last:
        circuit.admit()
    assert last.value.retry_after_header == "1"  # never 0: a Retry-After of 0 invites a tight loop


def test_after_the_cool_down_one_probe_goes_through_and_its_success_closes_it() -> None:
    clock, changes = FakeClock(), []
    circuit = breaker(clock, changes)
    fail(circuit, 3)
    clock.now += 10.0
    probe = circuit.admit()
    assert circuit.state is CircuitState.HALF_OPEN
    for _ in range(3):  # the others wait for the probe's verdict
        with pytest.raises(CircuitOpen) as refused:
            circuit.admit()
        assert refused.value.retry_after_header == "1"
    circuit.settle(probe, Outcome.SUCCEEDED)
    assert circuit.state is CircuitState.CLOSED and circuit.failures == 0
    circuit.settle(circuit.admit(), Outcome.SUCCEEDED)
    assert changes == [
        (CircuitState.CLOSED, CircuitState.OPEN),
        (CircuitState.OPEN, CircuitState.HALF_OPEN),
        (CircuitState.HALF_OPEN, CircuitState.CLOSED),
    ]


def test_a_failed_probe_opens_it_again_for_a_whole_cool_down() -> None:
    clock, changes = FakeClock(), []
    circuit = breaker(clock, changes)
    fail(circuit, 3)
    clock.now += 12.0
    circuit.settle(circuit.admit(), Outcome.FAILED)
    assert circuit.state is CircuitState.OPEN
    assert circuit.retry_after() == pytest.approx(10.0)
    clock.now += 9.9
    with pytest.raises(CircuitOpen):
        circuit.admit()
    clock.now += 0.1
    circuit.admit()
    assert circuit.state is CircuitState.HALF_OPEN
    assert [state for _, state in changes] == [
        CircuitState.OPEN,
        CircuitState.HALF_OPEN,
        CircuitState.OPEN,
        CircuitState.HALF_OPEN,
    ]


def test_an_abandoned_probe_frees_its_place_and_decides_nothing() -> None:
    clock, changes = FakeClock(), []
    circuit = breaker(clock, changes)
    fail(circuit, 3)
    clock.now += 10.0
    circuit.settle(circuit.admit(), Outcome.ABANDONED)
    assert circuit.state is CircuitState.HALF_OPEN
    probe = circuit.admit()  # the place is free again
    circuit.settle(probe, Outcome.SUCCEEDED)
    assert circuit.state is CircuitState.CLOSED


def test_several_probes_at_once_when_configured() -> None:
    clock, changes = FakeClock(), []
    circuit = breaker(clock, changes, probes=2)
    fail(circuit, 3)
    clock.now += 10.0
    first, second = circuit.admit(), circuit.admit()
    with pytest.raises(CircuitOpen):
        circuit.admit()
    circuit.settle(first, Outcome.SUCCEEDED)
    assert circuit.state is CircuitState.CLOSED
    # The second probe, of the half-open that is over, settles nothing about the closed circuit.
    circuit.settle(second, Outcome.FAILED)
    assert circuit.state is CircuitState.CLOSED and circuit.failures == 0


def test_requests_stuck_when_it_opened_settle_nothing_later() -> None:
    clock, changes = FakeClock(), []
    circuit = breaker(clock, changes)
    stuck = [circuit.admit() for _ in range(10)]  # a hung upstream: many in flight while closed
    for ticket in stuck[:3]:
        circuit.settle(ticket, Outcome.FAILED)
    assert circuit.state is CircuitState.OPEN
    clock.now += 10.0
    probe = circuit.admit()
    for ticket in stuck[3:]:  # their timeouts arrive while the probe is out: the probe alone decides
        circuit.settle(ticket, Outcome.FAILED)
    assert circuit.state is CircuitState.HALF_OPEN
    circuit.settle(probe, Outcome.SUCCEEDED)
    assert circuit.state is CircuitState.CLOSED
    assert len(changes) == 3


def test_answers_and_abandoned_requests_while_closed_do_not_count_as_failures() -> None:
    clock, changes = FakeClock(), []
    circuit = breaker(clock, changes, threshold=1)
    for _ in range(5):
        circuit.settle(circuit.admit(), Outcome.ABANDONED)
        circuit.settle(circuit.admit(), Outcome.SUCCEEDED)
    assert circuit.state is CircuitState.CLOSED and changes == []


@pytest.mark.parametrize(("threshold", "cool_down", "probes"), [(0, 1.0, 1), (1, 0.0, 1), (1, 1.0, 0)])
def test_settings_out_of_bounds_are_refused(threshold: int, cool_down: float, probes: int) -> None:
    with pytest.raises(ValueError, match="threshold"):
        CircuitBreaker(failure_threshold=threshold, cool_down=cool_down, half_open_probes=probes)


def test_an_idle_open_circuit_reads_half_open_once_its_cool_down_is_over() -> None:
    clock, changes = FakeClock(), []
    circuit = breaker(clock, changes)
    fail(circuit, 3)
    clock.now += 9.9
    assert circuit.state is CircuitState.OPEN
    clock.now += 1000.0  # no request all night
    assert circuit.state is CircuitState.HALF_OPEN
    assert circuit.state is CircuitState.HALF_OPEN  # asked again: no second transition
    assert changes == [(CircuitState.CLOSED, CircuitState.OPEN), (CircuitState.OPEN, CircuitState.HALF_OPEN)]
    assert circuit.retry_after() == 0.0
    probe = circuit.admit()  # a probe may go through at once
    circuit.settle(probe, Outcome.SUCCEEDED)
    assert circuit.state is CircuitState.CLOSED


def test_a_ready_upstream_closes_a_circuit_past_its_cool_down_or_half_open_without_a_probe() -> None:
    clock, changes = FakeClock(), []
    circuit = breaker(clock, changes)
    fail(circuit, 3)
    clock.now += 5.0
    assert circuit.recovered() is False  # within the cool-down: the readiness probe does not shorten it
    assert circuit.state is CircuitState.OPEN
    clock.now += 5.0
    assert circuit.recovered() is True  # past it, straight from open
    assert circuit.state is CircuitState.CLOSED and circuit.failures == 0
    assert [state for _, state in changes] == [CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.CLOSED]
    assert circuit.recovered() is True and len(changes) == 3  # closed stays closed, nothing moves

    circuit.settle(circuit.admit(), Outcome.SUCCEEDED)  # a request answered: the readiness probe was right
    fail(circuit, 3)
    clock.now += 10.0
    assert circuit.state is CircuitState.HALF_OPEN
    assert circuit.recovered() is True  # half-open, no probe request out
    assert circuit.state is CircuitState.CLOSED


def test_a_readiness_probe_shown_wrong_no_longer_closes_the_circuit_until_a_request_probe_is_answered() -> None:
    """A service whose /readyz answers while its routes hang: once the requests fail again right after a readiness
    probe closed the circuit, only a probe request that gets an answer closes it (not a batch of hung requests
    every cool-down)."""
    clock, changes = FakeClock(), []
    circuit = breaker(clock, changes)
    fail(circuit, 3)
    clock.now += 10.0
    assert circuit.recovered() is True
    fail(circuit, 3)  # the routes still hang
    assert circuit.state is CircuitState.OPEN
    clock.now += 10.0
    assert circuit.recovered() is False and circuit.state is CircuitState.HALF_OPEN
    clock.now += 60.0
    assert circuit.recovered() is False  # however long: it waits for a probe request
    probe = circuit.admit()
    circuit.settle(probe, Outcome.SUCCEEDED)
    assert circuit.state is CircuitState.CLOSED
    # Proven right by a request, the readiness probes are believed again.
    fail(circuit, 3)
    clock.now += 10.0
    assert circuit.recovered() is True


def test_only_a_readiness_probe_sent_after_the_circuit_opened_closes_it() -> None:
    clock, changes = FakeClock(), []
    circuit = breaker(clock, changes)
    sent_before = clock.now
    clock.now += 1.0
    fail(circuit, 3)  # opens at 1001
    clock.now += 10.0
    assert circuit.recovered(probed_at=sent_before) is False  # its 200 says nothing of the failures after it
    assert circuit.state is CircuitState.HALF_OPEN
    assert circuit.recovered(probed_at=clock.now) is True


def test_a_probe_request_in_flight_decides_not_the_readiness_probe() -> None:
    clock, changes = FakeClock(), []
    circuit = breaker(clock, changes)
    fail(circuit, 3)
    clock.now += 10.0
    probe = circuit.admit()
    assert circuit.recovered() is False
    assert circuit.state is CircuitState.HALF_OPEN
    circuit.settle(probe, Outcome.FAILED)  # the hung route timed out: open again, whatever /readyz said
    assert circuit.state is CircuitState.OPEN
    assert circuit.recovered() is False
