"""Keys: made from 256 random bits, shown once, stored as SHA-256, compared in constant time; issued, rotated and
revoked by an operator whose name goes with every change into key_events.

Times are the database's (`now()` of the transaction), not the operator's host clock: whether a key has expired,
when a successor expires, when a revocation or a grace period takes effect."""

import getpass
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.keys import repository
from gateway.models import ApiKey, KeyEvent
from shared.auth import Principal, Role
from shared.clock import utcnow
from shared.reference import DISTRICT_CODES

KEY_PREFIX = "cqk"
KEY_ROLES = (Role.CITY, Role.DISTRICT, Role.AUDITOR)


class KeyProblem(ValueError):
    """An operator's request that cannot be carried out (bad role, unknown district, unknown key)."""


class KeyEventKind(StrEnum):
    ISSUED = "issued"
    ROTATED = "rotated"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    role: Role
    district_code: str | None
    label: str
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None
    # Written behind the requests that use the key, so two reads of the same key may differ in it alone.
    last_used_at: datetime | None = field(default=None, compare=False)

    @property
    def principal(self) -> Principal:
        return Principal(self.role, self.district_code)

    def in_force(self, when: datetime) -> bool:
        """Not revoked, and not expired at `when`."""
        return self.revoked_at is None and (self.expires_at is None or when < self.expires_at)


@dataclass(frozen=True, slots=True)
class StoredKey:
    """What the gateway needs to verify a presented key: the record and the stored hash."""

    record: KeyRecord
    key_hash: str


@dataclass(frozen=True, slots=True)
class KeyEventRecord:
    key_id: str
    event: KeyEventKind
    operator: str
    at: datetime
    related_key_id: str | None
    expires_at: datetime | None
    # Who wrote the event as the database saw it (session_user) and as the writing process saw it (the OS user).
    db_role: str
    os_user: str | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def split_key(key: str) -> str | None:
    """The key id of a well-formed key, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 12 or len(parts[2]) < 32:
        return None
    return parts[1]


def matches(key: str, stored: StoredKey, when: datetime | None = None) -> bool:
    return hmac.compare_digest(hash_key(key), stored.key_hash) and stored.record.in_force(when or utcnow())


def os_user() -> str:
    """Who runs this process: recorded with every event, and the operator when no `--operator` is given."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's uid without a passwd entry or a login name
        return f"uid {os.getuid()}"


def _record(row: ApiKey) -> KeyRecord:
    return KeyRecord(
        key_id=row.key_id,
        role=Role(row.role),
        district_code=row.district_code,
        label=row.label,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
    )


def _event_record(row: KeyEvent) -> KeyEventRecord:
    return KeyEventRecord(
        key_id=row.key_id,
        event=KeyEventKind(row.event),
        operator=row.operator,
        at=row.at,
        related_key_id=row.related_key_id,
        expires_at=row.expires_at,
        db_role=row.db_role,
        os_user=row.os_user,
    )


def _key_id_of(key_or_id: str) -> str:
    # The operator may paste a whole key: take its id.
    return key_or_id.split("_", 2)[1] if split_key(key_or_id) is not None else key_or_id


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


async def _record_event(
    session: AsyncSession,
    key_id: str,
    event: KeyEventKind,
    operator: str | None,
    *,
    related_key_id: str | None = None,
    expires_at: datetime | None = None,
) -> None:
    # `at` and `db_role` are the server's (a trigger sets them); the OS user is recorded apart from the operator.
    user = os_user()
    await repository.add_event(
        session,
        KeyEvent(
            key_id=key_id,
            event=event.value,
            operator=(operator or user)[:200],
            related_key_id=related_key_id,
            expires_at=expires_at,
            os_user=user[:200],
        ),
    )


async def _issue(
    session: AsyncSession,
    role: Role,
    district: str | None,
    label: str,
    *,
    expires_at: datetime | None,
    operator: str | None,
    now: datetime,
    predecessor: str | None = None,
) -> tuple[str, KeyRecord]:
    if expires_at is not None:
        expires_at = expires_at.astimezone(UTC)  # as the database gives it back
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = await repository.add(
        session,
        ApiKey(
            key_id=key_id,
            key_hash=hash_key(key),
            role=role.value,
            district_code=district,
            label=label[:200],
            created_at=now,
            expires_at=expires_at,
        ),
    )
    await _record_event(
        session, key_id, KeyEventKind.ISSUED, operator, related_key_id=predecessor, expires_at=expires_at
    )
    return key, _record(row)


