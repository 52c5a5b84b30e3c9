"""Demo data for a local stack, written through the gateway's public API so it is validated like any other data.

A few hundred enterprises across the 38 districts with 2023–2025 figures and above-size flags, clusters with
A–D evaluations and whom they belong to (隶属关系: their district, or a city department such as 两江新区管委会),
star buildings with yearly revenue, and investment projects, platforms and events (most with a national project
code, every owner an enterprise of the registry, no two the same). The data are made by a seeded random generator:
the same seed gives the same registry.

Issue 18 adds the clusters' yearly revenue (a few of them 百亿级, 10,000,000,000 yuan or more) and a dozen 市级领军企业
designations (one of them revoked), all written by the city, from a generator of their own so that the rest of
the data stay as they were.

Most facts are written by the city, so verified as written; with the district keys (the demo keys file), two
counties submit their own 2025 figures, a few cluster evaluations and projects, which wait for the city's
verification (`GET /verifications`).

`python -m deploy.seed_demo [--url http://127.0.0.1:8000] [--keys var/demo-keys.json] [--force]`
"""

import argparse
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

from shared.money import round_fen
from shared.reference import DISTRICTS, PLATFORM_DOMAINS, SECTORS
from shared.settings import VAR_DIR
from shared.uscc import ALPHABET, make_uscc

YEARS = (2023, 2024, 2025)
REGISTRY = "/api/v1/registry"
MONITORING = "/api/v1/monitoring"
# Demo values of a few indicators the registry cannot compute (issue 18), by year: illustrative, not statistics.
DEMO_SOURCE = "演示数据（非真实统计，仅供本地演示）"
DEMO_OBSERVATIONS: dict[str, tuple[str, dict[int, str]]] = {
    "producer_services.value_added_share_of_services": ("percent", {2023: "55.2", 2024: "56.4", 2025: "57.5"}),
    "modern_logistics.logistics_cost_share_of_gdp": ("percent", {2023: "14.4", 2024: "14.1", 2025: "13.9"}),
    "software_it.main_business_revenue": (
        "yuan",
        {2023: "400000000000", 2024: "455000000000", 2025: "520000000000"},
    ),
    "engineering_technical.whole_process_consulting_firms": ("count", {2023: "30", 2024: "34", 2025: "38"}),
    "human_resources.employment_or_mobility_assisted": ("person_times", {2024: "4600000", 2025: "4800000"}),
}
# 渝中, 江北, 沙坪坝, 九龙坡, 南岸, 渝北, 北碚, 巴南: the central districts hold more producer services.
CENTRAL = {"500103", "500105", "500106", "500107", "500108", "500112", "500109", "500113"}
# Sectors whose above-size threshold is 20,000,000 yuan of revenue (the others 10,000,000), per POLICY.md.
HIGH_THRESHOLD_SECTORS = {
    "software_it",
    "data_resources",
    "modern_logistics",
    "supply_chain",
    "industrial_ecommerce",
    "low_carbon_environmental",
}
SECTOR_WORDS = {
    "tech_rnd": "科技研发",
    "industrial_design": "工业设计",
    "testing_inspection": "检验检测",
    "smart_maintenance": "智能运维",
    "low_carbon_environmental": "环保科技",
    "engineering_technical": "工程技术",
    "integrated_contracting": "工程总承包",
    "supply_chain": "供应链管理",
    "industrial_ecommerce": "产业电商",
    "software_it": "软件信息",
    "data_resources": "数据科技",
    "producer_finance": "融资租赁服务",
    "modern_logistics": "物流",
    "business_exhibitions": "会展服务",
    "human_resources": "人力资源",
    "producer_leasing": "设备租赁",
    "accounting_audit_tax": "税务师事务所",
    "legal_ip": "知识产权代理",
}
NAME_PREFIXES = (
    "渝新",
    "巴渝",
    "山城",
    "两江",
    "嘉陵",
    "长江",
    "西部",
    "金佛",
    "缙云",
    "明月",
    "华岩",
    "龙兴",
    "果园",
    "寸滩",
    "礼嘉",
    "悦来",
    "水土",
    "西永",
    "茶园",
    "九龙",
    "渝州",
    "朝天",
    "南山",
    "歌乐",
)
NAME_MIDDLES = ("智造", "数联", "云启", "博众", "恒信", "同创", "汇通", "立达", "鼎晟", "卓越", "拓维", "睿思")
CLUSTER_THEMES = ("软件信息", "现代物流", "检验检测", "工业设计", "数字经济", "金融商务", "人力资源", "会展商务")
PLATFORM_DOMAIN_CODES = tuple(PLATFORM_DOMAINS)
# With district keys, these counties submit their 2025 figures themselves: they wait for the city's verification.
SUBMITTING_DISTRICTS = ("500229", "500238")
# Clusters that belong to a city development-zone committee rather than to their district government (隶属关系).
ZONE_CLUSTERS = (
    ("500112", "两江新区数字经济生产性服务业集聚区", "两江新区管委会"),
    ("500106", "重庆高新区科技研发服务集聚区", "重庆高新区管委会"),
)
# 国民经济行业 codes that open a 项目代码's third segment, for the demo's codes.
INDUSTRY_SEGMENTS = ("65", "72", "73", "74", "58")


