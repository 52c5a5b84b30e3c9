from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from services.eligibility.policies import service
from services.eligibility.policies.schemas import PolicyIn, PolicyOut, PolicyPage
from shared.auth import Principal, Role, require_roles
from shared.db import SessionDep
from shared.identifiers import Storable
from shared.pagination import DEFAULT_LIMIT, AfterId, LimitQuery

router = APIRouter(prefix="/policies", tags=["policies"])

PolicyIdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]
NumberQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        description="A document number in any spelling (e.g. `渝发改规范[2024]7 号`), normalised before comparing",
    ),
    Storable,
]


@router.get("", response_model=PolicyPage, summary="The registered policies, in the order registered (public)")
async def list_policies(
    session: SessionDep, after_id: AfterId, q: NumberQuery = None, limit: LimitQuery = DEFAULT_LIMIT
) -> PolicyPage:
    return await service.list_page(session, q, after_id, limit)


@router.get("/{policy_id}", response_model=PolicyOut, summary="One registered policy (public)")
async def read_policy(session: SessionDep, policy_id: PolicyIdPath) -> PolicyOut:
    return await service.read(session, policy_id)


@router.post(
    "",
    response_model=PolicyOut,
    status_code=status.HTTP_201_CREATED,
    summary="Register a policy (city); a document number already registered, in any spelling, is a 409",
)
async def register_policy(
    session: SessionDep, body: PolicyIn, principal: Annotated[Principal, require_roles(Role.CITY)]
) -> PolicyOut:
    return await service.create(session, principal, body)
