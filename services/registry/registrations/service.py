"""Held registrations: a district registering an enterprise whose credit code's division segment (positions 3–8)
names another of the 38 districts does not take the code; the registration waits for the city, which confirms it
(the enterprise is created) or refuses it. The named district's own registration works meanwhile."""

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.audit.schemas import AuditAction
from services.registry.audit.service import Change, record
from services.registry.problems import EnterpriseExists, RegistrationDecided
from services.registry.registrations import repository
from services.registry.registrations.models import EnterpriseRegistration
from services.registry.registrations.schemas import RegistrationOut, RegistrationPage
from shared.auth import Principal
from shared.clock import utcnow
from shared.errors import NotFound
from shared.pagination import page_of

if TYPE_CHECKING:
    from services.registry.enterprises.schemas import EnterpriseCreate, EnterpriseOut


def _json(registration: EnterpriseRegistration) -> dict[str, object]:
    return RegistrationOut.model_validate(registration).model_dump(mode="json")


async def hold(
    session: AsyncSession, principal: Principal, data: "EnterpriseCreate", division_code: str
) -> RegistrationOut:
    pending = await repository.held_for(session, data.uscc)
    if pending is not None:
        raise EnterpriseExists(
            f"A registration of {data.uscc} already waits for the city's confirmation (registration {pending.id}).",
            uscc=data.uscc,
            registration_id=pending.id,
        )
    registration = EnterpriseRegistration(
        uscc=data.uscc,
        district_code=data.district_code,
        division_code=division_code,
        data=data.model_dump(mode="json"),
        status="held",
        requested_by=principal.label,
        requested_at=utcnow(),
    )
    repository.add(session, registration)
    await session.flush()
    out = RegistrationOut.model_validate(registration)
    await record(
        session,
        principal,
        [
            Change(
                "hold", "enterprise_registration", str(registration.id), data.district_code, None, _json(registration)
            )
        ],
    )
    return out


async def list_page(session: AsyncSession, *, status: str | None, after_id: int | None, limit: int) -> RegistrationPage:
    rows = await repository.page(session, status=status, after_id=after_id, limit=limit + 1)
    return RegistrationPage.model_validate(page_of(rows, limit, lambda row: row["id"]))


async def _held(session: AsyncSession, registration_id: int) -> EnterpriseRegistration:
    registration = await repository.get(session, registration_id, for_update=True)
    if registration is None:
        raise NotFound(f"No enterprise registration {registration_id}.")
    if registration.status != "held":
        raise RegistrationDecided(
            f"Registration {registration_id} was {registration.status} already.",
            current_status=registration.status,
            status_now=registration.status,  # the deprecated name, for one more release
        )
    return registration


async def confirm(
    session: AsyncSession, principal: Principal, registration_id: int, note: str | None
) -> tuple[RegistrationOut, "EnterpriseOut"]:
    """The city confirms: the enterprise is created as the district sent it (409 if the code exists by now)."""
    from services.registry.enterprises import repository as enterprises
    from services.registry.enterprises import service as enterprise_service
    from services.registry.enterprises.schemas import EnterpriseCreate

    registration = await _held(session, registration_id)
    if await enterprises.exists(session, registration.uscc):
        raise EnterpriseExists(
            f"An enterprise with credit code {registration.uscc} exists by now; refuse this registration instead.",
            uscc=registration.uscc,
        )
    before = _json(registration)
    enterprise = await enterprise_service.insert_new(
        session, principal, EnterpriseCreate.model_validate(registration.data)
    )
    await _decide(session, principal, registration, "confirmed", note, before)
    return RegistrationOut.model_validate(registration), enterprise


async def refuse(session: AsyncSession, principal: Principal, registration_id: int, reason: str) -> RegistrationOut:
    registration = await _held(session, registration_id)
    before = _json(registration)
    await _decide(session, principal, registration, "refused", reason, before)
    return RegistrationOut.model_validate(registration)


async def _decide(
    session: AsyncSession,
    principal: Principal,
    registration: EnterpriseRegistration,
    status: str,
    reason: str | None,
    before: dict[str, object],
) -> None:
    registration.status = status
    registration.decided_by = principal.label
    registration.decided_at = utcnow()
    registration.reason = reason
    await session.flush()
    action: AuditAction = "confirm" if status == "confirmed" else "refuse"
    await record(
        session,
        principal,
        [
            Change(
                action,
                "enterprise_registration",
                str(registration.id),
                registration.district_code,
                before,
                _json(registration),
            )
        ],
    )
