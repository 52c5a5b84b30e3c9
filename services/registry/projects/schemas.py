from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from shared.identifiers import DistrictCode, Name, Uscc, Year
from shared.money import StoredYuan, Yuan
from shared.reference import PlatformDomain

ProjectKind = Literal["investment", "platform", "event"]


class ProjectCreate(BaseModel):
    """An investment project (M01), a public service platform (M02) or an event (M13), with the facts each needs."""

    model_config = ConfigDict(extra="forbid")

    kind: ProjectKind
    owner_uscc: Uscc
    district_code: DistrictCode
    name: Name
    year: Year
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


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    owner_uscc: str
    district_code: str
    name: str
    year: int
    platform_domain: str | None
    verified_investment_yuan: StoredYuan | None
    actual_spend_yuan: StoredYuan | None
    special_major_approved: bool


class ProjectPage(BaseModel):
    items: list[ProjectOut]
    next_cursor: str | None
