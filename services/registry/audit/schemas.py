from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

from shared.auth import Role
from shared.identifiers import DistrictCode

# Named aliases of literals (not enums): one named schema each in the OpenAPI document, plain strings in the code.
AuditEntityType = TypeAliasType(
    "AuditEntityType",
    Annotated[
        Literal[
            "enterprise",
            "enterprise_year",
            "enterprise_registration",
            "cluster",
            "cluster_evaluation",
            "cluster_year",
            "leading_designation",
            "building",
            "building_year",
            "project",
        ],
        Field(title="AuditEntityType", description="The kind of record a write changed."),
    ],
)
AuditAction = TypeAliasType(
    "AuditAction",
    Annotated[
        Literal["create", "update", "upsert", "import", "verify", "reject", "hold", "confirm", "refuse", "revoke"],
        Field(
            title="AuditAction",
            description="What the write did: `create`, `update` (a partial change), `upsert` (a year's record "
            "created or replaced), `import` (a bulk import), `verify`/`reject` (the city's decision on a fact that "
            "decides money), `hold`/`confirm`/`refuse` (a registration held for the city), `revoke` (a "
            "designation).",
        ),
    ],
)

# A record's snapshot as the audit log keeps it, as JSON: its fields, whose values are scalars, flat objects (a
# verification, 隶属关系, a revocation, the enterprise a registration holds, one year's figures of an import),
# records holding such objects (an import's figures by year) or lists of records (an enterprise's years, a cluster's
# evaluations). Bounded rather than recursive, so that generated clients get one type for each level.
AuditScalar = TypeAliasType(
    "AuditScalar",
    Annotated[
        str | int | float | bool | None,
        Field(title="AuditScalar", description="A plain value of a snapshot: money and dates are strings."),
    ],
)
AuditObject = TypeAliasType(
    "AuditObject",
    Annotated[
        dict[str, AuditScalar],
        Field(title="AuditObject", description="A flat object within a snapshot (e.g. a `verification`)."),
    ],
)
AuditRecord = TypeAliasType(
    "AuditRecord",
    Annotated[
        dict[str, AuditScalar | AuditObject],
        Field(
            title="AuditRecord",
            description="A record within a snapshot (e.g. one year's figures with their `verification`), or an "
            "import's figures by year.",
        ),
    ],
)
AuditValue = TypeAliasType(
    "AuditValue",
    Annotated[
        AuditScalar | AuditRecord | list[AuditRecord],
        Field(title="AuditValue", description="The value of one field of a snapshot."),
    ],
)
AuditSnapshot = TypeAliasType(
    "AuditSnapshot",
    Annotated[
        dict[str, AuditValue],
        Field(
            title="AuditSnapshot",
            description="The record as the write found or left it, field by field, as its own endpoint shows it "
            "(an import's enterprise carries the figures it wrote by year; a verification decision, the record's "
            "`verification`).",
        ),
    ],
)


class AuditEntryOut(BaseModel):
    """One write to the registry: who made it, when, to which record, and the record before and after."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor_role: Role = Field(description="The role of the key that made the write")
    actor_district: DistrictCode | None = Field(description="A district key's district")
    request_id: str | None = Field(description="The system's id of the request that made the write")
    client_request_id: str | None = Field(description="The X-Request-ID its caller sent, if any")
    action: AuditAction
    entity_type: AuditEntityType
    entity_id: str = Field(
        description="The record's id: a credit code, a number, or `<key>/<year>` for a year's record",
        examples=["91500103MA5U7XXXXH/2025"],
    )
    district_code: DistrictCode | None = Field(description="The district of the record")
    before: AuditSnapshot | None = Field(description="Null for a record the write created")
    after: AuditSnapshot | None


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None = Field(description="The cursor of the next page; null on the last")
