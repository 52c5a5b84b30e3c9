"""The caller's principal, carried from the gateway to the services in HMAC-signed headers.

The gateway authenticates the API key and signs (method, path with query, role, district, timestamp) with the
internal secret; each service verifies the signature and the timestamp's freshness before anything else runs,
so a request that goes around the gateway gets a 401 and nothing else.
"""

import hashlib
import hmac
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request

from shared.errors import Forbidden, Unauthorized

ROLE_HEADER = "X-Principal-Role"
DISTRICT_HEADER = "X-Principal-District"
TIMESTAMP_HEADER = "X-Principal-Timestamp"
SIGNATURE_HEADER = "X-Principal-Signature"
PRINCIPAL_HEADERS = (ROLE_HEADER, DISTRICT_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)


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


def _message(method: str, target: str, role: str, district: str, timestamp: str) -> bytes:
    return "\n".join((method.upper(), target, role, district, timestamp)).encode()


def sign_principal(
    secret: str, method: str, target: str, principal: Principal, *, now: float | None = None
) -> dict[str, str]:
    """Headers that carry `principal` for a request of `method` to `target` (path plus `?query` if any)."""
    timestamp = str(int(now if now is not None else time.time()))
    district = principal.district_code or ""
    signature = hmac.new(
        secret.encode(), _message(method, target, principal.role, district, timestamp), hashlib.sha256
    ).hexdigest()
    return {
        ROLE_HEADER: str(principal.role),
        DISTRICT_HEADER: district,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature,
    }


def verify_principal(
    secret: str, max_age_seconds: int, method: str, target: str, headers: dict[str, str], *, now: float | None = None
) -> Principal:
    """The principal the headers carry, or Unauthorized if they are missing, forged or stale."""
    role = headers.get(ROLE_HEADER.lower())
    timestamp = headers.get(TIMESTAMP_HEADER.lower())
    signature = headers.get(SIGNATURE_HEADER.lower())
    district = headers.get(DISTRICT_HEADER.lower(), "")
    if not role or not timestamp or not signature:
        raise Unauthorized("This service only answers requests signed by the gateway.")
    expected = hmac.new(
        secret.encode(), _message(method, target, role, district, timestamp), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Unauthorized("The principal signature is not valid.")
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        raise Unauthorized("The principal timestamp is not valid.") from None
    if age > max_age_seconds:
        raise Unauthorized("The principal signature has expired.")
    try:
        parsed_role = Role(role)
    except ValueError:
        raise Unauthorized(f"Unknown role {role!r}.") from None
    if parsed_role is Role.DISTRICT and not district:
        raise Unauthorized("A district principal must name its district.")
    return Principal(role=parsed_role, district_code=district or None)


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
