"""The data-quality gate a run must pass before it can be published."""

from typing import Any

from services.ranking.upstream.schemas import DistrictStatsReportIn


def failures(report: DistrictStatsReportIn) -> list[dict[str, Any]]:
    """Every reason the figures are not fit to publish; empty when they are."""
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
        if row.new_above_scale_count - row.exited_count != row.net_increase:
            found.append(
                {
                    "check": "net_increase",
                    "district_code": row.district_code,
                    "msg": f"new ({row.new_above_scale_count}) − exited ({row.exited_count}) ≠ net increase "
                    f"({row.net_increase})",
                }
            )
    return found
