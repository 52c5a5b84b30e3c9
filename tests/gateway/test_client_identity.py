"""Client identity: forwarding headers believed only from trusted proxies, and what the log and the services see."""

import json
from ipaddress import ip_network

import pytest

from gateway.client import identify, limited_unit
from tests.gateway.helpers import ServerThread, bearer, make_key, running_gateway, settings_for
from tests.support import TestDatabase

PROXIES = [ip_network("10.0.0.0/8"), ip_network("2001:db8::/32")]


def scope_from(peer: str, headers: dict[str, str] | list[tuple[str, str]]) -> dict:
    items = headers.items() if isinstance(headers, dict) else headers
    return {
        "client": (peer, 40000),
        "scheme": "http",
        "headers": [(name.lower().encode(), value.encode()) for name, value in items],
    }


def test_an_untrusted_peer_is_the_client_whatever_it_claims() -> None:
    claimed = {"X-Forwarded-For": "198.51.100.1", "Forwarded": "for=198.51.100.2", "X-Forwarded-Proto": "https"}
    for networks in ([], PROXIES):
        identity = identify(scope_from("203.0.113.7", claimed), networks)
        assert (identity.address, identity.peer, identity.scheme) == ("203.0.113.7", "203.0.113.7", "http")
        assert identity.forwarded_for == "198.51.100.1"


def test_a_trusted_peer_names_the_rightmost_address_that_is_not_a_proxy() -> None:
    # The caller wrote 1.1.1.1 itself; the ingress appended the address it saw, then an inner proxy its own.
    scope = scope_from(
        "10.0.0.5", {"X-Forwarded-For": "1.1.1.1, 198.51.100.20, 10.1.2.3", "X-Forwarded-Proto": "https"}
    )
    identity = identify(scope, PROXIES)
    assert (identity.address, identity.peer, identity.scheme) == ("198.51.100.20", "10.0.0.5", "https")
    assert identity.forwarded_for == "1.1.1.1, 198.51.100.20, 10.1.2.3"
    # Several header lines are one list; ports and brackets are not part of the address.
    lines = [("X-Forwarded-For", "198.51.100.30:5555"), ("X-Forwarded-For", "10.9.9.9")]
    assert identify(scope_from("10.0.0.5", lines), PROXIES).address == "198.51.100.30"
    # Only proxies in the chain: the leftmost is as far as it goes.
    assert identify(scope_from("10.0.0.5", {"X-Forwarded-For": "10.2.2.2, 10.3.3.3"}), PROXIES).address == "10.2.2.2"
    # Nothing forwarded: the proxy itself.
    assert identify(scope_from("10.0.0.5", {}), PROXIES).address == "10.0.0.5"


def test_what_a_trusted_proxy_did_not_write_cleanly_is_not_believed() -> None:
    scope = scope_from("10.0.0.5", {"X-Forwarded-For": "198.51.100.1, not-an-address, 10.1.1.1"})
    assert identify(scope, PROXIES).address == "10.1.1.1"
    scope = scope_from("10.0.0.5", {"X-Forwarded-For": "unknown"})
    assert identify(scope, PROXIES).address == "10.0.0.5"


def test_only_the_header_the_proxies_write_is_read() -> None:
    scope = scope_from("2001:db8::1", {"Forwarded": 'for=198.51.100.7;proto=https, for="[2001:db8::9]:4711"'})
    assert identify(scope, PROXIES, "forwarded").address == "198.51.100.7"
    scope = scope_from("10.0.0.5", {"Forwarded": 'for="[2001:db8:cafe::17]:4711"'})
    assert identify(scope, [ip_network("10.0.0.0/8")], "forwarded").address == "2001:db8:cafe::17"
    # A proxy that writes Forwarded passes the caller's own X-Forwarded-For on: it names nobody, and the other way
    # round.
    both = {"Forwarded": "for=198.51.100.7", "X-Forwarded-For": "203.0.113.66"}
    assert identify(scope_from("10.0.0.5", both), PROXIES, "forwarded").address == "198.51.100.7"
    assert identify(scope_from("10.0.0.5", both), PROXIES).address == "203.0.113.66"
    assert identify(scope_from("10.0.0.5", {"Forwarded": "for=198.51.100.7"}), PROXIES).address == "10.0.0.5"


def test_the_claimed_chain_is_logged_cut_short() -> None:
    identity = identify(scope_from("203.0.113.7", {"X-Forwarded-For": "1.1.1.1, " * 200}), [])
    assert identity.forwarded_for is not None and len(identity.forwarded_for) == 256


@pytest.mark.parametrize("trusted", [False, True])
async def test_the_gateway_limits_logs_and_forwards_the_identified_client(
    gateway_db: TestDatabase,
    echoes: dict[str, ServerThread],
    capsys: pytest.CaptureFixture[str],
    trusted: bool,
) -> None:
    """The in-process client's peer is 203.0.113.7. Untrusted, a fresh X-Forwarded-For per request changes
    nothing: its address's bucket runs dry. Trusted, each forwarded address has a bucket of its own."""
    settings = settings_for(
        gateway_db.url,
        registry_url=echoes["registry"].url,
        eligibility_url=echoes["eligibility"].url,
        anonymous_rate_limit_per_second=0.01,
        anonymous_rate_limit_burst=3,
        trusted_proxies=["203.0.113.0/24"] if trusted else [],
    )
    async with running_gateway(settings) as (app, client):
        statuses = []
        for n in range(6):
            spoofed = {"X-Forwarded-For": f"198.51.100.{n}"}
            statuses.append((await client.get("/api/v1/eligibility/measures", headers=spoofed)).status_code)
        assert statuses == ([200] * 6 if trusted else [200, 200, 200, 429, 429, 429])
        key = await make_key(app, "city")
        echoed = await client.get("/api/v1/registry/anything", headers={**bearer(key), "X-Forwarded-For": "192.0.2.44"})
    client_address = "192.0.2.44" if trusted else "203.0.113.7"
    forwarded = {name: value for name, value in echoed.json()["headers"] if name.startswith(("x-forwarded", "forw"))}
    assert forwarded["x-forwarded-for"] == client_address
    assert forwarded["forwarded"] == f'for={client_address};proto=http;host="gateway.test"'
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (line,) = [
        entry
        for entry in logged
        if entry.get("event") == "request" and entry.get("path") == "/api/v1/registry/anything"
    ]
    assert (line["client"], line["peer"], line["forwarded_for"]) == (client_address, "203.0.113.7", "192.0.2.44")
    assert len(line["request_id"]) == 32 and line["client_request_id"] is None


def test_per_address_limits_count_an_ipv6_network_not_each_address():
    assert limited_unit("2001:db8:1:2::1") == limited_unit("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert limited_unit("2001:db8:1:3::1") != limited_unit("2001:db8:1:2::1")
    assert limited_unit("::ffff:192.0.2.7") == "192.0.2.7"
    assert limited_unit("192.0.2.7") == "192.0.2.7" and limited_unit("unknown") == "unknown"
