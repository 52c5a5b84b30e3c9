from typing import Annotated

from fastapi import APIRouter, Path, status

from services.registry.projects import service
from services.registry.projects.schemas import ProjectCreate, ProjectKind, ProjectOut, ProjectPage
from shared.auth import KeyHolderDep
from shared.db import SessionDep
from shared.identifiers import DistrictCode, ProjectCode, Uscc, Year
from shared.pagination import DEFAULT_LIMIT, AfterIntegerId, LimitQuery

router = APIRouter(prefix="/projects", tags=["projects"])


@router.post(
    "", response_model=ProjectOut, status_code=status.HTTP_201_CREATED, summary="Register a project, platform or event"
)
async def create_project(data: ProjectCreate, session: SessionDep, principal: KeyHolderDep) -> ProjectOut:
    return await service.create(session, principal, data)


@router.get("", response_model=ProjectPage, summary="Projects, platforms and events")
async def list_projects(
    session: SessionDep,
    principal: KeyHolderDep,
    after_id: AfterIntegerId,
    district_code: DistrictCode | None = None,
    kind: ProjectKind | None = None,
    year: Year | None = None,
    owner_uscc: Uscc | None = None,
    project_code: ProjectCode | None = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> ProjectPage:
    return await service.list_page(
        session,
        principal,
        district_code=district_code,
        kind=kind,
        year=year,
        owner_uscc=owner_uscc,
        project_code=project_code,
        after_id=after_id,
        limit=limit,
    )


@router.get("/{project_id}", response_model=ProjectOut, summary="One project")
async def read_project(
    project_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep, principal: KeyHolderDep
) -> ProjectOut:
    return await service.read(session, principal, project_id)
