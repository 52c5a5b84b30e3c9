"""What the monitoring reads from the registry, under the registry's names."""

from decimal import Decimal

import pytest

from services.monitoring.upstream.schemas import StatsCell

CELL = {
    "district_code": "500103",
    "sector": "tech_rnd",
    "above_scale_count": 3,
    "revenue_yuan": "100000000.00",
    "employees": 400,
    "new_above_scale_since_baseline": 2,
}


@pytest.mark.parametrize("name", ["prior_above_scale_count", "prior_year_above_scale_count"])
def test_the_prior_years_count_is_read_under_the_district_stats_name_or_the_old_one(name):
    """`prior_above_scale_count` is the registry's name (district stats); its monitoring cells' old name is read too,
    so that a registry not yet upgraded is still read."""
    revenue = "prior_revenue_yuan" if name == "prior_above_scale_count" else "prior_year_revenue_yuan"
    cell = StatsCell.model_validate({**CELL, name: 2, revenue: "15000000.00"})
    assert (cell.prior_above_scale_count, cell.prior_revenue_yuan) == (2, Decimal("15000000.00"))
