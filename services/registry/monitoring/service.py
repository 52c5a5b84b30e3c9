"""What the registry measures for the monitoring of 渝府发〔2024〕18号 (issue 18): per district and sector the
verified above-size enterprises of a year, their revenue and employees, how many are new since the baseline year,
and the year before; the clusters' verified revenue (百亿级集聚区); the 市级领军企业 standing at the end of the year.

For the city, the auditor and the services of this system (the monitoring service reads it): a whole-city
aggregate, so a district key is refused here as at the gateway.
"""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.monitoring import repository
from services.registry.monitoring.schemas import MonitoringStats
from shared.auth import Principal, Role
from shared.clock import CHINA
from shared.errors import Forbidden, InvalidInput, Unauthorized, field_error

# 渝府发〔2024〕18号 measures its 2027 targets from 2023 (较2023年).
PLAN_BASELINE_YEAR = 2023


def year_end(year: int) -> datetime:
    """The instant the year ends in China's time zone: a designation revoked from then on still stood all year."""
    return datetime(year + 1, 1, 1, tzinfo=CHINA)


async def monitoring_stats(
    session: AsyncSession, principal: Principal, year: int, baseline_year: int
) -> MonitoringStats:
    if principal.role is Role.ANONYMOUS:
        raise Unauthorized("An API key is needed to read the monitoring statistics.")
    if not principal.reads_everything:
        raise Forbidden(
            f"The monitoring statistics are the whole city's; the {principal.label} principal may not read them."
        )
    if baseline_year >= year:
        raise InvalidInput(
            f"The baseline year must come before the year: {baseline_year} is not before {year}.",
            errors=[field_error(["query", "baseline_year"], f"must be before {year}")],
        )
    # Sums come back as numeric (zero where a part had none): serialised with two places by StoredYuan.
    cells = await repository.cells(session, year, baseline_year)
    clusters = await repository.clusters(session, year)
    leading = await repository.leading(session, year, year_end(year))
    return MonitoringStats.model_validate(
        {
            "year": year,
            "baseline_year": baseline_year,
            "cells": cells,
            "clusters": clusters,
            "leading_enterprises": leading,
        }
    )
