from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from services.registry.problems import (
    INVALID,
    INVALID_PATH,
    INVALID_QUERY,
    OTHER_DISTRICT,
    OTHER_DISTRICTS_RECORDS,
)
from services.registry.projects import service
from services.registry.projects.schemas import (
    ProjectCreate,
    ProjectDuplicateProblem,
    ProjectKind,
    ProjectOut,
    ProjectPage,
)
from shared.auth import KeyHolderDep
from shared.db import SessionDep
from shared.identifiers import DistrictCode, ProjectCode, Uscc, Year
from shared.openapi import HEADERS, problems
from shared.pagination import DEFAULT_LIMIT, AfterIntegerId, LimitQuery

router = APIRouter(prefix="/projects", tags=["projects"])


@router.post(
    "",
    response_model=ProjectOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="createProject",
    summary="Register a project, platform or event",
    description="Registers an investment project (M01), a public service platform (M02) or an event (M13) with the "
    "facts its measure needs. The owner must be an enterprise of the registry, and the project lies in the "
    "owner's district (a district key: its own). The money facts are verified when the city registers the "
    "project and wait for the city when a district does. `Location` names the project created. 409 when it "
    "duplicates a standing project (the same project code, or the same owner, kind, name and year; the problem "
    "names it); 422 for an invalid body, an owner the registry does not hold, or a district other than the "
    "owner's.",
    responses={
        201: {"headers": {"Location": HEADERS["Location"]}},
        **problems(
            {
                403: OTHER_DISTRICT,
                409: (
                    "`/problems/project-duplicate`: the project duplicates a standing one (`existing_project_id`); "
                    "`/problems/conflict`: a simultaneous write got there first (retry).",
                    ProjectDuplicateProblem,
                ),
                422: INVALID,
            }
        ),
    },
)
async def create_project(
    data: ProjectCreate, session: SessionDep, principal: KeyHolderDep, response: Response
) -> ProjectOut:
    out = await service.create(session, principal, data)
    response.headers["Location"] = f"/projects/{out.id}"
    return out


@router.get(
    "",
    response_model=ProjectPage,
    operation_id="listProjects",
    summary="Projects, platforms and events",
    description="The projects in id order, a page at a time; filter by district, kind, year, owner or project code. "
    "A district key sees its own district's projects only. 422 for an invalid filter or cursor.",
    responses=problems({403: OTHER_DISTRICTS_RECORDS, 422: INVALID_QUERY}),
)
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


@router.get(
    "/{project_id}",
    response_model=ProjectOut,
    operation_id="getProject",
    summary="One project",
    description="The project with its money facts and their verification.",
    responses=problems({403: OTHER_DISTRICT, 404: "No project with this id.", 422: INVALID_PATH}),
)
async def read_project(
    project_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep, principal: KeyHolderDep
) -> ProjectOut:
    return await service.read(session, principal, project_id)
