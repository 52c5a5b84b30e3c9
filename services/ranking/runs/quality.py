"""The data-quality gate a run must pass before it can be published."""

from decimal import Decimal
from typing import Any

from services.ranking.decimals import exact, six_places_text
from services.ranking.methodologies.schemas import DEFAULT_MAX_UNREPORTED_SHARE
from services.ranking.upstream.schemas import DistrictStatsReportIn


def unreported_share(unreported_count: int, prior_above_scale_count: int) -> Decimal:
    """Unreported enterprises as a share of the district's above-size enterprises of the base year (0 without any)."""
    if prior_above_scale_count <= 0:
        return Decimal(0)
    with exact():
        return Decimal(unreported_count) / Decimal(prior_above_scale_count)


def failures(
    report: DistrictStatsReportIn, *, max_unreported_share: Decimal = DEFAULT_MAX_UNREPORTED_SHARE
) -> list[dict[str, Any]]:
    """Every reason the figures are not fit to publish; empty when they are.

    - the base year holds figures at all;
    - per district the identity new + moved in − exited − moved out − unreported = net increase (an enterprise
      without a verified record for the year is unreported, never an exit);
    - per district the unreported share (unreported ÷ above-size enterprises of the base year) does not pass the
      methodology's `max_unreported_share` (equal to it passes).
    """
    found: list[dict[str, Any]] = []
    if report.enterprise_years_in_base_year == 0:
        found.append(
            {
                "check": "base_year_figures",
                "district_code": None,
                "msg": f"the registry holds no figures for the base year {report.base_year}: no district's new "
                "count, net increase or growth can be measured against it",
            }
        )
    for row in report.districts:
        explained = (
            row.new_above_scale_count
            + row.moved_in_count
            - row.exited_count
            - row.moved_out_count
            - row.unreported_count
        )
        if explained != row.net_increase:
            found.append(
                {
                    "check": "net_increase",
                    "district_code": row.district_code,
                    "msg": f"new ({row.new_above_scale_count}) + moved in ({row.moved_in_count}) − exited "
                    f"({row.exited_count}) − moved out ({row.moved_out_count}) − unreported "
                    f"({row.unreported_count}) = {explained} ≠ net increase ({row.net_increase})",
                }
            )
    for row in report.districts:
        share = unreported_share(row.unreported_count, row.prior_above_scale_count)
        if share > max_unreported_share:
            found.append(
                {
                    "check": "unreported_share",
                    "district_code": row.district_code,
                    "msg": f"{row.unreported_count} of the district's {row.prior_above_scale_count} above-size "
                    f"enterprises of {report.base_year} have no verified record for {report.year} (share "
                    f"{six_places_text(share)}, more than the methodology's max_unreported_share "
                    f"{six_places_text(max_unreported_share)}); they are unreported, not exits: report or verify them "
                    "before publishing",
                }
            )
    return found
