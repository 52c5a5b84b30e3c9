"""Publication (第（三十一）条 定期发布): a year's assessment and map, frozen with the hash of their inputs.

Published only once the year has ended, and again only when an input changed (a correction, a newly verified
figure): each version stays readable, the newest is current. The map is frozen in its public view, every small
cell withheld, since a publication is read by anyone.
"""

import hashlib
import json
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.monitoring import CODE_VERSION
from services.monitoring.assessments.service import assessment, check_plan_year
from services.monitoring.map.service import producer_services_map
from services.monitoring.publications import repository
from services.monitoring.publications.models import Publication
from services.monitoring.publications.schemas import (
    AssessmentPublishIn,
    PublicationHistory,
    PublicationOut,
    PublicationSummary,
)
from services.monitoring.upstream.client import Upstreams
from shared.auth import Principal
from shared.clock import Clock
from shared.errors import Conflict, InvalidInput, NotFound, field_error


def _nobody(_: str) -> bool:
    return False


def _summary(publication: Publication, current_version: int) -> PublicationSummary:
    return PublicationSummary(
        year=publication.year,
        version=publication.version,
        input_hash=publication.input_hash,
        code_version=publication.code_version,
        reason=publication.reason,
        published_by=publication.published_by,
        published_at=publication.published_at,
        current=publication.version == current_version,
    )


def _out(publication: Publication, current_version: int) -> PublicationOut:
    return PublicationOut(
        **_summary(publication, current_version).model_dump(),
        assessment=publication.document["assessment"],
        map=publication.document["map"],
    )


async def publish(
    session: AsyncSession,
    upstreams: Upstreams,
    clock: Clock,
    principal: Principal,
    year: int,
    body: AssessmentPublishIn,
) -> PublicationOut:
    check_plan_year(year, ["path", "year"])
    today = clock.today()
    if today <= date(year, 12, 31):
        raise InvalidInput(
            f"{year} has not ended (today is {today}, Asia/Shanghai): its assessment can be published from "
            f"{date(year, 12, 31) + timedelta(days=1)}.",
            errors=[field_error(["path", "year"], "the year has not ended")],
        )
    now = clock.now()
    report = await assessment(session, upstreams, year, clock)
    public_map = await producer_services_map(upstreams, year, _nobody, now)
    frozen_inputs = {
        "assessment": report.input_hash,
        "map": public_map.model_dump(mode="json", exclude={"generated_at"}),
    }
    digest = hashlib.sha256(json.dumps(frozen_inputs, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    previous = await repository.latest(session, year)
    if previous is not None and previous.input_hash == digest:
        raise Conflict(
            f"Nothing has changed since version {previous.version} of {year} was published (same input hash); "
            "it stays current."
        )
    publication = Publication(
        year=year,
        version=1 if previous is None else previous.version + 1,
        input_hash=digest,
        code_version=CODE_VERSION,
        document={"assessment": report.model_dump(mode="json"), "map": public_map.model_dump(mode="json")},
        reason=body.reason,
        published_by=principal.label,
        published_at=now,
    )
    repository.stage(session, publication)
    await session.flush()
    return _out(publication, publication.version)


async def current(session: AsyncSession, year: int) -> PublicationOut:
    publication = await repository.latest(session, year)
    if publication is None:
        raise NotFound(f"No assessment of {year} has been published.")
    return _out(publication, publication.version)


async def version(session: AsyncSession, year: int, number: int) -> PublicationOut:
    publication = await repository.version(session, year, number)
    newest = await repository.latest(session, year)
    if publication is None or newest is None:
        raise NotFound(f"{year} has no published version {number}.")
    return _out(publication, newest.version)


async def history(session: AsyncSession, year: int) -> PublicationHistory:
    rows = await repository.versions(session, year)
    if not rows:
        raise NotFound(f"No assessment of {year} has been published.")
    return PublicationHistory(year=year, versions=[_summary(row, rows[0].version) for row in rows])