@dataclass
class DemoEnterprise:
    uscc: str
    name: str
    district_code: str
    sector: str
    established_on: date
    spun_off: bool
    # 主辅分离: the manufacturer it was spun off from (not a producer-service enterprise, so not in the registry).
    parent_uscc: str | None = None
    # year -> (revenue, employees, above_scale, top500)
    years: dict[int, tuple[Decimal, int, bool, bool]] = field(default_factory=dict)


def _yuan(value: float) -> Decimal:
    return round_fen(Decimal(str(round(value, 2))))


def make_enterprises(rng: random.Random, count: int) -> list[DemoEnterprise]:
    codes = [d.code for d in DISTRICTS]
    weights = [4 if c in CENTRAL else 2 if c.startswith("5001") else 1 for c in codes]
    # Every district gets three, the rest follow the weights.
    districts = [code for code in codes for _ in range(3)]
    districts += rng.choices(codes, weights=weights, k=max(0, count - len(districts)))
    seen: set[str] = set()
    enterprises: list[DemoEnterprise] = []
    for index, district_code in enumerate(districts[:count]):
        while True:
            uscc = make_uscc("91" + district_code + "".join(rng.choice(ALPHABET[:-1]) for _ in range(9)))
            if uscc not in seen:
                seen.add(uscc)
                break
        sector = rng.choice(SECTORS).code
        name = f"重庆{rng.choice(NAME_PREFIXES)}{rng.choice(NAME_MIDDLES)}{SECTOR_WORDS[sector]}有限公司"
        if index % 7 == 0:
            name = name.replace("有限公司", f"第{index // 7 + 1}分公司")
        # Most are long established; about one in six is new in 2023–2025 (new above-size entrants).
        if rng.random() < 0.16:
            established = date(2023, 1, 1) + timedelta(days=rng.randrange(0, 900))
        else:
            established = date(2000, 1, 1) + timedelta(days=rng.randrange(0, 8400))
        enterprise = DemoEnterprise(
            uscc=uscc,
            name=name,
            district_code=district_code,
            sector=sector,
            established_on=established,
            spun_off=rng.random() < 0.08,
        )
        if enterprise.spun_off:  # set up by the spin-off: on the day it was established
            enterprise.parent_uscc = make_uscc(f"91{district_code}MF{uscc[10:17]}")
        threshold = 20_000_000 if sector in HIGH_THRESHOLD_SECTORS else 10_000_000
        revenue = rng.lognormvariate(16.7, 1.0) * (1.6 if district_code in CENTRAL else 1.0)
        for year in YEARS:
            if established.year > year:
                continue
            if established.year == year:
                revenue *= (12 - established.month + 1) / 12
            employees = max(3, int(revenue / rng.uniform(400_000, 900_000)))
            enterprise.years[year] = (_yuan(revenue), employees, revenue >= threshold, False)
            revenue *= max(0.4, rng.gauss(1.09, 0.18))
        enterprises.append(enterprise)
    # The largest few enter the 500强 list: two of them for the first time in 2025, one listed since 2024.
    largest = sorted((e for e in enterprises if 2025 in e.years), key=lambda e: e.years[2025][0], reverse=True)[:3]
    for position, enterprise in enumerate(largest):
        for year in (2024, 2025) if position == 0 else (2025,):
            if year in enterprise.years:
                figures = enterprise.years[year]
                enterprise.years[year] = (figures[0], figures[1], figures[2], True)
    return enterprises


