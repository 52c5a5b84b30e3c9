from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EntityType = Literal[
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
]


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor_role: str
    actor_district: str | None
    request_id: str | None = Field(description="The system's id of the request that made the write")
    client_request_id: str | None = Field(description="The X-Request-ID its caller sent, if any")
    action: str
    entity_type: str
    entity_id: str
    district_code: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None
