"""`policy.expiring`: a registered policy whose validity ends within the notice period gets one event, once.

The notice period (`ELIGIBILITY_POLICY_EXPIRY_NOTICE_DAYS`, 30 by default) is an operational setting, not a policy
parameter: the parameters are the numbers the text of 渝发改规范〔2024〕7号 leaves open, each cited to its clause
and dated; how long before a policy's end its subscribers want to hear of it is said by no text, is the same for
every registered policy (most are not this one), and changes nothing any calculation gives. It is how the platform
is operated, so it is configured with the platform.

Once per policy: the reminder is recorded (policy_expiry_notices) with its event in one transaction. A policy
registered when its end is already within the period is reminded of at the next run; one that has already ended,
or that has no end (effective_to null), never is. A policy is never updated, so its end cannot move after the
reminder.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.eligibility.reminders import repository
from services.eligibility.reminders.models import PolicyExpiryNotice
from shared.events import EventType, event_data, public_path
from shared.outbox import record_event

SERVICE = "eligibility"


@dataclass(frozen=True)
class ExpiryReminder:
    policy_id: int
    document_number: str
    effective_to: date


async def remind_expiring(session: AsyncSession, today: date, notice_days: int) -> list[ExpiryReminder]:
    """Record `policy.expiring` for every policy ending within `notice_days` of `today` not reminded of before, in
    the caller's transaction; the reminders recorded."""
    sent: list[ExpiryReminder] = []
    await repository.lock_reminders(session)
    for policy in await repository.expiring_unnoticed(session, today, today + timedelta(days=notice_days)):
        assert policy.effective_to is not None  # the query selects policies with an end only
        event_id = await record_event(
            session,
            type=EventType.POLICY_EXPIRING,
            district_code=None,
            subject=f"policy:{policy.id}",
            data=event_data(
                public_path(SERVICE, "policies", policy.id),
                policy_id=policy.id,
                document_number=policy.document_number,
                title=policy.title,
                issuer=policy.issuer,
                effective_from=policy.effective_from.isoformat(),
                effective_to=policy.effective_to.isoformat(),
                days_left=(policy.effective_to - today).days,
                notice_days=notice_days,
            ),
        )
        repository.add_notice(
            session, PolicyExpiryNotice(policy_id=policy.id, effective_to=policy.effective_to, event_id=event_id)
        )
        sent.append(ExpiryReminder(policy.id, policy.document_number, policy.effective_to))
    return sent
