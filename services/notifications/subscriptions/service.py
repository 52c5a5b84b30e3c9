"""Subscriptions: who wants which events where. District keys manage their own district's subscriptions, which only
ever receive that district's events (and those of no district); the city manages every one; the auditor reads every
one but, read-only, manages only those it created itself. The city and the auditor may subscribe to every
district's events. The signing secret is shown once, in the answer that creates it."""

import base64
import secrets
import uuid
from collections.abc import Collection, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications import urls
from services.notifications.deliveries import repository as deliveries
from services.notifications.deliveries import service as delivering
from services.notifications.deliveries.schemas import DeliveryOut
from services.notifications.events import repository as events
from services.notifications.events.models import StoredEvent
from services.notifications.subscriptions import repository
from services.notifications.subscriptions.models import Subscription
from services.notifications.subscriptions.schemas import (
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionOut,
    SubscriptionPage,
    SubscriptionPatch,
)
from shared.auth import Principal, Role
from shared.clock import utcnow
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed, field_error
from shared.events import EventSource, EventType, event_data, public_path
from shared.pagination import next_cursor

NO_SUBSCRIPTION = "No subscription with this id."
MANAGERS = (Role.CITY, Role.DISTRICT, Role.AUDITOR)
# 32 random bytes: above the 24 the Standard Webhooks specification asks for at least.
SECRET_BYTES = 32


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def out(subscription: Subscription) -> SubscriptionOut:
    return SubscriptionOut.model_validate(subscription, from_attributes=True)


async def checked_url(url: str, allowed: Sequence[urls.Network], ports: Collection[int] = urls.DEFAULT_PORTS) -> str:
    try:
        await urls.check(url, allowed, ports=ports)
    except urls.UrlRefused as refused:
        raise InvalidInput(
            f"The URL cannot receive webhooks: {refused}.", errors=[field_error(["body", "url"], str(refused))]
        ) from None
    return url


def _district_filter(principal: Principal, requested: str | None) -> str | None:
    """The district a subscription's events come from: a district key's own (another: 403); the city's and the
    auditor's choice (None: every district)."""
    if principal.role is Role.DISTRICT:
        if requested is not None and requested != principal.district_code:
            raise Forbidden(f"The {principal.label} principal may subscribe only to its own district's events.")
        return principal.district_code
    return requested


async def create(
    session: AsyncSession,
    principal: Principal,
    data: SubscriptionCreate,
    allowed: Sequence[urls.Network],
    max_per_owner: int,
    ports: Collection[int] = urls.DEFAULT_PORTS,
) -> SubscriptionCreated:
    district_code = _district_filter(principal, data.district_code)
    url = await checked_url(data.url, allowed, ports)
    owner_district = principal.district_code if principal.role is Role.DISTRICT else None
    # Counted under a lock of the owner's own: two creations at once cannot both take the last place.
    await repository.lock_owner(session, principal.role.value, owner_district)
    if await repository.count_live(session, principal.role.value, owner_district) >= max_per_owner:
        raise Conflict(
            f"The {principal.label} principal already has {max_per_owner} subscriptions, the most one owner may "
            "hold: delete one first."
        )
    now = utcnow()
    subscription = Subscription(
        owner_role=principal.role.value,
        owner_district=owner_district,
        url=url,
        event_types=[event_type.value for event_type in data.event_types],
        measure_ids=data.measure_ids,
        subject_types=None if data.subject_types is None else [kind.value for kind in data.subject_types],
        district_code=district_code,
        description=data.description,
        secret=new_secret(),
        status="active",
        paused_reason=None,
        consecutive_dead=0,
        consecutive_failures=0,
        version=1,
        created_by=principal.label,
        created_at=now,
        updated_at=now,
    )
    repository.stage(session, subscription)
    await session.flush()
    return SubscriptionCreated.model_validate({**out(subscription).model_dump(), "secret": subscription.secret})


async def managed(
    session: AsyncSession, principal: Principal, subscription_id: int, *, lock: bool = False
) -> Subscription:
    subscription = await repository.live(session, subscription_id, lock=lock)
    if subscription is None:
        raise NotFound(NO_SUBSCRIPTION)
    delivering.ensure_manages(principal, subscription)
    return subscription


async def read(session: AsyncSession, principal: Principal, subscription_id: int) -> SubscriptionOut:
    subscription = await repository.live(session, subscription_id)
    if subscription is None:
        raise NotFound(NO_SUBSCRIPTION)
    delivering.ensure_reads(principal, subscription)
    return out(subscription)


async def list_page(session: AsyncSession, principal: Principal, after_id: int | None, limit: int) -> SubscriptionPage:
    owner = principal.district_code if principal.role is Role.DISTRICT else None
    rows = await repository.page(session, owner, after_id, limit)
    return SubscriptionPage(
        items=[out(row) for row in rows[:limit]], next_cursor=next_cursor(rows, limit, lambda row: row.id)
    )


