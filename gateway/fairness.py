"""Limits that keep one client from crowding out the others, in each gateway process.

- ConcurrencyCap: how many requests one client (an API key, or an address without one) has in flight through the
  proxy. Token buckets bound a client's rate, not how long its requests hold the gateway and the upstream pools:
  a handful of slow requests per second would otherwise take every upstream connection.
- BodyBudget: how many bytes of request bodies the process holds at once. Every body is read whole before an
  upstream connection is taken (so a trickling body holds none), which makes its bytes the gateway's memory: 16
  imports of 64 MiB from one key would be a gigabyte.
- FailureBlocks: addresses whose failed-authentication bucket (shared, in the rate limiter) is empty, and until
  when. Remembering it here lets the gateway refuse such an address's next requests before looking a key up, at
  the cost of a dictionary lookup rather than a round trip to Redis on every authenticated request.
"""

import time


class ConcurrencyCap:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._in_flight: dict[str, int] = {}

    def try_acquire(self, client: str) -> bool:
        count = self._in_flight.get(client, 0)
        if count >= self.limit:
            return False
        self._in_flight[client] = count + 1
        return True

    def release(self, client: str) -> None:
        count = self._in_flight.get(client, 0) - 1
        if count > 0:
            self._in_flight[client] = count
        else:
            self._in_flight.pop(client, None)  # idle clients hold no entry: the table stays as small as the load

    def in_flight(self, client: str) -> int:
        return self._in_flight.get(client, 0)

    def total(self) -> tuple[int, int]:
        """(clients with a request in flight, requests in flight): idle clients are not counted, nor kept."""
        return len(self._in_flight), sum(self._in_flight.values())


class BodyBudget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def try_reserve(self, size: int) -> bool:
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def release(self, size: int) -> None:
        self.held -= size


class FailureBlocks:
    MAX_ENTRIES = 100_000

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def remaining(self, address: str) -> float:
        """Seconds this address stays blocked (0 when it is not)."""
        until = self._until.get(address)
        if until is None:
            return 0.0
        left = until - time.monotonic()
        if left <= 0:
            del self._until[address]
            return 0.0
        return left

    def block(self, address: str, seconds: float) -> None:
        now = time.monotonic()
        if len(self._until) >= self.MAX_ENTRIES and address not in self._until:
            self._until = {name: until for name, until in self._until.items() if until > now}
            if len(self._until) >= self.MAX_ENTRIES:
                self._until.clear()
        self._until[address] = now + seconds
