from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypeAliasType

from shared.identifiers import DistrictCode, Storable

# Named aliases of literals (not enums): one named schema each in the OpenAPI document, plain strings in the code.
VerificationStatus = TypeAliasType(
    "VerificationStatus",
    Annotated[
        Literal["submitted", "verified", "rejected"],
        Field(
            title="VerificationStatus",
            description="Where a fact that decides money stands: `submitted` (written by a district, waiting for the "
            "city), `verified` (by the city, or written by it), `rejected` (by the city, with a reason).",
        ),
    ],
)
VerifiableRecordKind = TypeAliasType(
    "VerifiableRecordKind",
    Annotated[
        Literal["enterprise_year", "cluster_evaluation", "cluster_year", "building", "building_year", "project"],
        Field(
            title="VerifiableRecordKind",
            description="The kinds of record whose facts decide money and carry a verification: an enterprise's "
            "yearly figures, a cluster's evaluation or yearly revenue, a star building's grade or yearly revenue, a "
            "project's money facts.",
        ),
    ],
)
VerificationVerdict = TypeAliasType(
    "VerificationVerdict",
    Annotated[
        Literal["verify", "reject"],
        Field(title="VerificationVerdict", description="The city's decision on a record: `verify` or `reject`."),
    ],
)
# The queue's sort key, which its cursor carries: the record kind and the record's id (e.g. `91500103MA5U7XXXXH/2025`).
QueueKey = tuple[VerifiableRecordKind, Annotated[str, Field(min_length=1, max_length=64), Storable]]
# Record ids as the API writes them, per kind.
RECORD_ID_EXAMPLES = ["91500103MA5U7XXXXH/2025", "12/2025", "12"]
# The flat columns of services.registry.verification.models.Verified, in the order of VerificationOut's fields.
FLAT_KEYS = ("verification_status", "submitted_by", "submitted_at", "verified_by", "verified_at", "verification_reason")
NESTED_KEYS = ("status", "submitted_by", "submitted_at", "verified_by", "verified_at", "reason")


class VerificationOut(BaseModel):
    """Who submitted a fact that decides money, and whether (and when) its authority, the city, verified it."""

    status: VerificationStatus
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

    decision: VerificationVerdict
    reason: Annotated[str | None, Storable] = Field(default=None, max_length=1000, description="Required to reject")


class BulkVerificationItem(VerificationDecision):
    """One record to decide: its kind and its id (`<uscc>/<year>`, `<id>/<year>` or `<id>`, as the kind has it)."""

    record: VerifiableRecordKind
    id: str = Field(min_length=1, max_length=64, examples=RECORD_ID_EXAMPLES)


class BulkVerification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[BulkVerificationItem] = Field(min_length=1, max_length=1000)


class VerifiedRecord(BaseModel):
    """A record's verification as a decision left it."""

    record: VerifiableRecordKind
    id: str = Field(examples=RECORD_ID_EXAMPLES)
    district_code: DistrictCode
    verification: VerificationOut


class BulkVerificationReport(BaseModel):
    verified: int
    rejected: int
    unchanged: int = Field(description="Items whose record already had the decision asked for")
    items: list[VerifiedRecord]


class VerificationQueueItem(BaseModel):
    """A record in the city's verification queue, with its verification."""

    record: VerifiableRecordKind
    id: str = Field(examples=RECORD_ID_EXAMPLES)
    district_code: DistrictCode
    verification: VerificationOut

    @model_validator(mode="before")
    @classmethod
    def _nest(cls, data: Any) -> Any:
        return nest_verification(data)


class VerificationQueuePage(BaseModel):
    items: list[VerificationQueueItem]
    next_cursor: str | None = Field(description="The cursor of the next page; null on the last")
