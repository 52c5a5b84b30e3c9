from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, PlainValidator, StrictFloat, StrictInt, StrictStr
from typing_extensions import TypeAliasType

from shared.identifiers import Storable
from shared.policy.catalogue import MeasureId
from shared.policy.parameters import ParameterKind

# The parameters of the policy files (shared/policy/validity.json and measures/*.json; a test keeps the two equal).
ParameterName = TypeAliasType(
    "ParameterName",
    Literal[
        "policy.first_rewarded_year",
        "policy.last_rewarded_year",
        "m01.ratio",
        "m01.cap_yuan",
        "m01.special_major_ratio",
        "m01.special_major_cap_yuan",
        "m02.min_investment_yuan",
        "m02.ratio",
        "m02.cap_yuan",
        "m03.tier_amounts_yuan",
        "m05.tier_amounts_yuan",
        "m05.tier1_min_growth",
        "m05.tier2_min_growth",
        "m06.award_by_rank_yuan",
        "m07a.award_yuan",
        "m07b.min_revenue_yuan",
        "m07b.award_yuan",
        "m07b.newly_established_from",
        "m13.ratio",
        "m13.cap_yuan",
    ],
)


def _name(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("a parameter is named by a string, e.g. `m01.ratio`")
    return value


# Documented as the named enum; checked by the parameter set, whose refusal names the unknown parameter.
ParameterKey = Annotated[str, PlainValidator(_name, json_schema_input_type=ParameterName)]

# A value as the API shows it: a decimal, year or date as a string, or a table of key → yuan string.
ParameterValueOut = str | dict[str, str]
# A value as a caller gives it: as shown, or a ratio or an amount as an exact JSON number.
ParameterValueIn = StrictStr | StrictInt | StrictFloat | dict[str, StrictStr | StrictInt | StrictFloat]
ParameterValueSource = TypeAliasType("ParameterValueSource", Literal["data file", "amendment"])


# Whose parameter it is: a measure's, or the policy's own (its force, the years it rewards).
ParameterMeasureId = TypeAliasType(
    "ParameterMeasureId",
    Annotated[
        MeasureId | Literal["policy"],
        Field(
            title="ParameterMeasureId",
            description="The measure the parameter is of (`MeasureId`), or `policy` for the policy's own",
        ),
    ],
)


class PolicyReference(BaseModel):
    document: str
    clause: str = Field(description="e.g. `第（二）条`, or `七、附则`")
    quote: str = Field(description="The sentence of the clause the value rests on, verbatim from the text")


class ParameterBounds(BaseModel):
    min: str | None
    min_exclusive: bool
    max: str | None


class ParameterDatedValue(BaseModel):
    effective_from: date
    effective_to: date | None = Field(description="The day before the next value takes over; null if none does")
    value: ParameterValueOut
    note: str
    source: ParameterValueSource = Field(description="`data file` or `amendment` (recorded through the API)")
    recorded_at: datetime | None
    recorded_by: str | None


class PolicyParameterOut(BaseModel):
    name: ParameterKey
    measure_id: ParameterMeasureId
    kind: ParameterKind = Field(description="`ratio`, `yuan`, `yuan_table` (key → yuan), `year` or `date`")
    unit: str
    description_zh: str
    description_en: str
    citation: str = Field(description="The reference as one line: document, clause and quote")
    reference: PolicyReference
    bounds: ParameterBounds
    keys: list[str] = Field(description="For a table: the keys it may have")
    key_bounds: dict[str, ParameterBounds] = Field(description="For a table: bounds of particular keys")
    as_of: date
    value: ParameterValueOut = Field(description="The value in force on `as_of`")
    effective_from: date = Field(description="Since when `value` is in force")
    history: list[ParameterDatedValue]


class PolicyValidity(BaseModel):
    document: str
    title_zh: str
    title_en: str
    effective_from: date
    effective_to: date
    citation: str
    reference: PolicyReference


class PolicyParameterList(BaseModel):
    as_of: date
    policy: PolicyValidity
    items: list[PolicyParameterOut]


class ParameterAmendmentIn(BaseModel):
    effective_from: date
    value: ParameterValueIn = Field(
        description="A decimal string (or an exact JSON number), a year, a date, or for a table an object of key → "
        "yuan string",
        examples=["0.10"],
    )
    reason: Annotated[str, Field(min_length=3, max_length=2000), Storable]
