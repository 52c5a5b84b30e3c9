"""The two services the ranking reads: the registry's district statistics and the eligibility service's awards."""

from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Any

from pydantic import ValidationError

from services.ranking.upstream.schemas import AwardTable, DistrictStatsReportIn
from shared.http import ServiceClient, UpstreamUnavailable
from shared.money import parse_yuan
from shared.reference import DISTRICT_CODES


class Upstreams:
    def __init__(self, registry: ServiceClient, eligibility: ServiceClient, *, award_parameter: str) -> None:
        self.registry = registry
        self.eligibility = eligibility
        self.award_parameter = award_parameter

    async def district_stats(self, year: int) -> DistrictStatsReportIn:
        path = f"/district-stats/{year}"
        body = await self.registry.get(path)
        if body is None:
            raise UpstreamUnavailable(f"The registry has no statistics at {path}.", upstream="registry")
        try:
            report = DistrictStatsReportIn.model_validate(body)
        except ValidationError as exc:
            raise UpstreamUnavailable(
                f"The registry answered {path} with figures this service cannot read ({exc.error_count()} errors).",
                upstream="registry",
            ) from None
        codes = [row.district_code for row in report.districts]
        if report.year != year or len(codes) != len(DISTRICT_CODES) or set(codes) != DISTRICT_CODES:
            raise UpstreamUnavailable(
                f"The registry answered {path} without one row for each of the 38 districts.", upstream="registry"
            )
        return report

    async def award_table(self, as_of: date) -> AwardTable:
        path = f"/parameters/{self.award_parameter}"
        body = await self.eligibility.get(path, {"as_of": as_of.isoformat()})
        if body is None:
            raise UpstreamUnavailable(
                f"The eligibility service has no parameter {self.award_parameter!r}.", upstream="eligibility"
            )
        table = _parse_table(body.get("value") if isinstance(body, dict) else None)
        if table is None:
            raise UpstreamUnavailable(
                f"The eligibility service's {self.award_parameter!r} is not a table of awards by rank 1, 2, … with "
                "amounts that do not rise down the ranking.",
                upstream="eligibility",
            )
        return AwardTable(
            parameter=self.award_parameter,
            as_of=as_of.isoformat(),
            citation=str(body.get("citation", "")),
            by_rank=table,
        )


def _parse_table(value: Any) -> dict[int, Decimal] | None:
    if not isinstance(value, dict) or not value:
        return None
    try:
        table = {int(key): parse_yuan(amount) for key, amount in value.items()}
    except (TypeError, ValueError):
        return None
    ranks = sorted(table)
    if ranks != list(range(1, len(ranks) + 1)) or len(ranks) > len(DISTRICT_CODES):
        return None
    amounts = [table[rank] for rank in ranks]
    if any(later > earlier for earlier, later in pairwise(amounts)):
        return None
    return table