def _check_version(subscription: Subscription, expected: frozenset[int] | None) -> None:
    if expected is not None and subscription.version not in expected:
        raise PreconditionFailed(
            f"The subscription is at version {subscription.version}, not one `If-Match` names: read it again."
        )


_NOT_NULL = ("url", "event_types", "status")


async def update(
    session: AsyncSession,
    principal: Principal,
    subscription_id: int,
    patch: SubscriptionPatch,
    expected: frozenset[int] | None,
    allowed: Sequence[urls.Network],
    ports: Collection[int] = urls.DEFAULT_PORTS,
) -> SubscriptionOut:
    sent = patch.model_fields_set
    for name in _NOT_NULL:
        if name in sent and getattr(patch, name) is None:
            raise InvalidInput(f"`{name}` cannot be null.", errors=[field_error(["body", name], "may not be null")])
    if "district_code" in sent:
        district_code = _district_filter(principal, patch.district_code)
    # The new URL is checked (its DNS lookup may take seconds) before the subscription is locked: a slow-resolving
    # name never keeps the relay, which reads the subscription, waiting on the row lock.
    current = await managed(session, principal, subscription_id)
    new_url = None
    if patch.url is not None and patch.url != current.url:
        new_url = await checked_url(patch.url, allowed, ports)
    subscription = await managed(session, principal, subscription_id, lock=True)
    _check_version(subscription, expected)
    changes: dict[str, object] = {}
    if patch.url is not None and patch.url != subscription.url:
        changes["url"] = new_url if new_url == patch.url else await checked_url(patch.url, allowed, ports)
    if patch.event_types is not None:
        changes["event_types"] = [event_type.value for event_type in patch.event_types]
    if "measure_ids" in sent:
        changes["measure_ids"] = patch.measure_ids
    if "subject_types" in sent:
        changes["subject_types"] = None if patch.subject_types is None else [k.value for k in patch.subject_types]
    if "district_code" in sent:
        if subscription.owner_role == Role.DISTRICT.value and district_code != subscription.owner_district:
            # The city managing a district's subscription: it stays that district's.
            raise InvalidInput(
                "A district's subscription receives its own district's events only.",
                errors=[field_error(["body", "district_code"], f"must be {subscription.owner_district}")],
            )
        changes["district_code"] = district_code
    if "description" in sent:
        changes["description"] = patch.description
    resuming = patch.status == "active" and subscription.status == "paused"
    if patch.status == "paused" and subscription.status == "active":
        changes.update(status="paused", paused_reason="manual")
    elif resuming:
        changes.update(status="active", paused_reason=None, consecutive_dead=0, consecutive_failures=0)
    changes = {name: value for name, value in changes.items() if getattr(subscription, name) != value}
    if not changes:
        return out(subscription)
    for name, value in changes.items():
        setattr(subscription, name, value)
    subscription.version += 1
    subscription.updated_at = utcnow()
    await session.flush()
    if resuming:
        await delivering.release_held(session, subscription.id)
    return out(subscription)


async def delete(
    session: AsyncSession, principal: Principal, subscription_id: int, expected: frozenset[int] | None
) -> None:
    """Soft: the subscription stops receiving and disappears from the API; its rows and log stay."""
    subscription = await managed(session, principal, subscription_id, lock=True)
    _check_version(subscription, expected)
    now = utcnow()
    subscription.deleted_at = now
    subscription.updated_at = now
    subscription.version += 1
    await deliveries.cancel_open(session, subscription.id, {"status": "cancelled", "updated_at": now})
    await session.flush()


async def ping(session: AsyncSession, principal: Principal, subscription_id: int) -> DeliveryOut:
    """A `webhook.ping` event for this subscription only, queued at once (even while paused)."""
    subscription = await managed(session, principal, subscription_id)
    now = utcnow()
    event = StoredEvent(
        id=uuid.uuid4(),
        source=EventSource.NOTIFICATIONS.value,
        type=EventType.WEBHOOK_PING.value,
        occurred_at=now,
        district_code=subscription.district_code,
        subject=f"subscription:{subscription.id}",
        data=event_data(public_path("notifications", "subscriptions", subscription.id), requested_by=principal.label),
        received_at=now,
    )
    events.stage(session, event)
    await session.flush()
    delivery = await delivering.deliver(session, subscription, event)
    return DeliveryOut(
        id=delivery.id,
        subscription_id=subscription.id,
        event_id=event.id,
        event_type=EventType.WEBHOOK_PING,
        subject=event.subject,
        status=delivery.status,
        chain=delivery.chain,
        last_status_code=None,
        next_attempt_at=None,
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
        attempts=[],
    )
