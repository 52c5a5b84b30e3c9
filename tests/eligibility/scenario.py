"""A small registry whose screening for 2025 (as of 2025-06-30) is worked out by hand below.

Everything is written by the city, so every fact that decides money is verified as written (the city is its
authority). The spin-offs (主辅分离) name their parent manufacturer (a manufacturer is not a producer-service
enterprise, so the registry holds only its credit code) and are newly set up: established on or after 2024-11-19
(the parameter m07b.newly_established_from, 第（七）条 分离后新设立).
"""

from dataclasses import dataclass
from decimal import Decimal
from itertools import count

import httpx

from shared.uscc import make_uscc

_serial = count(1)


def new_uscc(district_code: str) -> str:
    return make_uscc(f"91{district_code}{next(_serial) + 800_000_000:09d}")


@dataclass
class Scenario:
    e1: str
    e2: str
    e3: str
    p1: str
    p3: str
    p4: str
    p5: str
    p6: str
    c1: str
    b1: str
    b2: str


async def _ok(response: httpx.Response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


# A spin-off is set up on the first day the policy calls "newly set up" (m07b.newly_established_from), unless told.
SPUN_OFF_ON = "2024-11-19"
ESTABLISHED_ON = "2022-03-01"


async def enterprise(
    registry: httpx.AsyncClient,
    district_code: str,
    *,
    sector: str,
    spun_off: bool,
    established_on: str | None = None,
    parent_uscc: str | None = None,
) -> str:
    """A new enterprise; a spin-off is established (and spun off) on SPUN_OFF_ON from a parent manufacturer."""
    uscc = new_uscc(district_code)
    fields: dict[str, object] = {
        "uscc": uscc,
        "name": f"企业{uscc[-6:]}",
        "district_code": district_code,
        "sector": sector,
        "established_on": established_on or (SPUN_OFF_ON if spun_off else ESTABLISHED_ON),
        "spun_off_from_manufacturer": spun_off,
    }
    if spun_off:
        fields["parent_uscc"] = parent_uscc or make_uscc(f"91{district_code}{next(_serial) + 700_000_000:09d}")
        fields["spun_off_on"] = fields["established_on"]
    await _ok(await registry.post("/enterprises", json=fields))
    return uscc


async def year(registry: httpx.AsyncClient, uscc: str, year_: int, revenue: str, top500: bool) -> None:
    await _ok(
        await registry.put(
            f"/enterprises/{uscc}/years/{year_}",
            json={"revenue_yuan": revenue, "employees": 80, "above_scale": True, "top500_service": top500},
        )
    )


async def project(registry: httpx.AsyncClient, **fields: object) -> str:
    return str((await _ok(await registry.post("/projects", json={"name": "项目", **fields})))["id"])


async def cluster(
    registry: httpx.AsyncClient,
    district_code: str,
    manager: str | None,
    grade: str,
    tier: int | None,
    *,
    belongs_to: dict[str, str] | None = None,
    year_: int = 2025,
) -> str:
    """A cluster evaluated for `year_`; `belongs_to` (隶属关系) defaults to the cluster's own district."""
    fields: dict[str, object] = {"name": f"集聚区{grade}", "district_code": district_code, "manager_uscc": manager}
    if belongs_to is not None:
        fields["belongs_to"] = belongs_to
    created = await _ok(await registry.post("/clusters", json=fields))
    await _ok(
        await registry.put(
            f"/clusters/{created['id']}/evaluations/{year_}", json={"grade": grade, "score": "88.50", "tier": tier}
        )
    )
    return str(created["id"])


async def building(registry: httpx.AsyncClient, district_code: str, operator: str, revenue: dict[int, str]) -> str:
    created = await _ok(
        await registry.post(
            "/buildings",
            json={"name": "星级楼宇", "district_code": district_code, "stars": 4, "operator_uscc": operator},
        )
    )
    for year_, amount in revenue.items():
        await _ok(await registry.put(f"/buildings/{created['id']}/years/{year_}", json={"revenue_yuan": amount}))
    return str(created["id"])


async def seed(registry: httpx.AsyncClient) -> Scenario:
    # 渝中区 500103
    e1 = await enterprise(registry, "500103", sector="supply_chain", spun_off=True)  # set up 2024-11-19
    await year(registry, e1, 2024, "18000000.00", top500=False)
    await year(registry, e1, 2025, "25000000.00", top500=True)  # first listing: M07a; spin-off ≥ 20M: M07b
    e2 = await enterprise(registry, "500103", sector="software_it", spun_off=False)
    await year(registry, e2, 2024, "28000000.00", top500=True)
    await year(registry, e2, 2025, "30000000.00", top500=True)  # listed before: no M07a
    p1 = await project(
        registry,
        kind="investment",
        owner_uscc=e1,
        district_code="500103",
        year=2025,
        verified_investment_yuan="12345678.95",
    )
    await project(
        registry,
        kind="platform",
        owner_uscc=e2,
        district_code="500103",
        year=2025,
        platform_domain="pilot_scale",
        verified_investment_yuan="5000000.00",
    )
    p3 = await project(
        registry, kind="event", owner_uscc=e1, district_code="500103", year=2025, actual_spend_yuan="100.05"
    )
    p4 = await project(
        registry,
        kind="investment",
        owner_uscc=e1,
        district_code="500103",
        year=2024,
        verified_investment_yuan="1000000.00",
    )
    c1 = await cluster(registry, "500103", e1, "A", 2)  # belongs to 渝中区 (the default): M03 pays the district
    b1 = await building(registry, "500103", e2, {2024: "10000000.00", 2025: "12000000.00"})
    # 渝北区 500112
    e3 = await enterprise(registry, "500112", sector="modern_logistics", spun_off=True)  # set up 2024-11-19
    await year(registry, e3, 2025, "19999999.99", top500=False)
    p5 = await project(
        registry,
        kind="platform",
        owner_uscc=e3,
        district_code="500112",
        year=2025,
        platform_domain="supply_chain",
        verified_investment_yuan="30000000.00",
    )
    p6 = await project(
        registry,
        kind="investment",
        owner_uscc=e3,
        district_code="500112",
        year=2025,
        verified_investment_yuan="300000000.00",
        special_major_approved=True,
    )
    await cluster(registry, "500112", None, "B", None)
    b2 = await building(registry, "500112", e3, {2024: "10000000.00", 2025: "11000000.00"})
    await building(registry, "500112", e3, {2025: "9000000.00"})
    return Scenario(e1, e2, e3, p1, p3, p4, p5, p6, c1, b1, b2)


def expected_eligible(s: Scenario) -> set[tuple[str, str, str, str]]:
    """(measure, subject id, district, amount) worked out by hand, default parameters, as of 2025-06-30."""
    return {
        ("M01", s.p1, "500103", "1234567.90"),  # （一）10% × 12,345,678.95 = 1,234,567.895 → half-up
        ("M01", s.p6, "500112", "20000000.00"),  # （一）special major: 10% × 300M = 30M, capped at 20M
        ("M02", s.p5, "500112", "5000000.00"),  # （二）20% × 30M = 6M, capped at 5M
        ("M03", s.c1, "500103", "6000000.00"),  # （三）grade A, tier 2; paid to 渝中区, the body it belongs to
        ("M05", s.b1, "500103", "1000000.00"),  # （五）growth exactly 20%
        ("M05", s.b2, "500112", "500000.00"),  # （五）growth exactly 10%
        ("M07a", s.e1, "500103", "5000000.00"),  # （七）first listing, paid to the district
        ("M07b", s.e1, "500103", "1000000.00"),  # （七）spin-off set up 2024-11-19 (newly) with 25M ≥ 20M
        ("M13", s.p3, "500103", "30.02"),  # （十三）30% × 100.05 = 30.015 → 30.02
    }


TOTAL_2025 = Decimal("39734597.92")
TOTAL_500103 = Decimal("14234597.92")
TOTAL_500112 = Decimal("25500000.00")
