from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

from shared.errors import Problem
from shared.identifiers import DistrictCode, SectorCode, Storable

RegistrationStatus = TypeAliasType(
    "RegistrationStatus",
    Annotated[
        Literal["held", "confirmed", "refused"],
        Field(
            title="RegistrationStatus",
            description="`held` (waiting for the city), `confirmed` (the enterprise was created) or `refused`.",
        ),
    ],
)


class HeldEnterprise(BaseModel):
    """The enterprise a held registration would create, as the district sent it."""

    uscc: str = Field(examples=["91500103MA5U7XXXXH"])
    name: str
    district_code: DistrictCode
    sector: SectorCode
    established_on: date
    spun_off_from_manufacturer: bool
    parent_uscc: str | None
    spun_off_on: date | None


class RegistrationOut(BaseModel):
    """A district's registration held for the city's confirmation: its credit code's division segment (positions
    3–8) names another district."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    uscc: str = Field(examples=["91500103MA5U7XXXXH"])
    district_code: DistrictCode = Field(description="The district that asked to register it")
    division_code: DistrictCode = Field(description="The district the credit code's division segment names")
    status: RegistrationStatus
    enterprise: HeldEnterprise = Field(
        description="The enterprise as the district sent it", validation_alias=AliasChoices("enterprise", "data")
    )
    requested_by: str = Field(examples=["district:500103"])
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None


class RegistrationPage(BaseModel):
    items: list[RegistrationOut]
    next_cursor: str | None = Field(description="The cursor of the next page; null on the last")


class RegistrationConfirmation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str | None, Storable] = Field(default=None, max_length=1000, description="A note, if any")


class RegistrationRefusal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Storable] = Field(min_length=1, max_length=1000)


# The problem types a body of this model carries (named, with member names for generated clients).
RegistrationConflictType = TypeAliasType(
    "RegistrationConflictType",
    Annotated[
        Literal["/problems/registration-decided", "/problems/enterprise-exists", "/problems/conflict"],
        Field(
            title="RegistrationConflictType",
            description="The type of a 409 on a registration's decision",
            json_schema_extra={"x-enum-varnames": ["REGISTRATION_DECIDED", "ENTERPRISE_EXISTS", "CONFLICT"]},
        ),
    ],
)


class RegistrationConflictProblem(Problem):
    """409: the registration was decided already, or its credit code has been registered since it was held."""

    type: RegistrationConflictType = Field(
        description="`/problems/registration-decided` (with `current_status`), `/problems/enterprise-exists` (with "
        "`uscc`, on a confirmation), or `/problems/conflict` when the database refused a simultaneous write"
    )
    current_status: RegistrationStatus | None = Field(
        default=None, description="The registration's status, when it was decided already"
    )
    uscc: str | None = Field(default=None, description="The credit code, when an enterprise holds it by now")
    status_now: RegistrationStatus | None = Field(
        default=None,
        description="Deprecated: the old name of `current_status` (the same status), sent for one more release",
        json_schema_extra={"deprecated": True},
    )
