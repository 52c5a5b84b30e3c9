"""The named enums of the monitoring API: one component per closed set, used by inputs and outputs alike.

The plan's own sets (units, measures, comparators, registry figures) are the data file's (shared.policy.targets);
the ids of its targets and indicators are read from it too, so the enums follow the file.
"""

from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema
from typing_extensions import TypeAliasType

from shared.identifiers import SectorCode
from shared.policy.targets import Comparator, ComputedFrom, Measure, ParameterName, Unit, plan_targets
from shared.reference import Region

_PLAN = plan_targets()

# on_track / at_risk / behind: before the target year, progress against the trajectory's; met / missed: in the
# target year; no_data: no value for the year; no_baseline: a value, but nothing to measure progress from.
AssessmentStatus = TypeAliasType(
    "AssessmentStatus",
    Annotated[
        Literal["on_track", "at_risk", "behind", "met", "missed", "no_data", "no_baseline"],
        Field(title="AssessmentStatus", description="Where a target stands in the year assessed"),
    ],
)
ProvenanceOrigin = TypeAliasType(
    "ProvenanceOrigin",
    Annotated[
        Literal["observation", "registry"],
        Field(title="ProvenanceOrigin", description="A value recorded by the city, or computed from the registry"),
    ],
)
SourceKind = TypeAliasType(
    "SourceKind",
    Annotated[
        Literal["statistics_bureau", "department", "other"],
        Field(title="SourceKind", description="Who published a recorded value"),
    ],
)
Period = TypeAliasType(
    "Period",
    Annotated[
        Literal["year", "Q1", "Q2", "Q3", "Q4"],
        Field(title="Period", description="The period a value covers: the whole year or one quarter"),
    ],
)
MapIndicator = TypeAliasType(
    "MapIndicator",
    Annotated[
        Literal[
            "above_scale_count",
            "revenue_yuan",
            "employees",
            "revenue_growth",
            "clusters",
            "clusters_reaching_10bn",
            "leading_enterprises",
            "awards",
            "award_amount_yuan",
        ],
        Field(title="MapIndicator", description="What a tile map is coloured by: a field of DistrictTotals"),
    ],
)
IndicatorUnit = TypeAliasType("IndicatorUnit", Annotated[Unit, Field(title="IndicatorUnit")])
TargetMeasure = TypeAliasType(
    "TargetMeasure",
    Annotated[Measure, Field(title="TargetMeasure", description="What a target's figure measures")],
)
TargetComparator = TypeAliasType(
    "TargetComparator",
    Annotated[Comparator, Field(title="TargetComparator", description="How a value is held against the target")],
)
RegistryFigure = TypeAliasType(
    "RegistryFigure",
    Annotated[ComputedFrom, Field(title="RegistryFigure", description="The registry figure an indicator is from")],
)
MapRegion = TypeAliasType(
    "MapRegion", Annotated[Region, Field(title="MapRegion", description="一区两群: the tile map's grouping")]
)
# The plan's targets and indicators by id (outputs; a path naming an unknown one answers 404).
TargetId = TypeAliasType(
    "TargetId",
    Annotated[
        str,
        WithJsonSchema(
            {
                "title": "TargetId",
                "type": "string",
                "description": "A quantified 2027 target of the plan (`GET /targets` lists them)",
                "enum": [target.id for target in _PLAN.targets],
            }
        ),
    ],
)
IndicatorId = TypeAliasType(
    "IndicatorId",
    Annotated[
        str,
        WithJsonSchema(
            {
                "title": "IndicatorId",
                "type": "string",
                "description": "An indicator of the plan's targets (`GET /indicators` lists them)",
                "enum": [indicator.id for indicator in _PLAN.indicators],
            }
        ),
    ],
)
# A sector filter: one of the 18 sectors, or `whole` for producer services as a whole.
SectorScope = TypeAliasType(
    "SectorScope",
    Annotated[SectorCode | Literal["whole"], Field(title="SectorScope")],
)
AssessmentParameterName = TypeAliasType(
    "AssessmentParameterName",
    Annotated[ParameterName, Field(title="AssessmentParameterName", description="A parameter of the assessment")],
)


def with_both_names(data: object, *, old: str, new: str) -> object:
    """An object carrying a renamed field under both names for one release (the old one `deprecated`): documents
    stored under the old name read as the new one."""
    if isinstance(data, dict):
        if old in data and new not in data:
            return {**data, new: data[old]}
        if new in data and old not in data:
            return {**data, old: data[new]}
    return data


def deprecated_name_of(new: str) -> str:
    return f"Deprecated (one release): the old name of `{new}`."
