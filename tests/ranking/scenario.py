"""A small registry, ranked by hand under the default methodology 2024.1 (渝发改规范〔2024〕7号 第（六）条: ranks 1–5
5,000,000 yuan each, ranks 6–10 3,000,000 each, to districts ranked on their above-size producer-service enterprises).

Eight districts get figures for 2024 (the base year) and 2025; the other 30 have none. Per district:
comparable enterprises (above size in both years, with their total revenue in each year), new ones (above size in
2025 only) and exited ones (above size in 2024 only).

| code   | district | comparable | revenue 2024 → 2025 | growth  | new | exited | net |
|--------|----------|-----------:|---------------------|---------|----:|-------:|----:|
| 500103 | 渝中区   | 5          | 100,000,000 → 110,000,000 | 0.100000 | 4 | 0 | 4 |
| 500105 | 江北区   | 5          | 100,000,000 → 120,000,000 | 0.200000 | 2 | 0 | 2 |
| 500112 | 渝北区   | 6          | 120,000,000 → 126,000,000 | 0.050000 | 3 | 1 | 2 |
| 500106 | 沙坪坝区 | 5          | 100,000,000 → 115,000,000 | 0.150000 | 1 | 0 | 1 |
| 500107 | 九龙坡区 | 5          | 100,000,000 → 102,000,000 | 0.020000 | 2 | 0 | 2 |
| 500108 | 南岸区   | 5          | 100,000,000 → 111,375,000 | 0.113750 | 1 | 0 | 1 |
| 500101 | 万州区   | 2          |  40,000,000 →  60,000,000 | 0.500000 | 0 | 2 | −2 |
| 500243 | 彭水县   | 5          | 100,000,000 →  90,000,000 | −0.100000 | 0 | 0 | 0 |
| the other 30 | | 0 | — | null → 0 | 0 | 0 | 0 |

Minimum base 5: the districts with ≥ 5 comparable enterprises have growths −0.10, 0.02, 0.05, 0.10, 0.11375, 0.15,
0.20; their median is 0.10. 万州区 (2 comparable) has its 0.50 capped at 0.10; the 30 empty districts keep 0 (≤ 0.10).

Min-max over the 38 districts: new count min 0, max 4 → new/4; net increase min −2, max 4 → (net + 2)/6; growth used
min −0.10, max 0.20 → (g + 0.10)/0.30. Score = 0.3·new/4 + 0.3·(net + 2)/6 + 0.4·(g + 0.10)/0.30
               = 0.075·new + 0.05·(net + 2) + (4/3)·(g + 0.10):

- 渝中区   0.075·4 + 0.05·6 + (4/3)·0.20    = 0.3 + 0.3 + 0.266667   = 0.866667 → rank 1
- 江北区   0.075·2 + 0.05·4 + (4/3)·0.30    = 0.15 + 0.2 + 0.4       = 0.750000 → rank 2
- 渝北区   0.075·3 + 0.05·4 + (4/3)·0.15    = 0.225 + 0.2 + 0.2      = 0.625000 → rank 3
- 沙坪坝区 0.075·1 + 0.05·3 + (4/3)·0.25    = 0.075 + 0.15 + 0.333333 = 0.558333 → rank 4
- 南岸区   0.075·1 + 0.05·3 + (4/3)·0.21375 = 0.075 + 0.15 + 0.285   = 0.510000 ┐ equal scores: the tie-break's first
- 九龙坡区 0.075·2 + 0.05·4 + (4/3)·0.12    = 0.15 + 0.2 + 0.16      = 0.510000 ┘ key, revenue growth (0.11375 >
  0.02), puts 南岸区 (500108) 5th with 5,000,000 and 九龙坡区 (500107) 6th with 3,000,000, although 500107 < 500108.
- 万州区   0 + 0.05·0 + (4/3)·0.20          = 0.266667 → rank 7
- 彭水县   0 + 0.05·2 + 0 = 0.100000 → rank 8 and 3,000,000: it has 5 above-size enterprises in both years, so it
  takes an award place although its score is below that of the 30 empty districts.
- the 30 empty districts: 0 + 0.05·2 + (4/3)·0.10 = 0.1 + 0.133333 = 0.233333, but with no above-size enterprise in
  either year none of them takes an award place (METHODOLOGY.md, step 6): they are ranked after the 8 districts that
  have one, among themselves by district code (equal on every tie-break key): 500102 → 9, 500104 → 10, 500109 → 11, …
  500242 → 38, each with 0.00 and `award_eligible: false`. Ranks 9 and 10 pay nothing: only 8 districts can take an
  award place, so the year pays 5 × 5,000,000 + 3 × 3,000,000 = 34,000,000, not 40,000,000.
"""

from decimal import Decimal
from itertools import count
from typing import Any

import httpx

from shared.reference import DISTRICTS
from shared.uscc import make_uscc

_serial = count(1)

