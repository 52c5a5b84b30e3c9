"""The SSRF guard of a subscription's URL: checked when it is written and again before every delivery.

A webhook URL makes this service send requests on a caller's behalf; without a guard a key holder could make it
reach what only the service can (the database, the cluster's internal services, a cloud's metadata endpoint at
169.254.169.254). A URL is accepted when it is http(s), carries no userinfo, and its host resolves to public
addresses only; loopback, private, shared (100.64/10), link-local, multicast, reserved and unspecified addresses are
refused unless inside one of `NOTIFICATIONS_ALLOWED_NETWORKS` (a district's intranet), and so are IPv6 forms that
embed such an IPv4 address (IPv4-mapped, IPv4-compatible, 6to4 2002::/16, Teredo, NAT64 64:ff9b::/96). Outside the
allowed networks only the ports of `NOTIFICATIONS_ALLOWED_PORTS` (80 and 443) are reached: the service is no port
scanner of the Internet. Every address a name resolves to must pass, and a delivery connects to the address that
was checked (no second lookup a DNS rebinding could answer differently); redirects are never followed.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_URL_LENGTH = 2000
DEFAULT_PORTS: tuple[int, ...] = (80, 443)


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


_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, 6to4, Teredo, NAT64): each is checked too."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if any(address in network for network in _NAT64) or (address in _IPV4_COMPATIBLE and int(address) > 1):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return tuple(found)


def address_refusal(address: IPAddress, allowed: Sequence[Network]) -> str | None:
    """What kind of address this is, when it may not be delivered to (None: it may), e.g. "a loopback address"."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        else:
            for inner in embedded_ipv4(address):
                kind = address_refusal(inner, allowed)
                if kind is not None:
                    return f"an IPv6 address embedding {inner}, {kind}"
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


def _inside(address: IPAddress, allowed: Sequence[Network]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in allowed if network.version == address.version)


async def check(
    url: str,
    allowed: Sequence[Network],
    *,
    resolve_timeout: float = 5.0,
    ports: Collection[int] = DEFAULT_PORTS,
) -> Endpoint:
    """The endpoint if `url` may receive webhooks now, resolving its host; UrlRefused (with why) otherwise. Outside
    the allowed networks only `ports` are reached."""
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
        if port not in ports and not _inside(address, allowed):
            allowed_ports = ", ".join(str(item) for item in sorted(ports))
            raise UrlRefused(f"port {port} is not one of {allowed_ports} (outside NOTIFICATIONS_ALLOWED_NETWORKS)")
    return Endpoint(url=url, scheme=scheme, host=host, port=port, addresses=addresses)