async def create_key(
    session: AsyncSession,
    role: str,
    district_code: str | None = None,
    label: str = "",
    *,
    expires_at: datetime | None = None,
    expires_in: timedelta | None = None,
    operator: str | None = None,
    now: datetime | None = None,
) -> tuple[str, KeyRecord]:
    """A new key, valid until `expires_at`, or for `expires_in` from now (neither: until revoked): the plain key
    (to show once) and its record. `now` defaults to the database's."""
    parsed, district = check_role(role, district_code)
    now = now or await repository.database_now(session)
    expires_at = _expiry(now, expires_at, expires_in)
    return await _issue(session, parsed, district, label, expires_at=expires_at, operator=operator, now=now)


def _expiry(now: datetime, expires_at: datetime | None, expires_in: timedelta | None) -> datetime | None:
    if expires_at is not None and expires_in is not None:
        raise KeyProblem("give an expiry time or a lifetime, not both")
    if expires_in is not None:
        expires_at = now + expires_in
    if expires_at is not None and expires_at <= now:
        raise KeyProblem(f"the expiry {expires_at.isoformat()} is not in the future")
    return expires_at


async def rotate_key(
    session: AsyncSession,
    key_id: str,
    grace: timedelta,
    *,
    expires_at: datetime | None = None,
    expires_in: timedelta | None = None,
    operator: str | None = None,
    now: datetime | None = None,
) -> tuple[str, KeyRecord, KeyRecord]:
    """A successor for the key `key_id` (same role, district and label) and the old key's end: `grace` from now,
    or its own expiry if that comes first. The successor expires at `expires_at` (or `expires_in` from now), else,
    if the old key had an expiry, after the same lifetime the old one was given; else never. Returns the new plain
    key, the new record and the old one as it now is. `now` defaults to the database's."""
    now = now or await repository.database_now(session)
    if grace < timedelta(0):
        raise KeyProblem("the grace period cannot be negative")
    key_id = _key_id_of(key_id)
    old = await repository.by_key_id(session, key_id, for_update=True)  # two rotations at once: one successor
    if old is None:
        raise KeyProblem(f"no key with id {key_id!r}")
    if old.revoked_at is not None:
        raise KeyProblem(f"key {key_id!r} was revoked; create a new key instead")
    if old.expires_at is not None and old.expires_at <= now:
        raise KeyProblem(f"key {key_id!r} expired at {old.expires_at.isoformat()}; create a new key instead")
    successor = await repository.successor_of(session, key_id)
    if successor is not None:
        raise KeyProblem(f"key {key_id!r} was already rotated to {successor!r}; rotate or revoke that one")
    if expires_at is None and expires_in is None and old.expires_at is not None:
        expires_in = old.expires_at - old.created_at
    expires_at = _expiry(now, expires_at, expires_in)
    key, new = await _issue(
        session,
        Role(old.role),
        old.district_code,
        old.label,
        expires_at=expires_at,
        operator=operator,
        now=now,
        predecessor=key_id,
    )
    ends = now + grace if old.expires_at is None else min(old.expires_at, now + grace)
    old.expires_at = ends
    await session.flush()
    await _record_event(session, key_id, KeyEventKind.ROTATED, operator, related_key_id=new.key_id, expires_at=ends)
    return key, new, _record(old)


async def list_keys(session: AsyncSession, *, active_only: bool = False) -> list[KeyRecord]:
    """Every key, or only those in force now (neither revoked nor expired)."""
    records = [_record(row) for row in await repository.all_keys(session)]
    if active_only:
        now = await repository.database_now(session)
        return [record for record in records if record.in_force(now)]
    return records


async def revoke_key(session: AsyncSession, key_id: str, *, operator: str | None = None) -> None:
    key_id = _key_id_of(key_id)
    now = await repository.database_now(session)
    if not await repository.revoke(session, key_id, now):
        row = await repository.by_key_id(session, key_id)
        if row is None:
            raise KeyProblem(f"no key with id {key_id!r}")
        raise KeyProblem(f"key {key_id!r} was already revoked")
    await _record_event(session, key_id, KeyEventKind.REVOKED, operator)


async def key_events(session: AsyncSession, key_id: str | None = None) -> list[KeyEventRecord]:
    """The audit trail, oldest first: of one key, or of all."""
    return [_event_record(row) for row in await repository.events(session, _key_id_of(key_id) if key_id else None)]


async def find_key(session: AsyncSession, key_id: str) -> StoredKey | None:
    row = await repository.by_key_id(session, key_id)
    return None if row is None else StoredKey(record=_record(row), key_hash=row.key_hash)


async def all_stored_keys(session: AsyncSession) -> list[StoredKey]:
    """Every key with its hash, revoked and expired ones included: the gateway's in-memory table."""
    return [StoredKey(record=_record(row), key_hash=row.key_hash) for row in await repository.all_keys(session)]


async def record_uses(session: AsyncSession, uses: dict[str, datetime]) -> None:
    """Set each key's last use to the time given, unless a later one is already recorded (another gateway)."""
    await repository.record_uses(session, uses)
