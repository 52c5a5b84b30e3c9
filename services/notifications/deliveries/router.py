from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from services.notifications.deliveries import service
from services.notifications.deliveries.schemas import STATUS_MEANINGS, DeliveryOut, DeliveryPage, DeliveryStatus
from shared.auth import Principal, Role, require_roles
from shared.db import SessionDep
from shared.openapi import problems
from shared.pagination import DEFAULT_LIMIT, MAX_ID, AfterId, LimitQuery

router = APIRouter(tags=["deliveries"])

ManagerDep = Annotated[Principal, require_roles(Role.CITY, Role.DISTRICT, Role.AUDITOR)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
NOT_YOURS = "A district key asked for another district's subscription; services may not manage subscriptions."
NOT_YOURS_TO_CHANGE = (
    NOT_YOURS + " Or the auditor asked to redeliver a delivery of a subscription it did not create (the city's or a "
    "district's: it reads them only); nothing is written."
)


@router.get(
    "/subscriptions/{subscription_id}/deliveries",
    response_model=DeliveryPage,
    operation_id="listDeliveries",
    summary="The delivery log of a subscription",
    description="Each event sent (or to be sent) to the subscription, in the order the events arrived, with every "
    "try: when, the endpoint's status code, the latency, the error class (an HTTP status, `timeout`, `connection "
    "refused`, `connection failed`, `tls error`, `protocol error`, `not sent: address not allowed`). Filter by "
    "`status`. Once a delivery is `dead`, the later events of its subject go ahead: per-subject order holds only "
    "while a delivery is being retried. " + STATUS_MEANINGS,
    responses=problems(
        {
            403: NOT_YOURS,
            404: "No subscription with this id (or it was deleted).",
            422: "The id, `status`, `limit` or `cursor` is invalid.",
        }
    ),
)
async def list_deliveries(
    subscription_id: Id,
    session: SessionDep,
    principal: ManagerDep,
    after_id: AfterId,
    status: Annotated[DeliveryStatus | None, Query(description="Only deliveries in this status")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> DeliveryPage:
    return await service.list_page(session, principal, subscription_id, status, after_id, limit)


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryOut,
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="redeliverDelivery",
    summary="Send a delivery again",
    description="Starts a new chain of tries of a dead (or succeeded) delivery, on the same schedule, under the same "
    "`webhook-id` (a receiver that saw it already can dedupe by it). While the subscription is paused the delivery "
    "is held, and goes when it is resumed. A redelivery arrives after the events of its subject that went ahead "
    "while it was dead: a receiver keeping a latest state orders by the event's `occurred_at` (ties: the event id), "
    "not by arrival. The auditor redelivers only its own subscriptions' deliveries.",
    responses=problems(
        {
            403: NOT_YOURS_TO_CHANGE,
            404: "No delivery with this id (or its subscription was deleted).",
            409: "The delivery is still pending, retrying or held, or was cancelled.",
            422: "The id is invalid.",
        }
    ),
)
async def redeliver_delivery(delivery_id: Id, session: SessionDep, principal: ManagerDep) -> DeliveryOut:
    return await service.redeliver(session, principal, delivery_id)
