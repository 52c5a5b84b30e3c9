"""Idempotency-Key: a retried request gets the first answer again instead of being applied twice."""

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.idempotency import repository
from shared.auth import Principal
from shared.errors import InvalidInput, field_error


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int
    body: dict[str, Any]
    replayed: bool


def request_fingerprint(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\x00")
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Idempotency:
    """One request's idempotency: its key (None: the request runs every time) in the principal's namespace."""

    session: AsyncSession
    principal: Principal
    key: str | None

    async def run(self, fingerprint: str, action: Callable[[], Awaitable[tuple[int, dict[str, Any]]]]) -> Outcome:
        """Run `action` once per key; the same request again gets the stored answer, another one a 422."""
        if self.key is None:
            status_code, body = await action()
            return Outcome(status_code, body, replayed=False)
        owner = self.principal.label
        claimed = await repository.claim(self.session, owner, self.key, fingerprint)
        stored = None if claimed else await repository.get(self.session, owner, self.key)
        if stored is not None:
            if stored.request_hash != fingerprint:
                raise InvalidInput(
                    "This Idempotency-Key was used for a different request; use a new key for a new request.",
                    errors=[field_error(["header", "Idempotency-Key"], "reused with a different body")],
                )
            return Outcome(stored.status_code, stored.response, replayed=True)
        status_code, body = await action()
        await repository.complete(self.session, owner, self.key, status_code, body)
        return Outcome(status_code, body, replayed=False)
