"""The register of policies, and how an award's policy is resolved to a registered one."""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.eligibility.policies import repository
from services.eligibility.policies.models import Policy
from services.eligibility.policies.numbers import DOCUMENT_NUMBER_SHAPE, normalise_document_number
from services.eligibility.policies.schemas import PolicyIn, PolicyOut, PolicyPage
from shared.auth import Principal
from shared.errors import Conflict, InvalidInput, NotFound, field_error
from shared.pagination import next_cursor

# This policy's own document number, canonical; the migration registers it (created_by "migration").
THIS_POLICY_NUMBER = "渝发改规范〔2024〕7号"

HOW_TO_REGISTER = (
    "GET /policies lists the registered policies (`q` finds one by its document number in any spelling); "
    "the city registers another with POST /policies {document_number, title, issuer, effective_from, "
    "effective_to}."
)


def is_this_policy(policy: Policy) -> bool:
    """Whether `policy` is 渝发改规范〔2024〕7号 itself (whatever spelling the caller used to name it)."""
    return policy.document_number == THIS_POLICY_NUMBER


def in_force_on(policy: Policy, day: date) -> bool:
    return policy.effective_from <= day and (policy.effective_to is None or day <= policy.effective_to)


def policy_out(policy: Policy) -> PolicyOut:
    return PolicyOut.model_validate(policy, from_attributes=True)


async def resolve(session: AsyncSession, *, policy_id: int | None, document_number: str | None) -> Policy:
    """The registered policy an award names: by `policy_id`, or by `document_number` in any spelling (the award's
    `policy` field); both given, they must name the same policy. InvalidInput (422) naming `policy_id` or `policy`
    for an unknown or malformed one, or for neither."""
    by_id: Policy | None = None
    if policy_id is not None:
        by_id = await repository.get(session, policy_id)
        if by_id is None:
            raise InvalidInput(
                f"No registered policy has the id {policy_id}. {HOW_TO_REGISTER}",
                errors=[field_error(["body", "policy_id"], f"no registered policy has the id {policy_id}")],
            )
    if document_number is None:
        if by_id is None:
            raise InvalidInput(
                f"Name the policy the award is made under: `policy_id` or `policy` (its document number). "
                f"{HOW_TO_REGISTER}",
                errors=[field_error(["body", "policy"], "a registered policy is required")],
            )
        return by_id
    try:
        canonical = normalise_document_number(document_number)
    except ValueError as error:
        raise InvalidInput(
            f"{document_number!r} is not a document number ({DOCUMENT_NUMBER_SHAPE}). {HOW_TO_REGISTER}",
            errors=[field_error(["body", "policy"], str(error))],
        ) from None
    if by_id is not None:
        if by_id.document_number != canonical:
            message = f"policy_id {by_id.id} is {by_id.document_number}, but policy names {canonical}"
            raise InvalidInput(
                f"The award names two different policies: {message}. Give one of them.",
                errors=[field_error(["body", "policy_id"], message), field_error(["body", "policy"], message)],
            )
        return by_id
    found = await repository.by_number(session, canonical)
    if found is None:
        raise InvalidInput(
            f"{canonical} is not a registered policy. {HOW_TO_REGISTER}",
            errors=[field_error(["body", "policy"], f"{canonical} is not a registered policy")],
        )
    return found


async def this_policy(session: AsyncSession) -> Policy:
    """The register's row of 渝发改规范〔2024〕7号 (the migration writes it)."""
    found = await repository.by_number(session, THIS_POLICY_NUMBER)
    if found is None:  # pragma: no cover - the migration registers it
        raise RuntimeError(f"{THIS_POLICY_NUMBER} is not in the register: run the migrations")
    return found


async def read(session: AsyncSession, policy_id: int) -> PolicyOut:
    policy = await repository.get(session, policy_id)
    if policy is None:
        raise NotFound(f"There is no policy {policy_id}.")
    return policy_out(policy)


async def list_page(session: AsyncSession, q: str | None, after_id: int | None, limit: int) -> PolicyPage:
    canonical: str | None = None
    if q is not None:
        try:
            canonical = normalise_document_number(q)
        except ValueError as error:
            raise InvalidInput(
                f"`q` finds a policy by its document number ({DOCUMENT_NUMBER_SHAPE}).",
                errors=[field_error(["query", "q"], str(error))],
            ) from None
    rows = await repository.page(session, canonical, after_id, limit + 1)
    items = [policy_out(policy) for policy in rows[:limit]]
    return PolicyPage(items=items, next_cursor=next_cursor(rows, limit, lambda policy: policy.id))


class PolicyAlreadyRegistered(Conflict):
    """The document number is registered already (PolicyAlreadyRegisteredProblem)."""

    slug = "policy-already-registered"


def _conflict(existing: Policy) -> PolicyAlreadyRegistered:
    message = f"{existing.document_number} is already registered as policy {existing.id}"
    return PolicyAlreadyRegistered(
        f"{message}: one document, one record. GET /policies/{existing.id} shows it.",
        errors=[field_error(["body", "document_number"], message)],
        existing_policy_id=existing.id,
    )


async def create(session: AsyncSession, principal: Principal, body: PolicyIn) -> PolicyOut:
    """Register a policy (the city). `body.document_number` is canonical already (the schema normalises it)."""
    if body.effective_to is not None and body.effective_to < body.effective_from:
        raise InvalidInput(
            f"effective_to {body.effective_to} is before effective_from {body.effective_from}.",
            errors=[field_error(["body", "effective_to"], "must be on or after effective_from")],
        )
    existing = await repository.by_number(session, body.document_number)
    if existing is not None:
        raise _conflict(existing)
    policy = Policy(
        document_number=body.document_number,
        title=body.title,
        issuer=body.issuer,
        effective_from=body.effective_from,
        effective_to=body.effective_to,
        created_by=principal.label,
    )
    added = await repository.add(session, policy)
    if added is None:  # registered at the same moment by another request
        raced = await repository.by_number(session, body.document_number)
        if raced is None:  # pragma: no cover - the constraint that refused it names only the number
            raise Conflict("The write conflicts with data written at the same time; nothing was written. Retry.")
        raise _conflict(raced)
    return policy_out(added)
