from typing import Annotated

from fastapi import APIRouter, Path, status

from services.ranking.methodologies import service
from services.ranking.methodologies.schemas import MethodologyCreate, MethodologyList, MethodologyOut
from shared.auth import Principal, PrincipalDep, Role, require_roles
from shared.db import SessionDep
from shared.identifiers import Storable
from shared.openapi import problems

router = APIRouter(prefix="/methodologies", tags=["methodologies"])
VersionPath = Annotated[str, Path(max_length=32, description="e.g. `2024.1`", examples=["2024.1"]), Storable]


@router.get(
    "",
    response_model=MethodologyList,
    operation_id="listMethodologies",
    summary="Every methodology version",
    description="Every published methodology version, oldest first: weights, normalisation, growth basis, minimum "
    "base, winsorisation, tie-break order and data-quality threshold; `is_default` marks the one runs use when "
    "none is named.",
)
async def list_methodologies(session: SessionDep, _: PrincipalDep) -> MethodologyList:
    return await service.list_all(session)


@router.get(
    "/{version}",
    response_model=MethodologyOut,
    operation_id="getMethodology",
    summary="One methodology version",
    description="One methodology version as published; versions never change.",
    responses=problems({404: "No methodology has this version.", 422: "The version is longer than 32 characters."}),
)
async def read_methodology(version: VersionPath, session: SessionDep, _: PrincipalDep) -> MethodologyOut:
    return await service.read(session, version)


@router.post(
    "",
    response_model=MethodologyOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="createMethodology",
    summary="Publish a new methodology version",
    description="Adds a version; left-out fields take the published default's values. Weights are given per "
    "indicator (six places at most) and must sum to exactly 1. `make_default` makes it the version runs use when "
    "none is named. A version is immutable once written.",
    responses=problems(
        {
            409: "A methodology with this version exists; versions never change, choose a new one.",
            422: "The body is invalid (weights not summing to 1, an unknown or repeated tie-break key, …); `errors` "
            "names each field.",
        }
    ),
)
async def create_methodology(
    data: MethodologyCreate, session: SessionDep, principal: Annotated[Principal, require_roles(Role.CITY)]
) -> MethodologyOut:
    return await service.create(session, principal, data)
