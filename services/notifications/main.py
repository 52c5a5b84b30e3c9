"""The notifications service: `uvicorn --factory services.notifications.main:create_app`; its worker (the relay and
the deliveries): `python -m services.notifications.worker`."""

from fastapi import FastAPI

from services.notifications import CODE_VERSION
from services.notifications.deliveries.router import router as deliveries_router
from services.notifications.events.router import router as events_router
from services.notifications.metrics import DELIVERIES, RELAY_LAG
from services.notifications.settings import NotificationsSettings
from services.notifications.subscriptions.router import router as subscriptions_router
from shared.app import create_service_app
from shared.queue import QUEUE_JOBS, sampled_metrics

DESCRIPTION = """主动推送 under 渝府发〔2024〕18号 第（三十二）条: the system's domain events — an award's every
step, a published ranking, an amended parameter, an enterprise newly (or no longer) eligible, verified figures, a
policy about to expire — pushed to the webhook endpoints of the districts, the city and the auditor, signed as the
Standard Webhooks specification says, at least once, in order per subject, retried over hours, with a delivery log,
manual redelivery and the automatic pause of an endpoint that keeps failing; and the same events as a pull feed."""

TAGS = [
    {
        "name": "subscriptions",
        "description": "Webhook endpoints and the events each receives: a district's own district's, the city's "
        "and the auditor's any. The signing secret is shown once.",
    },
    {"name": "deliveries", "description": "Each event sent to a subscription, with every try; manual redelivery."},
    {"name": "events", "description": "The events a key may see, as a pull feed (the webhooks' body)."},
]


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    return create_service_app(
        settings=settings,
        title="Notifications",
        version=CODE_VERSION.removeprefix("notifications-"),
        description=DESCRIPTION,
        routers=[subscriptions_router, deliveries_router, events_router],
        lifespan_hooks=[sampled_metrics(QUEUE_JOBS, DELIVERIES, RELAY_LAG)],
        tags=TAGS,
    )
