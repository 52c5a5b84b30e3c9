from pydantic import BaseModel, Field

from services.ranking.vocabulary import Normalisation
from shared.identifiers import DistrictCode
from shared.money import Yuan


class DistrictSensitivity(BaseModel):
    district_code: DistrictCode
    district_name: str
    nominal_rank: int
    award_yuan: Yuan = Field(description="The award at the nominal rank")
    median_rank: int
    p5_rank: int = Field(description="5th percentile of the rank over the draws (the better end)")
    p95_rank: int = Field(description="95th percentile of the rank over the draws (the worse end)")
    p_top5: float
    p_top10: float
    p_keep_tier: float | None = Field(
        description="Share of draws in which the district ranks within its nominal award tier or a better one "
        "(null without an award)"
    )
    fragile: bool = Field(description="Holds an award tier nominally but keeps it in fewer draws than the threshold")


class SensitivityOut(BaseModel):
    run_id: int
    year: int
    methodology_version: str
    draws: int
    seed: int
    concentration: float = Field(description="Dirichlet concentration around the nominal weights")
    fragile_threshold: float
    normalisations: list[Normalisation] = Field(description="Drawn uniformly for each draw")
    districts: list[DistrictSensitivity] = Field(description="In nominal rank order")
