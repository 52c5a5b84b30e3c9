from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from services.notifications.deliveries.schemas import DeliveryOut
from services.notifications.dependencies import SettingsDep
from services.notifications.subscriptions import service
from services.notifications.subscriptions.schemas import (
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionOut,
    SubscriptionPage,
    SubscriptionPatch,
)
from shared.auth import Principal, require_roles
from shared.db import SessionDep
from shared.etags import IfMatchDep, etag
from shared.openapi import HEADERS, problems
from shared.pagination import DEFAULT_LIMIT, MAX_ID, AfterId, LimitQuery

router = APIRouter(prefix="/subscriptions", tags=["subscriptions"])

ManagerDep = Annotated[Principal, require_roles(*service.MANAGERS)]
SubscriptionId = Annotated[int, Path(ge=1, le=MAX_ID)]
NO_SUBSCRIPTION = "No subscription with this id (or it was deleted)."
NOT_YOURS = "A district key asked for another district's subscription; services may not manage subscriptions."
# What a change (PATCH, DELETE, ping) may be refused for besides: the auditor is read-only on others' subscriptions.
NOT_YOURS_TO_CHANGE = (
    NOT_YOURS + " Or the auditor asked to change, pause, delete or ping a subscription it did not create (the "
    "city's or a district's: it reads them only); nothing is written."
)
INVALID = (
    "The body is invalid: a URL that is not http(s), carries a user name, or points at a loopback, private, "
    "link-local or reserved address (the SSRF guard); an unknown or unsubscribable event type; an unknown measure, "
    "subject type or district. `errors` names the field. Nothing was written."
)
PRECONDITION = "The subscription is not at the version `If-Match` names: read it again. Nothing was changed."


@router.post(
    "",
    response_model=SubscriptionCreated,
    status_code=status.HTTP_201_CREATED,
    operation_id="createSubscription",
    summary="Subscribe an endpoint to events",
    description="Registers a webhook endpoint for the event types given, optionally filtered by measure, subject "
    "type and district. The answer holds the signing `secret`, shown this once: every delivery is signed with it "
    "as the Standard Webhooks specification says (`webhook-id`, `webhook-timestamp`, `webhook-signature`). A "
    "district key subscribes to its own district's events only (its district is set when `district_code` is "
    "absent); the city and the auditor to any district's, or every district's. The URL is checked now and before "
    "every delivery: http(s), no userinfo, public addresses only unless the deployment allows a network.",
    responses={
        201: {"headers": {"Location": HEADERS["Location"], "ETag": HEADERS["ETag"]}},
        **problems(
            {
                403: "A district key named another district, or the key may not subscribe.",
                409: "The owner (a district's keys, the city, the auditor) already holds the most live subscriptions "
                "allowed (`NOTIFICATIONS_MAX_SUBSCRIPTIONS_PER_OWNER`, 50 by default): delete one first.",
                422: INVALID,
            }
        ),
    },
)
async def create_subscription(
    data: SubscriptionCreate,
    session: SessionDep,
    principal: ManagerDep,
    settings: SettingsDep,
    response: Response,
) -> SubscriptionCreated:
    created = await service.create(
        session,
        principal,
        data,
        settings.allowed_networks,
        settings.max_subscriptions_per_owner,
        settings.allowed_ports,
    )
    response.headers["Location"] = f"/subscriptions/{created.id}"
    response.headers["ETag"] = etag(created.version)
    return created


@router.get(
    "",
    response_model=SubscriptionPage,
    operation_id="listSubscriptions",
    summary="Your subscriptions",
    description="The subscriptions not deleted, in id order, a page at a time (the secrets are never shown again). "
    "A district key sees its own district's; the city and the auditor every one.",
    responses=problems({403: "The key may not manage subscriptions.", 422: "`limit` or `cursor` is invalid."}),
)
async def list_subscriptions(
    session: SessionDep, principal: ManagerDep, after_id: AfterId, limit: LimitQuery = DEFAULT_LIMIT
) -> SubscriptionPage:
    return await service.list_page(session, principal, after_id, limit)