# code: (comparable, revenue of each comparable enterprise in 2024, in 2025, new, exited)
FIGURES: dict[str, tuple[int, str, str, int, int]] = {
    "500103": (5, "20000000.00", "22000000.00", 4, 0),
    "500105": (5, "20000000.00", "24000000.00", 2, 0),
    "500112": (6, "20000000.00", "21000000.00", 3, 1),
    "500106": (5, "20000000.00", "23000000.00", 1, 0),
    "500107": (5, "20000000.00", "20400000.00", 2, 0),
    "500108": (5, "20000000.00", "22275000.00", 1, 0),
    "500101": (2, "20000000.00", "30000000.00", 0, 2),
    "500243": (5, "20000000.00", "18000000.00", 0, 0),
}
EMPTY = sorted(district.code for district in DISTRICTS if district.code not in FIGURES)

# Expected by hand (see the module docstring): code → (score, rank).
EXPECTED: dict[str, tuple[str, int]] = {
    "500103": ("0.866667", 1),
    "500105": ("0.750000", 2),
    "500112": ("0.625000", 3),
    "500106": ("0.558333", 4),
    "500108": ("0.510000", 5),
    "500107": ("0.510000", 6),
    "500101": ("0.266667", 7),
    "500243": ("0.100000", 8),
    **{code: ("0.233333", 9 + index) for index, code in enumerate(EMPTY)},
}
FIVE_MILLION = "5000000.00"
THREE_MILLION = "3000000.00"
TOTAL = "34000000.00"  # 5 × 5,000,000 + 3 × 3,000,000: only 8 districts can take an award place


def _enterprise(district_code: str, uscc: str) -> dict[str, Any]:
    return {
        "uscc": uscc,
        "name": f"重庆排名测试企业{uscc[-6:]}有限公司",
        "district_code": district_code,
        "sector": "software_it",
        "established_on": "2018-03-01",
        "spun_off_from_manufacturer": False,
    }


def _figures(year: int, revenue: str, above: bool) -> dict[str, Any]:
    return {"year": year, "revenue_yuan": revenue, "employees": 80, "above_scale": above, "top500_service": False}


def new_uscc(code: str) -> str:
    return make_uscc(f"91{code}{next(_serial):09d}")


def rows_for(
    figures: dict[str, tuple[int, str, str, int, int]], *, year: int = 2025, with_base_year: bool = True
) -> dict[int, list[dict[str, Any]]]:
    """Import rows per year for `figures` (code: comparable, revenue of each in Y − 1, in Y, new, exited)."""
    base = year - 1
    rows: dict[int, list[dict[str, Any]]] = {base: [], year: []}
    for code, (comparable, before, after, new, exited) in figures.items():
        for _ in range(comparable):
            uscc = new_uscc(code)
            rows[base].append({**_enterprise(code, uscc), **_figures(base, before, True)})
            rows[year].append({**_enterprise(code, uscc), **_figures(year, after, True)})
        for _ in range(new):
            uscc = new_uscc(code)
            rows[year].append({**_enterprise(code, uscc), **_figures(year, "25000000.00", True)})
        for _ in range(exited):
            # Recorded for the year as not above size: an exit (a missing record would be unreported instead).
            uscc = new_uscc(code)
            rows[base].append({**_enterprise(code, uscc), **_figures(base, "12000000.00", True)})
            rows[year].append({**_enterprise(code, uscc), **_figures(year, "3000000.00", False)})
    if not with_base_year:
        del rows[base]
    return rows


def rows_by_year(*, year: int = 2025, with_base_year: bool = True) -> dict[int, list[dict[str, Any]]]:
    """The import rows of the scenario, per year."""
    return rows_for(FIGURES, year=year, with_base_year=with_base_year)


async def write(registry: httpx.AsyncClient, rows: dict[int, list[dict[str, Any]]]) -> None:
    """Through the registry's own bulk import, signed as whoever `registry` is."""
    for year_rows in rows.values():
        response = await registry.post("/enterprises/import?atomic=true", json=year_rows)
        assert response.status_code == 200, response.text
        assert not response.json()["rejected"], response.text


async def seed(
    registry: httpx.AsyncClient, *, year: int = 2025, with_base_year: bool = True
) -> dict[int, list[dict[str, Any]]]:
    """Write the scenario through the registry's own bulk import, signed as the city."""
    rows = rows_by_year(year=year, with_base_year=with_base_year)
    for year_rows in rows.values():
        response = await registry.post("/enterprises/import?atomic=true", json=year_rows)
        assert response.status_code == 200, response.text
        assert not response.json()["rejected"], response.text
    return rows


def award_for(rank: int) -> str:
    """The scenario's award by rank: 1–5 and 6–8 paid, 9 and 10 not (empty districts take no award place)."""
    return FIVE_MILLION if rank <= 5 else THREE_MILLION if rank <= 8 else "0.00"


def by_code(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["district_code"]: row for row in body["rows"]}


def total(rows: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(row["award_yuan"]) for row in rows), Decimal(0))
