from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from services.eligibility.policies.numbers import DOCUMENT_NUMBER_SHAPE, normalise_document_number
from shared.errors import Problem
from shared.identifiers import Name, Storable

DocumentNumber = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100),
    Storable,
    AfterValidator(normalise_document_number),
    Field(
        description="The document number (发文字号) in any spelling: stored in its canonical form "
        f"{DOCUMENT_NUMBER_SHAPE}",
        examples=["渝经信发〔2023〕12号"],
    ),
]


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_number: DocumentNumber
    title: Name = Field(examples=["重庆市支持现代生产性服务业高质量发展若干政策措施"])
    issuer: Name = Field(description="The issuing bodies, as the document names them", examples=["重庆市财政局"])
    effective_from: date = Field(description="The first day the policy is in force")
    effective_to: date | None = Field(
        default=None, description="The last day the policy is in force (on or after effective_from); null: open-ended"
    )


class PolicyOut(BaseModel):
    id: int
    document_number: str = Field(description=f"Canonical: {DOCUMENT_NUMBER_SHAPE}")
    title: str
    issuer: str
    effective_from: date
    effective_to: date | None = Field(description="null: in force with no end date")
    created_at: datetime
    created_by: str = Field(description="`city`, or `migration` for 渝发改规范〔2024〕7号 itself")


class PolicyPage(BaseModel):
    items: list[PolicyOut]
    next_cursor: str | None


class PolicyAlreadyRegisteredProblem(Problem):
    """409 on a registration: the document number, in any spelling, is registered already."""

    type: Literal["/problems/policy-already-registered"] = Field(description="This problem's type.")
    existing_policy_id: int = Field(description="The policy registered under that number")
