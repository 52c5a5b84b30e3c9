from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

from shared import reference
from shared.identifiers import DistrictCode, SectorCode

DistrictKind = TypeAliasType(
    "DistrictKind",
    Annotated[
        reference.DistrictKind,
        Field(
            title="DistrictKind",
            description="The kind of county-level division: `district` 区, `county` 县, `autonomous_county` 自治县.",
        ),
    ],
)


class DistrictOut(BaseModel):
    """One of Chongqing's 38 county-level divisions."""

    model_config = ConfigDict(from_attributes=True)

    code: DistrictCode
    name: str = Field(examples=["渝中区"])
    kind: DistrictKind


class SectorOut(BaseModel):
    """One of the 18 producer-service sectors of the action plan."""

    model_config = ConfigDict(from_attributes=True)

    code: SectorCode
    name_zh: str = Field(examples=["软件信息服务"])
    name_en: str
