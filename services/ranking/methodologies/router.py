from typing import Annotated

from fastapi import APIRouter, Path, status

from services.ranking.methodologies import service
from services.ranking.methodologies.schemas import MethodologyCreate, MethodologyList, MethodologyOut
from shared.auth import Principal, PrincipalDep, Role, require_roles
from shared.db import SessionDep
from shared.identifiers import Storable

router = APIRouter(prefix="/methodologies", tags=["methodologies"])
VersionPath = Annotated[str, Path(max_length=32, description="e.g. `2024.1`"), Storable]


@router.get("", response_model=MethodologyList, summary="Every methodology version, oldest first (public)")
async def list_methodologies(session: SessionDep, _: PrincipalDep) -> MethodologyList:
    return await service.list_all(session)


@router.get("/{version}", response_model=MethodologyOut, summary="One methodology version (public)")
async def read_methodology(version: VersionPath, session: SessionDep, _: PrincipalDep) -> MethodologyOut:
    return await service.read(session, version)


@router.post(
    "",
    response_model=MethodologyOut,
    status_code=status.HTTP_201_CREATED,
    summary="Publish a new methodology version (city); versions are immutable, 409 if it exists",
)
async def create_methodology(
    data: MethodologyCreate, session: SessionDep, principal: Annotated[Principal, require_roles(Role.CITY)]
) -> MethodologyOut:
    return await service.create(session, principal, data)
