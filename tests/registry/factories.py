"""Valid registry payloads for the tests: credit codes with correct check characters, known districts."""

from itertools import count
from typing import Any

from shared.uscc import make_uscc

_serial = count(1)


def new_uscc(district_code: str = "500103") -> str:
    # 91 (enterprise, industry and commerce) + the registering division + a 9-character serial.
    return make_uscc(f"91{district_code}{next(_serial):09d}")


def enterprise(district_code: str = "500103", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "uscc": new_uscc(district_code),
        "name": "重庆测试供应链管理有限公司",
        "district_code": district_code,
        "sector": "supply_chain",
        "established_on": "2019-05-20",
        "spun_off_from_manufacturer": False,
    }
    body.update(overrides)
    return body


def year_figures(revenue: str = "25000000.00", above_scale: bool = True, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "revenue_yuan": revenue,
        "employees": 120,
        "above_scale": above_scale,
        "top500_service": False,
    }
    body.update(overrides)
    return body
