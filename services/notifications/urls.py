"""The SSRF guard of a subscription's URL: checked when it is written and again before every delivery.

A webhook URL makes this service send requests on a caller's behalf; without a guard a key holder could make it
reach what only the service can (the database, the cluster's internal services, a cloud's metadata endpoint at
169.254.169.254). A URL is accepted when it is http(s), carries no userinfo, and its host resolves to public
addresses only; loopback, private, shared (100.64/10), link-local, multicast, reserved and unspecified addresses are
refused unless inside one of `NOTIFICATIONS_ALLOWED_NETWORKS` (a district's intranet). Every address a name resolves
to must pass, and a delivery connects to the address that was checked (no second lookup a DNS rebinding could
answer differently); redirects are never followed.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_URL_LENGTH = 2000


class UrlRefused(ValueError):
    """Why a URL may not be a webhook endpoint (a message for the caller)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A checked URL: its parts, and the addresses its host resolved to (every one allowed)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def address_refusal(address: IPAddress, allowed: Sequence[Network]) -> str | None:
    """What kind of address this is, when it may not be delivered to (None: it may), e.g. "a loopback address"."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed if network.version == address.version):
        return None
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private or (isinstance(address, ipaddress.IPv4Address) and address in _SHARED):
        return "in a private range"
    if address.is_reserved or not address.is_global:
        return "in a reserved range"
    return None


_SHARED = ipaddress.IPv4Network("100.64.0.0/10")


def parse(url: str) -> tuple[str, str, int]:
    """The scheme, host and port of an http(s) URL without userinfo; UrlRefused otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"a webhook URL has at most {MAX_URL_LENGTH} characters")
    if any(char.isspace() or ord(char) < 0x20 for char in url):
        raise UrlRefused("a webhook URL contains no whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UrlRefused(f"not a valid URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlRefused("a webhook URL is http:// or https://")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UrlRefused("a webhook URL carries no user name or password (userinfo)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlRefused("a webhook URL names a host")
    if parts.fragment:
        raise UrlRefused("a webhook URL has no fragment (#…)")
    return scheme, host, port or (443 if scheme == "https" else 80)


async def check(url: str, allowed: Sequence[Network], *, resolve_timeout: float = 5.0) -> Endpoint:
    """The endpoint if `url` may receive webhooks now, resolving its host; UrlRefused (with why) otherwise."""
    scheme, host, port = parse(url)
    literal = _literal(host)
    if literal is not None:
        addresses: tuple[IPAddress, ...] = (literal,)
    else:
        try:
            async with asyncio.timeout(resolve_timeout):
                found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError, UnicodeError):
            raise UrlRefused(f"the host {host} does not resolve") from None
        addresses = tuple(dict.fromkeys(ipaddress.ip_address(str(entry[4][0]).split("%")[0]) for entry in found))
        if not addresses:
            raise UrlRefused(f"the host {host} does not resolve")
    for address in addresses:
        kind = address_refusal(address, allowed)
        if kind is not None:
            where = f"{address} is" if literal is not None else f"{host} resolves to {address}, which is"
            raise UrlRefused(f"{where} {kind}: not delivered to (outside NOTIFICATIONS_ALLOWED_NETWORKS)")
    return Endpoint(url=url, scheme=scheme, host=host, port=port, addresses=addresses)
