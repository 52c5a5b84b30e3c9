"""The names the ranking's API gives its closed sets, and the one renamed indicator.

The registry calls the first indicator of 第（六）条 `new_above_scale_count`; the ranking stored it as `new_count`
(methodology versions, run documents) and hashed it under that name. Renaming it in storage would change the
`input_hash` of every published run, so storage keeps `new_count` and the API speaks `new_above_scale_count`: the
schemas map at the edge (`api_key` / `stored_key`), and for one release the old name is still accepted and answered,
marked `deprecated`.

Each set is a `TypeAliasType`, so that the document has one named enum per set, used by inputs and outputs alike.
"""

from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import TypeAliasType

API_NEW_COUNT = "new_above_scale_count"
STORED_NEW_COUNT = "new_count"

RunStatus = TypeAliasType(
    "RunStatus",
    Annotated[
        Literal["draft", "published", "superseded"],
        Field(title="RunStatus", description="A run is computed as a draft, published once, superseded by another"),
    ],
)
Normalisation = TypeAliasType(
    "Normalisation",
    Annotated[
        Literal["min_max", "z_score", "rank"],
        Field(title="Normalisation", description="How each indicator is put on a common scale across the districts"),
    ],
)
GrowthBasis = TypeAliasType(
    "GrowthBasis",
    Annotated[
        Literal["comparable"],
        Field(title="GrowthBasis", description="Revenue growth over the enterprises above size in both years"),
    ],
)
TieBreakKey = TypeAliasType(
    "TieBreakKey",
    Annotated[
        Literal["revenue_growth", "net_increase", "new_above_scale_count", "revenue_yuan"],
        Field(title="TieBreakKey", description="An indicator (or the revenue) that settles equal scores, higher first"),
    ],
)
# What settled the order of two districts of equal score at an award boundary: a tie-break key, or the code.
BoundaryDecider = TypeAliasType(
    "BoundaryDecider",
    Annotated[
        Literal["revenue_growth", "net_increase", "new_above_scale_count", "revenue_yuan", "district_code"],
        Field(title="BoundaryDecider", description="The tie-break key that decided a boundary, or `district_code`"),
    ],
)
QualityCheck = TypeAliasType(
    "QualityCheck",
    Annotated[
        Literal["base_year_figures", "net_increase", "unreported_share"],
        Field(title="QualityCheck", description="A check of the data-quality gate a run must pass to be published"),
    ],
)


def api_key(name: str) -> str:
    """An indicator or tie-break key as the API names it (the stored `new_count` becomes `new_above_scale_count`)."""
    return API_NEW_COUNT if name == STORED_NEW_COUNT else name


def stored_key(name: str) -> str:
    """An indicator or tie-break key as storage and the input hash name it."""
    return STORED_NEW_COUNT if name == API_NEW_COUNT else name


def api_keys(names: object) -> object:
    """A stored list of keys in the API's names (anything else unchanged, for the validator to judge)."""
    return [api_key(name) if isinstance(name, str) else name for name in names] if isinstance(names, list) else names


def with_both_names(data: object, *, stored: str = STORED_NEW_COUNT, api: str = API_NEW_COUNT) -> object:
    """An object keyed by indicator (stored or new) carrying the value under both names, the old one deprecated."""
    if isinstance(data, dict):
        if stored in data and api not in data:
            return {**data, api: data[stored]}
        if api in data and stored not in data:
            return {**data, stored: data[api]}
    return data