def import_rows(enterprises: list[DemoEnterprise], year: int) -> list[dict[str, Any]]:
    rows = []
    for e in enterprises:
        row: dict[str, Any] = {
            "uscc": e.uscc,
            "name": e.name,
            "district_code": e.district_code,
            "sector": e.sector,
            "established_on": e.established_on.isoformat(),
            "spun_off_from_manufacturer": e.spun_off,
        }
        if e.spun_off:
            row |= {"parent_uscc": e.parent_uscc, "spun_off_on": e.established_on.isoformat()}
        if year in e.years:
            revenue, employees, above, top500 = e.years[year]
            row |= {
                "year": year,
                "revenue_yuan": str(revenue),
                "employees": employees,
                "above_scale": above,
                "top500_service": top500,
            }
        rows.append(row)
    return rows


class SeedError(RuntimeError):
    pass


def project_code(year: int, district_code: str, index: int) -> str:
    """A 项目代码 of the 投资项目在线审批监管平台's shape: year, division, industry, kind of approval, serial."""
    return (
        f"{year}-{district_code}-{INDUSTRY_SEGMENTS[index % len(INDUSTRY_SEGMENTS)]}-0{1 + index % 3}-{index + 1:06d}"
    )


class Api:
    """A small client for the gateway that waits out 429s and fails loudly on any other error."""

    def __init__(self, base_url: str, key: str) -> None:
        self.client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120.0, trust_env=False
        )
        self.requests = 0

    def call(self, method: str, path: str, body: Any = None, *, service: str | None = None) -> Any:
        for _ in range(50):
            response = self.client.request(method, (service or REGISTRY) + path, json=body)
            self.requests += 1
            if response.status_code == 429:
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            if response.status_code >= 400:
                raise SeedError(f"{method} {path}: {response.status_code} {response.text[:500]}")
            return response.json()
        raise SeedError(f"{method} {path}: still rate limited")

    def close(self) -> None:
        self.client.close()


