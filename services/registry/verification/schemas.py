from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.identifiers import Storable

VerificationStatus = Literal["submitted", "verified", "rejected"]
RecordKind = Literal["enterprise_year", "cluster_evaluation", "cluster_year", "building", "building_year", "project"]
Decision = Literal["verify", "reject"]
# The queue's sort key, which its cursor carries: the record kind and the record's id (e.g. `91500103MA5U7XXXX0/2025`).
QueueKey = tuple[RecordKind, Annotated[str, Field(min_length=1, max_length=64), Storable]]
# The flat columns of services.registry.verification.models.Verified, in the order of VerificationOut's fields.
FLAT_KEYS = ("verification_status", "submitted_by", "submitted_at", "verified_by", "verified_at", "verification_reason")
NESTED_KEYS = ("status", "submitted_by", "submitted_at", "verified_by", "verified_at", "reason")


class VerificationOut(BaseModel):
    """Who submitted a fact that decides money, and whether (and when) its authority, the city, verified it."""

    status: VerificationStatus = Field(description="submitted (waits for the city), verified, or rejected")
    submitted_by: str = Field(examples=["district:500103", "city"])
    submitted_at: datetime
    verified_by: str | None = Field(description="`city` once verified or rejected")
    verified_at: datetime | None
    reason: str | None = Field(description="Why the city rejected it (or a note to its verification)")


def nest_verification(data: Any) -> Any:
    """A before-validator: a plain row's flat verification columns become its `verification` object."""
    if isinstance(data, dict) and "verification" not in data and "verification_status" in data:
        data = dict(data)
        data["verification"] = {nested: data.pop(flat) for flat, nested in zip(FLAT_KEYS, NESTED_KEYS, strict=True)}
    return data


class WithVerification(BaseModel):
    """Base of every output that carries a verification object."""

    model_config = ConfigDict(from_attributes=True)

    verification: VerificationOut

    @model_validator(mode="before")
    @classmethod
    def _nest(cls, data: Any) -> Any:
        return nest_verification(data)


class VerificationDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision
    reason: Annotated[str | None, Storable] = Field(default=None, max_length=1000, description="Required to reject")


class BulkItem(VerificationDecision):
    record: RecordKind
    id: str = Field(min_length=1, max_length=64, examples=["91500103MA5U7XXXX0/2025", "12/2025", "12"])


class BulkVerification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[BulkItem] = Field(min_length=1, max_length=1000)


class VerifiedRecord(BaseModel):
    record: RecordKind
    id: str
    district_code: str
    verification: VerificationOut


class BulkVerificationReport(BaseModel):
    verified: int
    rejected: int
    unchanged: int = Field(description="Items whose record already had the decision asked for")
    items: list[VerifiedRecord]


class QueueItem(BaseModel):
    record: RecordKind
    id: str
    district_code: str
    verification: VerificationOut

    @model_validator(mode="before")
    @classmethod
    def _nest(cls, data: Any) -> Any:
        return nest_verification(data)


class QueuePage(BaseModel):
    items: list[QueueItem]
    next_cursor: str | None
