"""Keys: made from 256 random bits, shown once, stored as SHA-256, compared in constant time."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.keys import repository
from gateway.models import ApiKey
from shared.auth import Principal, Role
from shared.clock import utcnow
from shared.reference import DISTRICT_CODES

KEY_PREFIX = "cqk"
KEY_ROLES = (Role.CITY, Role.DISTRICT, Role.AUDITOR)


class KeyProblem(ValueError):
    """An operator's request that cannot be carried out (bad role, unknown district, unknown key)."""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    role: Role
    district_code: str | None
    label: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def principal(self) -> Principal:
        return Principal(self.role, self.district_code)


@dataclass(frozen=True, slots=True)
class StoredKey:
    """What the gateway needs to verify a presented key: the record and the stored hash."""

    record: KeyRecord
    key_hash: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def split_key(key: str) -> str | None:
    """The key id of a well-formed key, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 12 or len(parts[2]) < 32:
        return None
    return parts[1]


def matches(key: str, stored: StoredKey) -> bool:
    return hmac.compare_digest(hash_key(key), stored.key_hash) and stored.record.revoked_at is None


def _record(row: ApiKey) -> KeyRecord:
    return KeyRecord(
        key_id=row.key_id,
        role=Role(row.role),
        district_code=row.district_code,
        label=row.label,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def check_role(role: str, district_code: str | None) -> tuple[Role, str | None]:
    try:
        parsed = Role(role)
    except ValueError:
        raise KeyProblem(f"unknown role {role!r}; choose one of city, district, auditor") from None
    if parsed not in KEY_ROLES:
        raise KeyProblem(f"keys are for city, district or auditor callers, not {role!r}")
    if parsed is Role.DISTRICT:
        if not district_code:
            raise KeyProblem("a district key needs --district CODE (e.g. 500103)")
        if district_code not in DISTRICT_CODES:
            raise KeyProblem(f"{district_code!r} is not one of Chongqing's 38 district codes")
        return parsed, district_code
    if district_code:
        raise KeyProblem(f"a {role} key reads every district; leave --district out")
    return parsed, None


async def create_key(
    session: AsyncSession, role: str, district_code: str | None = None, label: str = ""
) -> tuple[str, KeyRecord]:
    """A new key: the plain key (to show once) and its record."""
    parsed, district = check_role(role, district_code)
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = await repository.add(
        session,
        ApiKey(
            key_id=key_id,
            key_hash=hash_key(key),
            role=parsed.value,
            district_code=district,
            label=label[:200],
            created_at=utcnow(),
        ),
    )
    return key, _record(row)


async def list_keys(session: AsyncSession, *, include_revoked: bool = True) -> list[KeyRecord]:
    return [_record(row) for row in await repository.all_keys(session, include_revoked=include_revoked)]


async def revoke_key(session: AsyncSession, key_id: str) -> None:
    if split_key(key_id) is not None:  # the operator pasted a whole key: take its id
        key_id = key_id.split("_", 2)[1]
    if not await repository.revoke(session, key_id, utcnow()):
        row = await repository.by_key_id(session, key_id)
        if row is None:
            raise KeyProblem(f"no key with id {key_id!r}")
        raise KeyProblem(f"key {key_id!r} was already revoked")


async def find_key(session: AsyncSession, key_id: str) -> StoredKey | None:
    row = await repository.by_key_id(session, key_id)
    return None if row is None else StoredKey(record=_record(row), key_hash=row.key_hash)


async def all_stored_keys(session: AsyncSession) -> list[StoredKey]:
    """Every key with its hash, revoked ones included: the gateway's in-memory table."""
    rows = await repository.all_keys(session, include_revoked=True)
    return [StoredKey(record=_record(row), key_hash=row.key_hash) for row in rows]
