from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypeAliasType

from services.registry.verification.schemas import WithVerification
from shared.errors import Problem
from shared.identifiers import DistrictCode, Name, ProjectCode, Uscc, Year
from shared.money import StoredYuan, Yuan
from shared.policy.vocabulary import PlatformDomain

ProjectKind = TypeAliasType(
    "ProjectKind",
    Annotated[
        Literal["investment", "platform", "event"],
        Field(
            title="ProjectKind",
            description="What applies for money: an `investment` project (M01), a public service `platform` (M02) "
            "or an `event` (M13).",
        ),
    ],
)


class ProjectCreate(BaseModel):
    """An investment project (M01), a public service platform (M02) or an event (M13), with the facts each needs.

    One real-world subject, one record: `project_code` is unique, and so is owner + kind + name (NFKC, whitespace
    removed) + year; a duplicate is a 409 naming the existing record (`existing_project_id`). The owner must be an
    enterprise of the registry; the project's district is the owner's.
    """

    model_config = ConfigDict(extra="forbid")

    kind: ProjectKind
    owner_uscc: Uscc
    district_code: DistrictCode | None = Field(default=None, description="Default and must be: the owner's district")
    name: Name
    year: Year
    project_code: ProjectCode | None = Field(default=None, description="项目代码, where the project has one")
    platform_domain: PlatformDomain | None = None
    verified_investment_yuan: Yuan | None = None
    actual_spend_yuan: Yuan | None = None
    special_major_approved: bool = False

    @model_validator(mode="after")
    def _facts_fit_kind(self) -> "ProjectCreate":
        problems: list[str] = []
        if self.kind in ("investment", "platform") and self.verified_investment_yuan is None:
            problems.append(f"a {self.kind} needs verified_investment_yuan")
        if self.kind == "platform" and self.platform_domain is None:
            problems.append("a platform needs platform_domain")
        if self.kind != "platform" and self.platform_domain is not None:
            problems.append("platform_domain is only for platforms")
        if self.kind == "event" and self.actual_spend_yuan is None:
            problems.append("an event needs actual_spend_yuan")
        if self.kind != "event" and self.actual_spend_yuan is not None:
            problems.append("actual_spend_yuan is only for events")
        if self.kind == "event" and self.verified_investment_yuan is not None:
            problems.append("verified_investment_yuan is not for events")
        if self.kind != "investment" and self.special_major_approved:
            problems.append("special_major_approved is only for investment projects")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class ProjectOut(WithVerification):
    """A project; its `verification` covers its money facts (verified investment, actual spend, special major)."""

    id: int
    kind: ProjectKind
    owner_uscc: str = Field(examples=["91500103MA5U7XXXXH"])
    district_code: DistrictCode
    name: str
    year: int
    project_code: str | None = Field(examples=["2024-500103-65-03-012345"])
    platform_domain: PlatformDomain | None
    verified_investment_yuan: StoredYuan | None
    actual_spend_yuan: StoredYuan | None
    special_major_approved: bool
    duplicate_of_id: int | None = Field(
        description="Set on a record found to duplicate an earlier one (kept for history)"
    )


class ProjectPage(BaseModel):
    items: list[ProjectOut]
    next_cursor: str | None = Field(description="The cursor of the next page; null on the last")


# The problem types a body of this model carries (named, with member names for generated clients).
ProjectConflictType = TypeAliasType(
    "ProjectConflictType",
    Annotated[
        Literal["/problems/project-duplicate", "/problems/conflict"],
        Field(
            title="ProjectConflictType",
            description="The type of a 409 on a project",
            json_schema_extra={"x-enum-varnames": ["PROJECT_DUPLICATE", "CONFLICT"]},
        ),
    ],
)


class ProjectDuplicateProblem(Problem):
    """409: the project would duplicate a standing one (the same project code, or the same owner, kind, name and
    year)."""

    type: ProjectConflictType = Field(
        description="`/problems/project-duplicate`, or `/problems/conflict` when the database refused a "
        "simultaneous write"
    )
    existing_project_id: int | None = Field(
        default=None, description="The standing project; absent on `/problems/conflict`"
    )
