"""The notifications service's own gauges on its /metrics, sampled from its database (shared.queue.sampled_metrics):
the deliveries by status and how long ago the relay last read each producer's feed."""

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.deliveries import repository as deliveries
from services.notifications.deliveries.models import STATUSES
from services.notifications.relay import repository as relay
from shared.queue import Sampler


async def _deliveries(session: AsyncSession) -> Mapping[tuple[str, ...], float]:
    counts = await deliveries.count_by_status(session)
    # Every status, zeros included: an alert on `dead` sees a series before the first one dies.
    return {(status,): float(counts.get(status, 0)) for status in STATUSES}


async def _relay_lag(session: AsyncSession) -> Mapping[tuple[str, ...], float]:
    return {(source,): age for source, age in (await relay.read_ages(session)).items()}


DELIVERIES = Sampler(
    "notifications_deliveries",
    "Deliveries of events to webhook subscriptions by status: pending, retrying, held (the subscription is paused), "
    "succeeded, dead (every try of the schedule failed), cancelled (the subscription was deleted).",
    ("status",),
    _deliveries,
)
RELAY_LAG = Sampler(
    "notifications_relay_lag_seconds",
    "Seconds since the relay last read a producer's outbox feed (`source`) in a committed batch, empty or not: about "
    "the poll interval (0.5 s) while a worker runs and the feed answers; it grows while no worker runs, the feed is "
    "down or a batch keeps failing. No series for a source before a worker first ran.",
    ("source",),
    _relay_lag,
)
