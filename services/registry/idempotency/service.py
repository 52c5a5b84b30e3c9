"""Idempotency-Key: a retried request gets the first answer again instead of being applied twice."""

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.idempotency import repository
from shared.auth import Principal
from shared.errors import InvalidInput


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


async def run_once(
    session: AsyncSession,
    principal: Principal,
    key: str | None,
    fingerprint: str,
    action: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
) -> Outcome:
    if key is None:
        status_code, body = await action()
        return Outcome(status_code, body, replayed=False)
    owner = principal.label
    claimed = await repository.claim(session, owner, key, fingerprint)
    stored = None if claimed else await repository.get(session, owner, key)
    if stored is not None:
        if stored.request_hash != fingerprint:
            raise InvalidInput(
                "This Idempotency-Key was used for a different request; use a new key for a new request.",
                errors=[{"loc": ["header", "Idempotency-Key"], "msg": "reused with a different body"}],
            )
        return Outcome(stored.status_code, stored.response, replayed=True)
    status_code, body = await action()
    await repository.complete(session, owner, key, status_code, body)
    return Outcome(status_code, body, replayed=False)
