from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.monitoring.assessments.schemas import AssessmentReport
from services.monitoring.map.schemas import MapReport
from shared.identifiers import Storable

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=1000), Storable]


class AssessmentPublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="Why it is published (the meeting, the notice), kept with it")


class PublicationSummary(BaseModel):
    year: int
    version: int = Field(description="1 for the year's first publication; each republication adds one")
    input_hash: str = Field(
        description="SHA-256 of what is published: the assessment's own input_hash and the public map; a new version "
        "is published only when it differs"
    )
    code_version: str
    reason: str
    published_by: str
    published_at: datetime
    current: bool = Field(description="The year's newest version (the others are superseded)")


class PublicationOut(PublicationSummary):
    assessment: AssessmentReport
    map: MapReport = Field(description="The public view: small cells withheld for every district")


class PublicationHistory(BaseModel):
    year: int
    versions: list[PublicationSummary] = Field(description="Newest first")
