from datetime import date, datetime

from pydantic import BaseModel, Field

from services.ranking.runs.schemas import BoundaryTieOut, MethodologyUsed, RankingChange, RankingRow, RunStatus
from shared.money import Yuan


class RankingOut(BaseModel):
    year: int
    run_id: int
    methodology_version: str
    methodology: MethodologyUsed
    code_version: str
    input_hash: str
    as_of: date
    published_at: datetime
    published_by: str
    publish_reason: str | None
    supersedes_run_id: int | None
    total_award_yuan: Yuan
    rows: list[RankingRow] = Field(description="In rank order")
    boundary_ties: list[BoundaryTieOut] = Field(
        default_factory=list, description="Award boundaries held by districts of equal score, and what decided them"
    )


class RankingPublication(BaseModel):
    run_id: int
    status: RunStatus
    methodology_version: str
    input_hash: str
    total_award_yuan: Yuan
    published_at: datetime
    published_by: str
    publish_reason: str | None
    supersedes_run_id: int | None
    superseded_at: datetime | None
    superseded_by_run_id: int | None
    changes: list[RankingChange] | None = Field(description="Against the run this one superseded (null for the first)")


class RankingHistory(BaseModel):
    year: int
    items: list[RankingPublication] = Field(description="Every publication of the year, oldest first")
