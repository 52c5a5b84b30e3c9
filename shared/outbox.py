"""The transactional outbox: events written in the transaction of the change that causes them, and a gap-free feed.

Each producer (registry, eligibility, ranking) has a table `outbox_events` in its own database. A service records an
event with `record_event` in the session of the change (never committing): the event exists if and only if the
change commits. The database refuses UPDATE, DELETE and TRUNCATE on the table (the trigger below, as audit_log's):
an event once committed is never rewritten.

The notifications service pulls `GET /outbox/events?after=<cursor>` (signed as the service; internal, never routed
by the gateway). The feed is ordered by `(txid, seq)`: the id of the transaction that wrote the event, then the
row's own sequence. A sequence alone is not a safe cursor: a transaction that took seq 7 may commit after one that
took seq 8, and a reader that had passed 8 would never see 7. The feed therefore serves only rows whose transaction
is older than the oldest transaction still running (`pg_snapshot_xmin` of the statement's snapshot): every such
transaction has ended, and every transaction that ends later has a larger id, so nothing can appear behind the
cursor. The price: a transaction left open anywhere in the PostgreSQL cluster (ids are cluster-wide) holds the feed
back until it ends; reads without a transaction id (plain SELECTs) do not.
"""

import base64
import binascii
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, TypeAdapter
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    String,
    Table,
    Uuid,
    insert,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Role, require_roles
from shared.clock import utcnow
from shared.db import SessionDep, make_metadata
from shared.errors import InvalidInput, field_error
from shared.events import Event, EventData, EventType
from shared.identifiers import DistrictCode
from shared.openapi import problems

TABLE_NAME = "outbox_events"
# The top-level transaction's id (xid8, with its epoch: never wraps around) as a bigint.
CURRENT_TXID = "(pg_current_xact_id()::text::bigint)"
# The oldest transaction still running anywhere in the cluster, as seen by the statement's snapshot.
_HORIZON = "(pg_snapshot_xmin(pg_current_snapshot())::text::bigint)"

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
MAX_BIGINT = 2**63 - 1


def outbox_table(metadata: MetaData) -> Table:
    """The table on a service's own metadata (so that its migrations and `alembic check` see it)."""
    return Table(
        TABLE_NAME,
        metadata,
        Column("seq", BigInteger, Identity(always=True), primary_key=True),
        Column("id", Uuid, nullable=False, unique=True),
        Column("txid", BigInteger, nullable=False, server_default=text(CURRENT_TXID)),
        Column("type", String(64), nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("district_code", String(6), nullable=True),
        Column("subject", String(200), nullable=False),
        Column("data", JSONB, nullable=False),
        # The feed's order and its cursor's comparison.
        Index(f"ix_{TABLE_NAME}_txid_seq", "txid", "seq"),
    )


_TABLE = outbox_table(make_metadata())


# ---- the migration's DDL --------------------------------------------------------------------------------------


def append_only_ddl(table: str = TABLE_NAME) -> list[str]:
    """The statements that make `table` append-only (for a migration's upgrade, after the table is created)."""
    return [
        f"""
CREATE FUNCTION {table}_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{table} is append-only: % refused', TG_OP;
END;
$$
""",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_refuse_change()",
    ]


def drop_append_only_ddl(table: str = TABLE_NAME) -> list[str]:
    """The statements that undo `append_only_ddl` (for a migration's downgrade, before the table is dropped)."""
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"DROP FUNCTION IF EXISTS {table}_refuse_change()",
    ]


# ---- recording ----------------------------------------------------------------------------------------------------

