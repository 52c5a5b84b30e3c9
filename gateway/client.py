"""Who the caller is, as far as the network says: the TCP peer, or the address a trusted proxy forwarded for.

uvicorn's own `--proxy-headers` trusts 127.0.0.1 by default, so anything on the loopback could name any address
it liked and spend someone else's rate limit (or none); every launch command turns it off, and the gateway
decides here instead, from `GATEWAY_TRUSTED_PROXIES`. Only when the peer is one of those proxies is the header
they write read (`GATEWAY_FORWARDED_HEADER`: `X-Forwarded-For`, or `Forwarded`; only that one, since a proxy passes
the other on as the caller sent it), and the client is the rightmost address in it that is not itself a trusted
proxy, so that a value the caller put in front of the chain is never believed.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Literal

from starlette.types import Scope

# Set in the scope by the gateway's middleware: the ClientIdentity of the request.
CLIENT_KEY = "gateway.client"
# The claimed chain is logged, cut to this many characters.
_LOGGED_CHAIN = 256
_FORWARDED_FOR = re.compile(r'(?:^|[;,\s])for\s*=\s*("[^"]*"|[^;,\s]*)', re.IGNORECASE)

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    # The address rate limits, logs and the upstream's Forwarded header use.
    address: str
    # The TCP peer.
    peer: str
    # The forwarding chain as the request claimed it (whether believed or not), for the log.
    forwarded_for: str | None
    # The scheme the client used: the peer's, or a trusted proxy's X-Forwarded-Proto.
    scheme: str


def limited_unit(address: str) -> str:
    """What the per-address limits count: an IPv4 address, or an IPv6 address's /64 (one subscriber's network,
    whose holder could otherwise take a fresh address for every request)."""
    try:
        parsed = ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def _parse(node: str) -> Address | None:
    """An address from one element of X-Forwarded-For or a Forwarded `for=`, without port or brackets."""
    node = node.strip().strip('"')
    if node.startswith("["):  # [v6] or [v6]:port
        node = node[1 : node.find("]")] if "]" in node else ""
    elif node.count(":") == 1:  # v4:port
        node = node.partition(":")[0]
    try:
        return ip_address(node)
    except ValueError:
        return None


def _trusted(address: Address | None, networks: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


ForwardedHeader = Literal["x-forwarded-for", "forwarded"]


def identify(
    scope: Scope, trusted_proxies: Sequence[Network], header: ForwardedHeader = "x-forwarded-for"
) -> ClientIdentity:
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    scheme = str(scope.get("scheme", "http"))
    xff: list[str] = []
    forwarded: list[str] = []
    proto: str | None = None
    for name, value in scope["headers"]:
        if name == b"x-forwarded-for":
            xff.append(value.decode("latin-1"))
        elif name == b"forwarded":
            forwarded.append(value.decode("latin-1"))
        elif name == b"x-forwarded-proto":
            proto = value.decode("latin-1").rpartition(",")[2].strip().lower()
    if header == "x-forwarded-for":
        chain = [part for value in xff for part in value.split(",")]
    else:
        chain = [match.group(1) for value in forwarded for match in _FORWARDED_FOR.finditer(value)]
    claimed = (", ".join(xff) if xff else ", ".join(forwarded)) or None
    if claimed is not None:
        claimed = claimed[:_LOGGED_CHAIN]
    if not trusted_proxies or not _trusted(_parse(peer), trusted_proxies):
        return ClientIdentity(peer, peer, claimed, scheme)
    address = peer
    for node in reversed(chain):
        parsed = _parse(node)
        if parsed is None:
            break  # what a trusted proxy did not write cleanly is not believed: the last hop that did is the client
        address = str(parsed)
        if not _trusted(parsed, trusted_proxies):
            break
    if proto in ("http", "https"):
        scheme = proto
    return ClientIdentity(address, peer, claimed, scheme)


def client_of(scope: Scope) -> ClientIdentity:
    """The identity the middleware put in the scope (the peer alone, if it did not run)."""
    identity = scope.get(CLIENT_KEY)
    if isinstance(identity, ClientIdentity):
        return identity
    return identify(scope, ())
