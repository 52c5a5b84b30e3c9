"""The delivery task: one try of one delivery, as a procrastinate job of the worker.

A try reads the delivery (nothing to do if it was cancelled, held or already made), checks the URL again (the SSRF
guard: a name may resolve elsewhere now), signs the event as the Standard Webhooks specification says and POSTs it
to the address just checked, without following redirects, within the timeouts; then logs the try. A 2xx is a
success; anything else is retried on the schedule (`NOTIFICATIONS_RETRY_SCHEDULE_SECONDS`) by raising, so that the
job — and with it the later deliveries of the same subject to the same endpoint, which share its lock — waits for
the retry. After the last try the delivery is dead. An endpoint whose tries failed
`NOTIFICATIONS_PAUSE_AFTER_FAILED_TRIES` times in a row, or whose deliveries died `NOTIFICATIONS_PAUSE_AFTER_DEAD`
times in a row, is paused (`failing`) until its owner resumes it: its later deliveries and those waiting for a retry
are held. A ping is tried once (no schedule) and never counted by these breakers.
"""

import asyncio
import ssl
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx
import procrastinate
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from services.notifications import urls
from services.notifications.deliveries import repository
from services.notifications.deliveries.models import Delivery, DeliveryAttempt
from services.notifications.events import repository as events
from services.notifications.events.service import wire
from services.notifications.settings import NotificationsSettings
from services.notifications.subscriptions import repository as subscriptions
from services.notifications.subscriptions.models import Subscription
from shared.clock import utcnow
from shared.events import EventType
from shared.logging import get_logger
from shared.queue import ScheduleRetry, worker_resources

logger = get_logger("services.notifications.deliveries")

USER_AGENT = "cq-producer-services-webhooks/1.0"
MAX_ERROR = 500


class DeliveryFailed(Exception):
    """The endpoint did not take the event this time: procrastinate retries the job on the schedule."""


@dataclass(frozen=True, slots=True)
class WebhookClients:
    """The worker's HTTP client of the endpoints (no redirects, no proxies from the environment: a proxy would
    resolve the name itself, after the guard)."""

    http: httpx.AsyncClient

    @classmethod
    def make(cls, settings: NotificationsSettings) -> "WebhookClients":
        timeout = httpx.Timeout(settings.delivery_timeout_seconds, connect=settings.delivery_connect_seconds)
        return cls(httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False, cookies=None))

    async def aclose(self) -> None:
        await self.http.aclose()


@dataclass(frozen=True, slots=True)
class Prepared:
    url: str
    secret: str
    event_id: str
    body: str
    ping: bool


async def _locked(session: AsyncSession, delivery_id: int) -> tuple[Subscription, Delivery] | None:
    """The delivery and its subscription, locked in the order every writer takes them (the subscription first, as a
    resume or a delete does), so that a try and a change of the subscription never deadlock."""
    found = await repository.get(session, delivery_id)
    if found is None:
        return None
    subscription = await subscriptions.for_delivery(session, found.subscription_id)
    delivery = await repository.get(session, delivery_id, lock=True)
    assert subscription is not None and delivery is not None  # a foreign key; deliveries are never deleted
    return subscription, delivery


async def _prepare(session: AsyncSession, delivery_id: int, chain: int) -> Prepared | None:
    """What to send, or None when there is nothing to do: another chain runs now, the delivery was made or
    cancelled, or the subscription was deleted (cancelled) or paused (held until it is resumed)."""
    locked = await _locked(session, delivery_id)
    if locked is None:
        return None
    subscription, delivery = locked
    if delivery.chain != chain or delivery.status not in ("pending", "retrying"):
        return None
    event = await events.get(session, delivery.event_id)
    assert event is not None  # a foreign key
    ping = event.type == EventType.WEBHOOK_PING.value
    if subscription.deleted_at is not None or (subscription.status == "paused" and not ping):
        delivery.status = "cancelled" if subscription.deleted_at is not None else "held"
        delivery.updated_at = utcnow()
        return None
    return Prepared(
        url=subscription.url,
        secret=subscription.secret,
        event_id=str(event.id),
        body=wire(event).model_dump_json(),
        ping=ping,
    )


