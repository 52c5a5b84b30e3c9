"""Closed sets of the policy's texts that more than one service speaks of, each a named type (TypeAliasType): one
named enum in the OpenAPI documents wherever it is used."""

from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import TypeAliasType

from shared import reference

# The grade of a cluster's (集聚区) yearly evaluation; 第（三）条 rewards grade A.
ClusterGrade = TypeAliasType(
    "ClusterGrade",
    Annotated[
        Literal["A", "B", "C", "D"],
        Field(
            title="ClusterGrade",
            description="The grade (A, B, C or D) of a producer-service cluster's (集聚区) yearly evaluation by "
            "the city (市发展改革委); only grade A earns the award of 第（三）条 (M03), its amount set by the "
            "cluster's tier",
        ),
    ],
)

# The tier (档次) a grade-A evaluation assigns: the registry records it, M03 (第（三）条) pays by it.
ClusterTier = TypeAliasType(
    "ClusterTier",
    Annotated[
        int,
        Field(
            ge=1,
            le=9,
            title="ClusterTier",
            description="The tier (档次) of an A grade, 1 the highest: it picks the M03 amount (第（三）条).",
        ),
    ],
)

# The domains of a public service platform 第（二）条 (M02) lists, for the registry's projects and M02's facts.
PlatformDomain = TypeAliasType(
    "PlatformDomain",
    Annotated[
        reference.PlatformDomain,
        Field(
            title="PlatformDomain",
            description="The field of a public service platform (M02): "
            + ", ".join(f"`{code}` {name}" for code, name in reference.PLATFORM_DOMAINS.items())
            + ".",
        ),
    ],
)
