"""The two services the ranking reads: the registry's district statistics and the eligibility service's awards."""

from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Any

import httpx
from pydantic import ValidationError

from services.ranking.settings import RankingSettings
from services.ranking.upstream.schemas import AwardTable, DistrictStatsReportIn, PolicyValidity
from shared.http import ServiceClient, UpstreamUnavailable, service_client
from shared.money import parse_yuan
from shared.policy.ranking import published_methodologies
from shared.reference import DISTRICT_CODES

FIRST_YEAR = "policy.first_rewarded_year"
LAST_YEAR = "policy.last_rewarded_year"


class Upstreams:
    def __init__(self, registry: ServiceClient, eligibility: ServiceClient, *, award_parameter: str) -> None:
        self.registry = registry
        self.eligibility = eligibility
        self.award_parameter = award_parameter

    async def aclose(self) -> None:
        await self.registry.http.aclose()
        await self.eligibility.http.aclose()

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

    async def policy_validity(self, as_of: date) -> PolicyValidity:
        """The policy's force and the years it rewards, from the eligibility service's parameters as of `as_of`."""
        path = "/parameters"
        body = await self.eligibility.get(path, {"measure_id": "policy", "as_of": as_of.isoformat()})
        validity = _parse_validity(body)
        if validity is None:
            raise UpstreamUnavailable(
                "The eligibility service's policy parameters (GET /parameters?measure_id=policy) do not give the "
                f"policy's force and its rewarded years ({FIRST_YEAR}, {LAST_YEAR}) in a form this service can read.",
                upstream="eligibility",
            )
        return validity


def _year(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and len(text) == 4):
        return None
    return int(text)


def _parse_validity(body: Any) -> PolicyValidity | None:
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("policy"), dict)
        or not isinstance(body.get("items"), list)
    ):
        return None
    values = {
        item.get("name"): item.get("value")
        for item in body["items"]
        if isinstance(item, dict) and item.get("name") in (FIRST_YEAR, LAST_YEAR)
    }
    first, last = _year(values.get(FIRST_YEAR)), _year(values.get(LAST_YEAR))
    policy = body["policy"]
    try:
        validity = PolicyValidity.model_validate(
            {
                "effective_from": policy.get("effective_from"),
                "effective_to": policy.get("effective_to"),
                "first_rewarded_year": first,
                "last_rewarded_year": last,
                "citation": str(policy.get("citation", "")),
            }
        )
    except ValidationError:
        return None
    if validity.effective_from > validity.effective_to or validity.first_rewarded_year > validity.last_rewarded_year:
        return None
    return validity


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


def make_upstreams(
    settings: RankingSettings,
    *,
    registry_transport: httpx.AsyncBaseTransport | None = None,
    eligibility_transport: httpx.AsyncBaseTransport | None = None,
) -> Upstreams:
    """The pooled clients of the two upstreams, made once per process; a test passes in-process transports
    (`httpx.ASGITransport(app=…)`) and puts the result in `app.dependency_overrides`."""

    def client(upstream: str, base_url: str, transport: httpx.AsyncBaseTransport | None) -> ServiceClient:
        return service_client(
            upstream,
            base_url,
            secret=settings.internal.secret,
            timeout_seconds=settings.upstream_timeout_seconds,
            retries=settings.upstream_retries,
            backoff_seconds=settings.upstream_retry_backoff_seconds,
            transport=transport,
        )

    return Upstreams(
        client("registry", settings.registry_url, registry_transport),
        client("eligibility", settings.eligibility_url, eligibility_transport),
        award_parameter=published_methodologies().award_parameter,
    )