async def _send(client: httpx.AsyncClient, endpoint: urls.Endpoint, prepared: Prepared) -> int:
    """POST the signed event to the checked address (the name's own `Host` and TLS server name); its status."""
    now = utcnow()
    signature = Webhook(prepared.secret).sign(prepared.event_id, now, prepared.body)
    url = httpx.URL(prepared.url)
    address = endpoint.addresses[0]
    request = client.build_request(
        "POST",
        url.copy_with(host=str(address)),
        content=prepared.body.encode(),
        headers={
            "Host": url.netloc.decode("ascii"),
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": prepared.event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        },
        extensions={"sni_hostname": endpoint.host} if endpoint.scheme == "https" else {},
    )
    # The answer's body is never read: only its status counts.
    response = await client.send(request, stream=True, follow_redirects=False)
    await response.aclose()
    return response.status_code


def error_class(error: httpx.HTTPError) -> str:
    """The caller-visible words for a failed request: a class, never the details (an address, a TLS message, a
    server's banner), which go to the worker's log only — the delivery log is no probe of other networks."""
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    if isinstance(error, httpx.ConnectError):
        causes: list[BaseException] = []
        cause: BaseException | None = error
        while cause is not None and len(causes) < 10:
            causes.append(cause)
            cause = cause.__cause__ or cause.__context__
        if any(isinstance(item, ConnectionRefusedError) for item in causes) or "refused" in str(error).lower():
            return "connection refused"
        if any(isinstance(item, ssl.SSLError) for item in causes):
            return "tls error"
        return "connection failed"
    if isinstance(error, httpx.RemoteProtocolError | httpx.LocalProtocolError):
        return "protocol error"
    return "request failed"


async def _attempt(
    client: httpx.AsyncClient, settings: NotificationsSettings, prepared: Prepared
) -> tuple[int | None, str | None]:
    try:
        endpoint = await urls.check(prepared.url, settings.allowed_networks, ports=settings.allowed_ports)
    except urls.UrlRefused as refused:
        logger.info("delivery not sent: the address guard refused it", url=prepared.url, why=str(refused))
        return None, "not sent: address not allowed"
    try:
        return await _send(client, endpoint, prepared), None
    except httpx.HTTPError as error:
        logger.info("delivery failed", url=prepared.url, error=f"{type(error).__name__}: {error}"[:MAX_ERROR])
        return None, error_class(error)


async def _try(
    client: httpx.AsyncClient, settings: NotificationsSettings, prepared: Prepared
) -> tuple[int | None, str | None]:
    """One try: the endpoint's status, or why there was none. The whole try — the address check and its DNS
    lookup, connect, send, the answer's status line and headers — has one deadline (`delivery_timeout_seconds`):
    httpx's own timeouts are per read, so an endpoint dripping bytes would otherwise hold a slot for hours."""
    try:
        async with asyncio.timeout(settings.delivery_timeout_seconds):
            return await _attempt(client, settings, prepared)
    except TimeoutError:
        return None, "timeout"


async def _record(
    session: AsyncSession,
    settings: NotificationsSettings,
    delivery_id: int,
    attempt: int,
    status_code: int | None,
    error: str | None,
    latency_ms: int,
) -> str:
    """Log the try and move the delivery on; its status afterwards."""
    locked = await _locked(session, delivery_id)
    assert locked is not None
    subscription, delivery = locked
    event = await events.get(session, delivery.event_id)
    assert event is not None
    succeeded = status_code is not None and 200 <= status_code < 300
    now = utcnow()
    repository.stage_attempt(
        session,
        DeliveryAttempt(
            delivery_id=delivery.id,
            chain=delivery.chain,
            attempt=attempt,
            outcome="succeeded" if succeeded else "failed",
            status_code=status_code,
            latency_ms=latency_ms,
            error=error if error is not None or succeeded else f"HTTP {status_code}",
            at=now,
        ),
    )
    delivery.attempts = attempt
    delivery.last_status_code = status_code
    delivery.last_error = None if succeeded else (error or f"HTTP {status_code}")
    delivery.updated_at = now
    if delivery.status not in ("pending", "retrying"):  # cancelled (deleted) while it was being sent
        return delivery.status
    ping = event.type == EventType.WEBHOOK_PING.value
    if succeeded:
        delivery.status, delivery.next_attempt_at = "succeeded", None
        if not ping:
            subscription.consecutive_dead = 0
            subscription.consecutive_failures = 0
        return delivery.status
    if ping:  # one try only, never counted by the breakers
        delivery.status, delivery.next_attempt_at = "dead", None
        return delivery.status
    subscription.consecutive_failures += 1
    if attempt >= settings.tries:
        delivery.status, delivery.next_attempt_at = "dead", None
        subscription.consecutive_dead += 1
    else:
        delivery.status = "retrying"
        delivery.next_attempt_at = now + timedelta(seconds=settings.retry_schedule_seconds[attempt - 1])
    if subscription.status == "active" and (
        subscription.consecutive_failures >= settings.pause_after_failed_tries
        or subscription.consecutive_dead >= settings.pause_after_dead
    ):
        subscription.status, subscription.paused_reason = "paused", "failing"
        subscription.version += 1
        subscription.updated_at = now
        logger.warning(
            "subscription paused: its tries keep failing",
            subscription_id=subscription.id,
            consecutive_failures=subscription.consecutive_failures,
            consecutive_dead=subscription.consecutive_dead,
        )
    if delivery.status == "retrying" and subscription.status == "paused":
        # Held, not retried: it goes again (a new chain of tries) when the subscription is resumed.
        delivery.status, delivery.next_attempt_at = "held", None
    return delivery.status


async def deliver_once(
    sessions: async_sessionmaker[AsyncSession],
    settings: NotificationsSettings,
    client: httpx.AsyncClient,
    delivery_id: int,
    chain: int,
    attempt: int,
) -> str | None:
    """Try the delivery (try number `attempt` of its chain); its status afterwards (None: nothing was tried)."""
    async with sessions.begin() as session:
        prepared = await _prepare(session, delivery_id, chain)
    if prepared is None:
        return None
    started = time.perf_counter()
    status_code, error = await _try(client, settings, prepared)
    latency_ms = round((time.perf_counter() - started) * 1000)
    async with sessions.begin() as session:
        return await _record(session, settings, delivery_id, attempt, status_code, error, latency_ms)


async def deliver(context: procrastinate.JobContext, delivery_id: int, chain: int) -> None:
    """The task `notifications:deliver`: one try of the delivery's chain `chain`."""
    resources = worker_resources(context)
    settings: NotificationsSettings = resources.settings
    clients: WebhookClients = resources.http.webhooks
    attempt = context.job.attempts + 1
    status = await deliver_once(resources.sessions, settings, clients.http, delivery_id, chain, attempt)
    if status == "retrying":
        raise DeliveryFailed(f"delivery {delivery_id}: try {attempt} of {settings.tries} failed; retried later")


def make_blueprint(settings: NotificationsSettings) -> procrastinate.Blueprint:
    """The worker's tasks, retried on its schedule. A blueprint per worker: procrastinate renames the tasks of the
    blueprint an app loads, so one blueprint serves one app."""
    blueprint = procrastinate.Blueprint()
    blueprint.task(name="deliver", pass_context=True, retry=ScheduleRetry(tuple(settings.retry_schedule_seconds)))(
        deliver
    )
    return blueprint