def seed(
    base_url: str,
    city_key: str,
    *,
    district_keys: dict[str, str] | None = None,
    seed_value: int = 2024,
    enterprise_count: int = 320,
) -> dict[str, int]:
    rng = random.Random(seed_value)  # noqa: S311 - demo data, not secrets
    enterprises = make_enterprises(rng, enterprise_count)
    by_district: dict[str, list[DemoEnterprise]] = {}
    for e in enterprises:
        by_district.setdefault(e.district_code, []).append(e)
    api = Api(base_url, city_key)
    # The districts that submit facts themselves (only with their keys); everything else the city writes.
    keys = district_keys or {}
    submitters = {code: Api(base_url, keys[code]) for code in SUBMITTING_DISTRICTS if code in keys}
    counts = {
        "enterprises": len(enterprises),
        "enterprise_years": 0,
        "clusters": 0,
        "buildings": 0,
        "projects": 0,
        "submitted_for_verification": 0,
        "cluster_years": 0,
        "leading_designations": 0,
    }
    cluster_ids: list[int] = []

    def imported(client: Api, rows: list[dict[str, Any]], year: int) -> int:
        report = client.call("POST", "/enterprises/import?atomic=true", rows)
        if report.get("rejected"):
            sample = json.dumps(report["rejected"][:3], ensure_ascii=False)
            raise SeedError(f"import {year} rejected rows: {sample}")
        return int(report.get("years_written", 0))

    try:
        for year in YEARS:
            rows = import_rows(enterprises, year)
            if year == YEARS[-1] and submitters:
                own = [row for row in rows if row["district_code"] in submitters]
                rows = [row for row in rows if row["district_code"] not in submitters]
                for code, client in submitters.items():
                    mine = [row for row in own if row["district_code"] == code]
                    written = imported(client, mine, year)
                    counts["enterprise_years"] += written
                    counts["submitted_for_verification"] += written
            counts["enterprise_years"] += imported(api, rows, year)

        district_names = {d.code: d.name for d in DISTRICTS}
        cluster_districts = rng.sample(sorted(by_district), 20) + rng.sample(sorted(CENTRAL), 4)
        clusters: list[tuple[str, str, dict[str, str] | None]] = [
            (code, f"{district_names[code]}{CLUSTER_THEMES[index % len(CLUSTER_THEMES)]}生产性服务业集聚区", None)
            for index, code in enumerate(cluster_districts)
        ]
        clusters += [
            (code, name, {"kind": "city_department", "department": department})
            for code, name, department in ZONE_CLUSTERS
        ]
        clusters += [(code, f"{district_names[code]}现代物流生产性服务业集聚区", None) for code in submitters]
        for code, name, belongs_to in clusters:
            body: dict[str, Any] = {
                "name": name,
                "district_code": code,
                "manager_uscc": rng.choice(by_district[code]).uscc,
            }
            if belongs_to is not None:
                body["belongs_to"] = belongs_to
            cluster = api.call("POST", "/clusters", body)
            cluster_ids.append(int(cluster["id"]))
            for year in YEARS:
                grade = rng.choices("ABCD", weights=(25, 35, 25, 15))[0]
                low, high = {"A": (85, 98), "B": (75, 85), "C": (60, 75), "D": (40, 60)}[grade]
                evaluation = {
                    "grade": grade,
                    "score": f"{rng.uniform(low, high):.2f}",
                    "tier": rng.choice((1, 1, 2, 3)) if grade == "A" else None,
                }
                # A submitting county grades its own cluster for the last year: submitted, not verified.
                writer = submitters.get(code) if year == YEARS[-1] else None
                (writer or api).call("PUT", f"/clusters/{cluster['id']}/evaluations/{year}", evaluation)
                counts["submitted_for_verification"] += writer is not None
            counts["clusters"] += 1

        for index in range(30):
            code = rng.choice(sorted(CENTRAL)) if index % 2 == 0 else rng.choice(sorted(by_district))
            prefix, theme = rng.choice(NAME_PREFIXES), rng.choice(("国际", "金融", "科创"))
            building = api.call(
                "POST",
                "/buildings",
                {
                    "name": f"{district_names[code]}{prefix}{theme}中心{index + 1}号楼",
                    "district_code": code,
                    "stars": rng.choices((3, 4, 5), weights=(3, 4, 2))[0],
                    "operator_uscc": rng.choice(by_district[code]).uscc,
                },
            )
            revenue = rng.uniform(50e6, 800e6)
            for year in YEARS:
                api.call("PUT", f"/buildings/{building['id']}/years/{year}", {"revenue_yuan": str(_yuan(revenue))})
                revenue *= max(0.6, rng.gauss(1.12, 0.15))
            counts["buildings"] += 1

        # Every owner an enterprise of the registry, each owning one project: no two projects are the same subject.
        owners = rng.sample(enterprises, 80)
        for index in range(80):
            owner = owners[index]
            kind = "investment" if index < 40 else "platform" if index < 60 else "event"
            year = rng.choice((2024, 2025))
            body = {"kind": kind, "owner_uscc": owner.uscc, "district_code": owner.district_code, "year": year}
            # Most investment projects and platforms carry their 项目代码; events and a few projects have none.
            if kind != "event" and index % 8 != 7:
                body["project_code"] = project_code(year, owner.district_code, index)
            if kind == "investment":
                big = index < 3
                body |= {
                    "name": f"{owner.name[2:8]}{'总部基地' if big else '服务能力提升'}项目",
                    "verified_investment_yuan": str(
                        _yuan(rng.uniform(200e6, 400e6) if big else rng.uniform(5e6, 150e6))
                    ),
                    "special_major_approved": big,
                }
            elif kind == "platform":
                domain = PLATFORM_DOMAIN_CODES[index % len(PLATFORM_DOMAIN_CODES)]
                # One platform sits exactly on the 5,000,000 line of 第（二）条 (strictly above is needed).
                investment = Decimal("5000000.00") if index == 40 else _yuan(rng.uniform(2e6, 30e6))
                body |= {
                    "name": f"{owner.name[2:8]}公共服务平台",
                    "platform_domain": domain,
                    "verified_investment_yuan": str(investment),
                }
            else:
                place, kind_of_event = rng.choice(("西部", "山城", "两江")), rng.choice(("峰会", "论坛", "推介会"))
                body |= {
                    "name": f"{place}生产性服务业{kind_of_event}",
                    "actual_spend_yuan": str(_yuan(rng.uniform(0.5e6, 5e6))),
                }
            writer = submitters.get(owner.district_code)
            (writer or api).call("POST", "/projects", body)
            counts["submitted_for_verification"] += writer is not None
            counts["projects"] += 1
        # A submitting county's own project: its verified investment waits for the city.
        for position, (code, client) in enumerate(submitters.items()):
            owner = by_district[code][0]
            client.call(
                "POST",
                "/projects",
                {
                    "kind": "investment",
                    "owner_uscc": owner.uscc,
                    "name": f"{district_names[code]}生产性服务业综合服务中心项目",
                    "year": 2025,
                    "project_code": project_code(2025, code, 900 + position),
                    "verified_investment_yuan": "18000000.00",
                },
            )
            counts["projects"] += 1
            counts["submitted_for_verification"] += 1
        seed_monitoring(api, random.Random(seed_value + 18), cluster_ids, enterprises, counts)  # noqa: S311 - demo
    finally:
        api.close()
        for client in submitters.values():
            client.close()
    counts["requests"] = api.requests
    return counts