_DISTRICT: TypeAdapter[str | None] = TypeAdapter(DistrictCode | None)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to record (see record_events)."""

    type: EventType
    district_code: str | None
    subject: str
    data: dict[str, Any]
    occurred_at: datetime | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)


def _row(event: NewEvent, now: datetime) -> dict[str, Any]:
    if event.type is EventType.WEBHOOK_PING:
        raise ValueError("webhook.ping is the notifications service's own; no producer records it")
    # A bad event is a bug of the producer: found here, in its transaction, not by the consumers of the feed.
    EventData.model_validate(event.data)
    return {
        "id": event.id,
        "type": str(event.type),
        "occurred_at": event.occurred_at or now,
        "district_code": _DISTRICT.validate_python(event.district_code),
        "subject": event.subject,
        "data": event.data,
    }


async def record_events(session: AsyncSession, events: Sequence[NewEvent]) -> list[uuid.UUID]:
    """Stage `events` in the caller's transaction (one INSERT; no commit): they exist iff the transaction commits.

    The INSERT runs at once (pending ORM changes are flushed before it, as for any statement of the session)."""
    if not events:
        return []
    now = utcnow()
    rows = [_row(event, now) for event in events]
    await session.execute(insert(_TABLE), rows)
    return [row["id"] for row in rows]


async def record_event(
    session: AsyncSession,
    *,
    type: EventType,
    district_code: str | None,
    subject: str,
    data: dict[str, Any],
    occurred_at: datetime | None = None,
) -> uuid.UUID:
    """Stage one event in the caller's transaction (no commit) and return its id.

    `data` is JSON: it must hold `links.self` (shared.events.event_data builds it) and, where they apply,
    `measure_id`, `subject_type`, `year`. `occurred_at` defaults to now."""
    event = NewEvent(type=type, district_code=district_code, subject=subject, data=data, occurred_at=occurred_at)
    (event_id,) = await record_events(session, [event])
    return event_id


# ---- the feed ---------------------------------------------------------------------------------------------------

_CURSOR = re.compile(r"^(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})$")
START = (0, 0)


def encode_cursor(position: tuple[int, int]) -> str:
    txid, seq = position
    return base64.urlsafe_b64encode(f"{txid}.{seq}".encode()).decode().rstrip("=")


def _invalid_cursor() -> InvalidInput:
    return InvalidInput(
        "The cursor is not one this feed issued.", errors=[field_error(["query", "after"], "invalid cursor")]
    )


def decode_cursor(cursor: str | None) -> tuple[int, int]:
    """The (txid, seq) a feed cursor carries (the start without one); a 422 problem naming `after` if it is not one
    this feed issues."""
    if cursor is None:
        return START
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii"))
        match = _CURSOR.match(raw.decode("ascii"))
    except (binascii.Error, ValueError):  # UnicodeError is a ValueError
        raise _invalid_cursor() from None
    if match is None or encode_cursor((int(match[1]), int(match[2]))) != cursor:
        raise _invalid_cursor()
    txid, seq = int(match[1]), int(match[2])
    if txid > MAX_BIGINT or seq > MAX_BIGINT:
        raise _invalid_cursor()
    return txid, seq


async def feed_rows(session: AsyncSession, after: tuple[int, int], limit: int) -> list[dict[str, Any]]:
    """Up to `limit` events after `after` in (txid, seq) order, of transactions older than every running one."""
    table = _TABLE
    statement = (
        select(table)
        .where(table.c.txid < text(_HORIZON), tuple_(table.c.txid, table.c.seq) > tuple_(*after))
        .order_by(table.c.txid, table.c.seq)
        .limit(limit)
    )
    return [dict(row) for row in (await session.execute(statement)).mappings()]


class OutboxPage(BaseModel):
    """A page of the feed: the events after the cursor given, and the cursor to ask for the next ones with."""

    items: list[Event]
    cursor: str = Field(description="The cursor after the last item (the one given, when there are none).")


async def read_feed(session: AsyncSession, source: str, after: tuple[int, int], limit: int) -> OutboxPage:
    rows = await feed_rows(session, after, limit)
    position = (rows[-1]["txid"], rows[-1]["seq"]) if rows else after
    items = [
        {
            "id": row["id"],
            "type": row["type"],
            "occurred_at": row["occurred_at"],
            "source": source,
            "district_code": row["district_code"],
            "subject": row["subject"],
            "data": row["data"],
        }
        for row in rows
    ]
    return OutboxPage.model_validate({"items": items, "cursor": encode_cursor(position)})


AfterQuery = Annotated[
    str | None, Query(max_length=64, description="`cursor` of the previous page; absent: from the start")
]
FeedLimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many events")]


def outbox_router(source: str) -> APIRouter:
    """`GET /outbox/events` of the service `source`: for the notifications service only (role `service`), not in
    the service's document, never routed by the gateway."""
    router = APIRouter(prefix="/outbox", tags=["outbox"])

    @router.get(
        "/events",
        response_model=OutboxPage,
        operation_id="listOutboxEvents",
        summary="The events recorded so far, in order",
        description="The events of committed transactions after `after`, in (transaction, sequence) order, held "
        "back while an older transaction is still running (so that none can appear behind the cursor). For the "
        "notifications service only.",
        dependencies=[require_roles(Role.SERVICE)],
        include_in_schema=False,
        responses=problems(
            {
                401: "The request is not signed, or not signed by a service.",
                403: "Only a service of this system reads the feed.",
                422: "`after` is not a cursor this feed issued, or `limit` is out of range.",
            }
        ),
    )
    async def list_outbox_events(
        session: SessionDep, after: AfterQuery = None, limit: FeedLimitQuery = DEFAULT_LIMIT
    ) -> OutboxPage:
        return await read_feed(session, source, decode_cursor(after), limit)

    return router
