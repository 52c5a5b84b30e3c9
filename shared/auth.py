"""The caller's principal, carried from the gateway to the services in HMAC-signed headers.

The gateway authenticates the API key and signs, with the internal secret, everything that makes the request one
request: method, path with query, role, district, timestamp, the service it is meant for (the audience), a SHA-256
of the body, a random nonce and the system's request id. Each service verifies the signature over the request it
actually received, the audience (its own name) and the timestamp's freshness before anything else runs, and accepts
a nonce of a write only once (shared.nonces); a request that goes around the gateway, or a captured one replayed,
altered or sent to another service, gets a 401 and nothing else. During a rotation of the internal secret a
service also accepts what the previous secret signed (`INTERNAL_PREVIOUS_SECRET`); signing uses the current one only.
"""

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request

from shared.errors import Forbidden, Unauthorized
from shared.requestid import REQUEST_ID_HEADER

ROLE_HEADER = "X-Principal-Role"
DISTRICT_HEADER = "X-Principal-District"
TIMESTAMP_HEADER = "X-Principal-Timestamp"
NONCE_HEADER = "X-Principal-Nonce"
SIGNATURE_HEADER = "X-Principal-Signature"
# What the gateway sets itself (and so never passes on from a caller). X-Request-ID is signed too but is the
# gateway's own header (shared.requestid).
PRINCIPAL_HEADERS = (ROLE_HEADER, DISTRICT_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)
# 128 random bits as hex; the bound keeps what a service stores (shared.nonces) small.
_NONCE = re.compile(r"^[0-9a-f]{16,64}$")


