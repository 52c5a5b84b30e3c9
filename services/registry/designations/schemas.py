from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.errors import Problem
from shared.identifiers import DistrictCode, Name, SectorCode, Storable, Uscc, Year


class DesignationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uscc: Uscc = Field(description="The enterprise designated: one of the registry")
    year: Year = Field(description="The year the designation is made (not a year still to come)")
    document: Name = Field(
        examples=["渝发改服务〔2025〕12号"], description="The notice that makes the designation, as it is written"
    )


class DesignationRevocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Storable] = Field(min_length=1, max_length=1000, description="Why it is revoked")

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a revocation needs a reason")
        return value


class DesignationRevocation(BaseModel):
    """Who revoked a designation, when, and why."""

    revoked_at: datetime
    revoked_by: str
    reason: str


class DesignationOut(BaseModel):
    """A 市级领军企业 designation, with the enterprise's district and sector as they are now."""

    id: int
    uscc: str = Field(examples=["91500103MA5U7XXXXH"])
    enterprise_name: str
    district_code: DistrictCode = Field(description="The enterprise's district (now)")
    sector: SectorCode = Field(description="The enterprise's sector (now)")
    year: int
    document: str = Field(examples=["渝发改服务〔2025〕12号"])
    designated_by: str = Field(examples=["city"])
    designated_at: datetime
    live: bool = Field(description="Not revoked")
    revocation: DesignationRevocation | None

    @model_validator(mode="before")
    @classmethod
    def _nest(cls, data: Any) -> Any:
        """A plain row's flat revocation columns become `live` and the `revocation` object."""
        if isinstance(data, dict) and "revocation" not in data and "revoked_at" in data:
            data = dict(data)
            revoked = {name: data.pop(name) for name in ("revoked_at", "revoked_by", "revocation_reason")}
            data["live"] = revoked["revoked_at"] is None
            data["revocation"] = (
                None
                if revoked["revoked_at"] is None
                else {
                    "revoked_at": revoked["revoked_at"],
                    "revoked_by": revoked["revoked_by"],
                    "reason": revoked["revocation_reason"],
                }
            )
        return data


class DesignationPage(BaseModel):
    items: list[DesignationOut]
    next_cursor: str | None = Field(description="The cursor of the next page; null on the last")


class DesignationConflictProblem(Problem):
    """409: the enterprise already has a live designation."""

    type: Literal["/problems/designation-exists"] = Field(description="This problem's type.")
    existing_designation_id: int = Field(description="The live designation; revoke it first")
