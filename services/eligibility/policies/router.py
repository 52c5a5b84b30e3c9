from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from services.eligibility.policies import service
from services.eligibility.policies.schemas import PolicyAlreadyRegisteredProblem, PolicyIn, PolicyOut, PolicyPage
from shared.auth import Principal, Role, require_roles
from shared.db import SessionDep
from shared.identifiers import Storable
from shared.openapi import problems
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


@router.get(
    "",
    response_model=PolicyPage,
    operation_id="listPolicies",
    summary="List the registered policies",
    description="The policies awards may be made under, in the order registered, paginated by `cursor`; `q` finds "
    "one by its document number in any spelling.",
    responses=problems({422: "`q` is not a document number, or `limit`/`cursor` is invalid; `errors` names it."}),
)
async def list_policies(
    session: SessionDep, after_id: AfterId, q: NumberQuery = None, limit: LimitQuery = DEFAULT_LIMIT
) -> PolicyPage:
    return await service.list_page(session, q, after_id, limit)


@router.get(
    "/{policy_id}",
    response_model=PolicyOut,
    operation_id="getPolicy",
    summary="Get one registered policy",
    description="One policy of the register by its id.",
    responses=problems({404: "There is no policy of that id.", 422: "The id is not a whole number from 1."}),
)
async def read_policy(session: SessionDep, policy_id: PolicyIdPath) -> PolicyOut:
    return await service.read(session, policy_id)


@router.post(
    "",
    response_model=PolicyOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="createPolicy",
    summary="Register a policy",
    description="Registers a policy awards can then be made under (就高不重复 compares awards across policies). The "
    "document number is stored in its canonical form; one already registered, in any spelling, is a 409 naming "
    "the policy registered.",
    responses=problems(
        {
            409: ("The document number is registered already.", PolicyAlreadyRegisteredProblem),
            422: "The body is invalid (not a document number, `effective_to` before `effective_from`); `errors` "
            "names each field.",
        }
    ),
)
async def register_policy(
    session: SessionDep, body: PolicyIn, principal: Annotated[Principal, require_roles(Role.CITY)]
) -> PolicyOut:
    return await service.create(session, principal, body)
