"""The gateway's own database: API keys, stored only as hashes, and the record of what operators did with them."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.clock import utcnow
from shared.db import TYPE_ANNOTATION_MAP, make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class ApiKey(Base):
    """One caller's key. `key_id` is public (it is part of the key); only the SHA-256 of the whole key is kept.

    On PostgreSQL, triggers (migration 0002) keep a key's identity fixed, a revocation final and an expiry from
    growing, and admit a new key only with its `issued` event in the same transaction."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint("role IN ('city', 'district', 'auditor')", name="role"),
        CheckConstraint(
            "(role = 'district' AND district_code IS NOT NULL) OR (role <> 'district' AND district_code IS NULL)",
            name="district_iff_district_role",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(24), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    district_code: Mapped[str | None] = mapped_column(String(6))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # None: valid until revoked. A rotation sets the old key's to the end of its grace period.
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # Approximate (the gateway records it at most once a minute per key and process), never on the request path.
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class KeyEvent(Base):
    """One operator action on a key: who, when, what. Never updated or deleted (a trigger on PostgreSQL)."""

    __tablename__ = "key_events"
    __table_args__ = (CheckConstraint("event IN ('issued', 'rotated', 'revoked')", name="event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(24), ForeignKey("api_keys.key_id"), index=True)
    event: Mapped[str] = mapped_column(String(16))
    # The operator's name as declared (`--operator`, else the OS user that ran the command).
    operator: Mapped[str] = mapped_column(String(200))
    # Set by the server (a trigger on PostgreSQL), whatever the writer sends: the transaction's time and the role
    # that connected, which the operator cannot choose.
    at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    db_role: Mapped[str] = mapped_column(String(63), server_default=text("session_user"))
    # The OS user of the process that wrote it, as that process saw it (None for events backfilled by 0002).
    os_user: Mapped[str | None] = mapped_column(String(200))
    # A rotation names the other key on both sides: the successor on the old key's event, the predecessor on the
    # new key's issuance.
    related_key_id: Mapped[str | None] = mapped_column(String(24))
    # The key's expiry as this event left it.
    expires_at: Mapped[datetime | None] = mapped_column(default=None)


metadata = Base.metadata
