from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from shared.identifiers import Storable

ParamValueOut = str | dict[str, str]


class ReferenceOut(BaseModel):
    document: str
    clause: str = Field(description="e.g. `第（二）条`, or `七、附则`")
    quote: str = Field(description="The sentence of the clause the value rests on, verbatim from the text")


class BoundsOut(BaseModel):
    min: str | None
    min_exclusive: bool
    max: str | None


class DatedValueOut(BaseModel):
    effective_from: date
    effective_to: date | None = Field(description="The day before the next value takes over; null if none does")
    value: ParamValueOut
    note: str
    source: str = Field(description="`data file` or `amendment` (recorded through the API)")
    recorded_at: datetime | None
    recorded_by: str | None


class ParameterOut(BaseModel):
    name: str
    measure_id: str
    kind: str = Field(description="`ratio`, `yuan`, `yuan_table` (key → yuan), `year` or `date`")
    unit: str
    description_zh: str
    description_en: str
    citation: str = Field(description="The reference as one line: document, clause and quote")
    reference: ReferenceOut
    bounds: BoundsOut
    keys: list[str] = Field(description="For a table: the keys it may have")
    key_bounds: dict[str, BoundsOut] = Field(description="For a table: bounds of particular keys")
    as_of: date
    value: ParamValueOut = Field(description="The value in force on `as_of`")
    effective_from: date = Field(description="Since when `value` is in force")
    history: list[DatedValueOut]


class PolicyOut(BaseModel):
    document: str
    title_zh: str
    title_en: str
    effective_from: date
    effective_to: date
    citation: str
    reference: ReferenceOut


class ParametersOut(BaseModel):
    as_of: date
    policy: PolicyOut
    items: list[ParameterOut]


class AmendmentIn(BaseModel):
    effective_from: date
    value: Annotated[Any, Field(description="A decimal string, or for a table an object of key → yuan string")]
    reason: Annotated[str, Field(min_length=3, max_length=2000), Storable]