class Role(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    AUDITOR = "auditor"
    # A caller without a key, let through by the gateway to a public route.
    ANONYMOUS = "anonymous"
    # Another service of this system reading on its own account (e.g. eligibility screening the registry).
    SERVICE = "service"


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    district_code: str | None = None

    @property
    def reads_everything(self) -> bool:
        return self.role in (Role.CITY, Role.AUDITOR, Role.SERVICE)

    @property
    def label(self) -> str:
        return f"{self.role}:{self.district_code}" if self.district_code else str(self.role)

    def may_read_district(self, district_code: str) -> bool:
        return self.reads_everything or (self.role is Role.DISTRICT and self.district_code == district_code)

    def may_write_district(self, district_code: str) -> bool:
        return self.role is Role.CITY or (self.role is Role.DISTRICT and self.district_code == district_code)


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _signature(
    secret: str,
    *,
    method: str,
    target: str,
    role: str,
    district: str,
    timestamp: str,
    audience: str,
    body_sha256: str,
    nonce: str,
    request_id: str,
) -> str:
    # One field a line: none of them can hold a newline (header values, hex digests), so no two requests share a
    # message.
    message = "\n".join(
        (method.upper(), target, role, district, timestamp, audience, body_sha256, nonce, request_id)
    ).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_principal(
    secret: str,
    method: str,
    target: str,
    principal: Principal,
    *,
    audience: str,
    body: bytes = b"",
    request_id: str,
    now: float | None = None,
) -> dict[str, str]:
    """Headers that carry `principal` for one request of `method` to `target` (path plus `?query` if any) of the
    service `audience`, with `body`, under the system's `request_id` (sent as X-Request-ID)."""
    timestamp = str(int(now if now is not None else time.time()))
    district = principal.district_code or ""
    nonce = secrets.token_hex(16)
    signature = _signature(
        secret,
        method=method,
        target=target,
        role=principal.role,
        district=district,
        timestamp=timestamp,
        audience=audience,
        body_sha256=body_digest(body),
        nonce=nonce,
        request_id=request_id,
    )
    return {
        ROLE_HEADER: str(principal.role),
        DISTRICT_HEADER: district,
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature,
        REQUEST_ID_HEADER: request_id,
    }


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a verified signature vouches for beyond the principal: the nonce, its time and the system's id."""

    principal: Principal
    nonce: str
    timestamp: int
    request_id: str


def fresh_timestamp(headers: dict[str, str], max_age_seconds: int, *, now: float | None = None) -> int:
    """The signed headers' timestamp if they are all there and it is within `max_age_seconds` of now (either way:
    clocks drift), else Unauthorized. Cheap, so a service checks it before it reads a body."""
    timestamp = headers.get(TIMESTAMP_HEADER.lower())
    if not headers.get(ROLE_HEADER.lower()) or not timestamp or not headers.get(SIGNATURE_HEADER.lower()):
        raise Unauthorized("This service only answers requests signed by the gateway.")
    if not timestamp.isdigit():
        raise Unauthorized("The principal timestamp is not valid.")
    if abs((now if now is not None else time.time()) - int(timestamp)) > max_age_seconds:
        raise Unauthorized(
            f"The principal signature is older (or newer) than the {max_age_seconds} seconds it is valid for."
        )
    return int(timestamp)


def verify_principal(
    secret: str,
    max_age_seconds: int,
    method: str,
    target: str,
    headers: dict[str, str],
    *,
    audience: str,
    body_sha256: str,
    now: float | None = None,
    previous_secret: str = "",
) -> SignedRequest:
    """What the headers (names lower case) vouch for, if they sign this very request (`method`, `target`, the body
    whose SHA-256 is `body_sha256`) for the service `audience` within `max_age_seconds`; else Unauthorized.
    During a rotation of the internal secret a signature made with `previous_secret` verifies too ("" = none).
    Whether the nonce was seen before is the caller's to check (shared.nonces)."""
    timestamp = fresh_timestamp(headers, max_age_seconds, now=now)
    role = headers[ROLE_HEADER.lower()]
    district = headers.get(DISTRICT_HEADER.lower(), "")
    nonce = headers.get(NONCE_HEADER.lower(), "")
    request_id = headers.get(REQUEST_ID_HEADER.lower(), "")
    # As bytes: compare_digest refuses a str with non-ASCII characters, which a forged header may hold.
    presented = headers[SIGNATURE_HEADER.lower()].encode()
    matches = False
    # Both secrets are always computed and compared (no short circuit), so the time taken does not tell which one
    # a signature was made with, or whether a rotation is under way.
    for candidate in (secret, previous_secret or secret):
        expected = _signature(
            candidate,
            method=method,
            target=target,
            role=role,
            district=district,
            timestamp=str(timestamp),
            audience=audience,
            body_sha256=body_sha256,
            nonce=nonce,
            request_id=request_id,
        )
        matches |= hmac.compare_digest(expected.encode(), presented)
    # One answer for every mismatch: the signature covers the whole request, and the caller learns nothing about
    # which part of a forged or altered one is wrong.
    if not matches:
        raise Unauthorized(f"The principal signature is not valid for this request to the {audience} service.")
    if not _NONCE.match(nonce):
        raise Unauthorized("The principal nonce is not valid.")
    try:
        parsed_role = Role(role)
    except ValueError:
        raise Unauthorized(f"Unknown role {role!r}.") from None
    if parsed_role is Role.DISTRICT and not district:
        raise Unauthorized("A district principal must name its district.")
    return SignedRequest(
        principal=Principal(role=parsed_role, district_code=district or None),
        nonce=nonce,
        timestamp=timestamp,
        request_id=request_id,
    )


# The dependencies are coroutines although they never wait: FastAPI runs a plain function in a worker thread.
async def current_principal(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:  # only the unsigned health probes lack one, and they do not ask
        raise Unauthorized("No principal.")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role):  # type: ignore[no-untyped-def]
    """A dependency that lets only `roles` through (403 for the others, 401 for anonymous callers)."""

    async def dependency(principal: PrincipalDep) -> Principal:
        if principal.role in roles:
            return principal
        if principal.role is Role.ANONYMOUS:
            raise Unauthorized("An API key is required.")
        raise Forbidden(f"The {principal.role} role may not do this.")

    return Depends(dependency)


async def require_key_holder(principal: PrincipalDep) -> Principal:
    """Any caller with an API key (city, district, auditor) or a service of this system."""
    if principal.role is Role.ANONYMOUS:
        raise Unauthorized("An API key is required.")
    return principal


KeyHolderDep = Annotated[Principal, Depends(require_key_holder)]
