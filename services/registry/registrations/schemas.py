from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.identifiers import Storable

RegistrationStatus = Literal["held", "confirmed", "refused"]


class RegistrationOut(BaseModel):
    """A district's registration held for the city's confirmation: its credit code's division segment (positions
    3–8) names another district."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    uscc: str
    district_code: str = Field(description="The district that asked to register it")
    division_code: str = Field(description="The district the credit code's division segment names")
    status: RegistrationStatus
    enterprise: dict[str, Any] = Field(description="The enterprise as the district sent it", validation_alias="data")
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None


class RegistrationPage(BaseModel):
    items: list[RegistrationOut]
    next_cursor: str | None


class Confirmation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str | None, Storable] = Field(default=None, max_length=1000, description="A note, if any")


class Refusal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Storable] = Field(min_length=1, max_length=1000)