@router.get(
    "/{subscription_id}",
    response_model=SubscriptionOut,
    operation_id="getSubscription",
    summary="One subscription",
    description="The subscription, its status (and why it is paused) and its version as the `ETag`; never its secret.",
    responses={
        200: {"headers": {"ETag": HEADERS["ETag"]}},
        **problems({403: NOT_YOURS, 404: NO_SUBSCRIPTION, 422: "The id is invalid."}),
    },
)
async def get_subscription(
    subscription_id: SubscriptionId, session: SessionDep, principal: ManagerDep, response: Response
) -> SubscriptionOut:
    subscription = await service.read(session, principal, subscription_id)
    response.headers["ETag"] = etag(subscription.version)
    return subscription


@router.patch(
    "/{subscription_id}",
    response_model=SubscriptionOut,
    operation_id="updateSubscription",
    summary="Change, pause or resume a subscription",
    description="Only the fields sent change (`null` clears a filter). `status: paused` holds its deliveries; "
    "`status: active` resumes it, paused by hand or for failing, and queues the held deliveries again in the "
    "order their events arrived (one held between two tries starts a new chain of tries). A new `url` passes the "
    "SSRF guard. With `If-Match` (the `ETag` of a read) the change is made only if the subscription is still at "
    "that version. The auditor changes only the subscriptions it created.",
    responses={
        200: {"headers": {"ETag": HEADERS["ETag"]}},
        **problems(
            {
                403: NOT_YOURS_TO_CHANGE + " Or a district key named another district.",
                404: NO_SUBSCRIPTION,
                412: PRECONDITION,
                422: INVALID + " Also: a field that cannot be null sent as null, or a district's subscription "
                "pointed at another district's events (by the city or the auditor).",
            }
        ),
    },
)
async def update_subscription(
    subscription_id: SubscriptionId,
    patch: SubscriptionPatch,
    session: SessionDep,
    principal: ManagerDep,
    settings: SettingsDep,
    expected: IfMatchDep,
    response: Response,
) -> SubscriptionOut:
    subscription = await service.update(
        session, principal, subscription_id, patch, expected, settings.allowed_networks, settings.allowed_ports
    )
    response.headers["ETag"] = etag(subscription.version)
    return subscription


@router.delete(
    "/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteSubscription",
    summary="Delete a subscription",
    description="The endpoint receives nothing more (deliveries not yet made are cancelled) and the subscription "
    "leaves the listings; its delivery log is kept. With `If-Match`, only if it is still at that version.",
    responses={
        204: {"description": "Deleted"},
        **problems({403: NOT_YOURS_TO_CHANGE, 404: NO_SUBSCRIPTION, 412: PRECONDITION, 422: "The id is invalid."}),
    },
)
async def delete_subscription(
    subscription_id: SubscriptionId, session: SessionDep, principal: ManagerDep, expected: IfMatchDep
) -> Response:
    await service.delete(session, principal, subscription_id, expected)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{subscription_id}/ping",
    response_model=DeliveryOut,
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="pingSubscription",
    summary="Send a test event to the endpoint",
    description="Queues a `webhook.ping` event for this subscription only, signed like every delivery, even while "
    "it is paused (to check an endpoint before resuming it). A ping is tried once, with no retry schedule: its "
    "delivery is `succeeded` or `dead` after that one try, and it never counts towards pausing a failing "
    "endpoint. The answer is the delivery: follow it in `GET /subscriptions/{id}/deliveries`.",
    responses={
        202: {"headers": {"Location": HEADERS["Location"]}},
        **problems({403: NOT_YOURS_TO_CHANGE, 404: NO_SUBSCRIPTION, 422: "The id is invalid."}),
    },
)
async def ping_subscription(
    subscription_id: SubscriptionId, session: SessionDep, principal: ManagerDep, response: Response
) -> DeliveryOut:
    delivery = await service.ping(session, principal, subscription_id)
    response.headers["Location"] = f"/subscriptions/{subscription_id}/deliveries"
    return delivery