def seed_monitoring(
    api: Api, rng: random.Random, cluster_ids: list[int], enterprises: list[DemoEnterprise], counts: dict[str, int]
) -> None:
    """Issue 18's registry facts, by the city (verified as written): every cluster's revenue of each year, a few
    above the 百亿级 line, and a dozen 市级领军企业 designations of above-size enterprises, one revoked."""
    for cluster_id in cluster_ids:
        revenue = rng.uniform(1.5e9, 1.4e10)
        for year in YEARS:
            api.call("PUT", f"/clusters/{cluster_id}/years/{year}", {"revenue_yuan": str(_yuan(revenue))})
            counts["cluster_years"] += 1
            revenue *= max(0.7, rng.gauss(1.12, 0.1))
    above = [e for e in enterprises if e.years.get(YEARS[-1], (Decimal(0), 0, False, False))[2]]
    chosen = sorted(rng.sample(above, min(12, len(above))), key=lambda e: e.uscc)
    for index, leader in enumerate(chosen):
        year = 2024 if index < 5 else 2025
        body = {"uscc": leader.uscc, "year": year, "document": f"渝发改服务〔{year}〕{11 + index}号"}
        designation = api.call("POST", "/leading-enterprises", body)
        counts["leading_designations"] += 1
        if index == 0:  # one designation revoked, as happens when an enterprise no longer qualifies
            api.call(
                "POST", f"/leading-enterprises/{designation['id']}/revocation", {"reason": "经年度复核不再符合认定条件"}
            )


def seed_observations(base_url: str, city_key: str) -> int:
    """Demo values of a few observed indicators, so that the local monitoring shows progress (recorded once: the
    same value again changes nothing)."""
    api = Api(base_url, city_key)
    try:
        for indicator, (unit, values) in DEMO_OBSERVATIONS.items():
            for year, value in values.items():
                body = {"value": value, "unit": unit, "source_kind": "other", "source": DEMO_SOURCE}
                api.call("PUT", f"/indicators/{indicator}/observations/{year}", body, service=MONITORING)
    finally:
        api.close()
    return api.requests


def registry_is_empty(base_url: str, city_key: str) -> bool:
    api = Api(base_url, city_key)
    try:
        page = api.call("GET", "/enterprises?limit=1")
    finally:
        api.close()
    return not page["items"]


def demo_district_keys(path: str | None = None) -> dict[str, str] | None:
    """The district keys of the demo keys file (DEMO_KEYS_FILE, else var/demo-keys.json), if it has them."""
    try:
        with open(
            path or os.environ.get("DEMO_KEYS_FILE", str(VAR_DIR / "demo-keys.json")), encoding="utf-8"
        ) as handle:
            districts = json.load(handle).get("districts")
    except (OSError, ValueError, AttributeError):
        return None
    return {str(code): str(key) for code, key in districts.items()} if isinstance(districts, dict) else None


def seed_if_empty(base_url: str, city_key: str, district_keys: dict[str, str] | None = None) -> str:
    if not registry_is_empty(base_url, city_key):
        return "demo data: the registry already holds enterprises, nothing seeded"
    started = time.monotonic()
    counts = seed(base_url, city_key, district_keys=district_keys or demo_district_keys())
    counts["observations"] = seed_observations(base_url, city_key)
    summary = ", ".join(f"{value} {name}" for name, value in counts.items())
    return f"demo data seeded in {time.monotonic() - started:.1f} s: {summary}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.seed_demo", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the gateway")
    parser.add_argument("--keys", default=str(VAR_DIR / "demo-keys.json"), help="the demo keys file")
    parser.add_argument("--force", action="store_true", help="seed even if the registry is not empty")
    args = parser.parse_args(argv)
    with open(args.keys, encoding="utf-8") as handle:
        city_key = json.load(handle)["city"]
    district_keys = demo_district_keys(args.keys)
    try:
        message = (
            f"demo data seeded: {seed(args.url, city_key, district_keys=district_keys)}"
            if args.force
            else seed_if_empty(args.url, city_key, district_keys)
        )
    except SeedError as exc:
        print(f"seed_demo: {exc}", file=sys.stderr)
        return 1
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
