from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.monitoring.assessments.schemas import Figure
from services.monitoring.vocabulary import IndicatorId, Period, SourceKind
from services.monitoring.vocabulary import IndicatorUnit as Unit
from shared.identifiers import Storable

__all__ = ["Period", "SourceKind"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Storable]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000), Storable]
# What an observed figure may hold: eighteen digits before the point, six after (the column's numeric(24, 6)).
MAX_FIGURE = Decimal("999999999999999999.999999")


class ObservationIn(BaseModel):
    """A value of an indicator the registry does not compute, as its source published it."""

    model_config = ConfigDict(extra="forbid")

    value: Decimal = Field(
        description="In the indicator's unit (yuan, not 亿元; percent as 13.5), at most six decimal places; a "
        'JSON string such as "110000000000" keeps it exact',
        examples=["13.5"],
    )
    unit: Unit = Field(description="Must be the indicator's unit: a check that the figure is the one meant")
    source_kind: SourceKind
    source: Text = Field(
        description="Who published the figure, e.g. 市统计局《2025年重庆市国民经济和社会发展统计公报》"
    )
    note: LongText | None = None
    reason: LongText | None = Field(
        default=None, description="Required for a correction (a value already recorded for the period)"
    )


class ObservationOut(BaseModel):
    indicator_id: IndicatorId
    year: int
    period: Period
    revision: int = Field(description="1 for the first value; each correction adds one (also the ETag)")
    value: Figure
    unit: Unit
    source_kind: SourceKind
    source: str
    note: str | None
    reason: str | None
    recorded_by: str
    recorded_at: datetime


class ObservationPage(BaseModel):
    items: list[ObservationOut] = Field(description="The current revision of each period, by year and period")
    next_cursor: str | None


class ObservationHistory(BaseModel):
    indicator_id: IndicatorId
    year: int
    period: Period
    revisions: list[ObservationOut] = Field(description="Every revision, oldest first")
