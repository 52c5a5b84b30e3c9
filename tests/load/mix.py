"""The request mix of the load test: what district systems, front ends and city staff send through the gateway.

Weights are shares of all requests. Reads dominate, as on any registry; writes are bulk imports of a year's
figures, new enterprises and award proposals (each for a subject of its own, checked against the rules on the
registry's facts); computation is /calculate, its batch, screening of one district and a draft ranking run.
Every operation names the statuses that count as success; anything else is an error.
"""

import itertools
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.reference import DISTRICT_CODES
from shared.uscc import ALPHABET, make_uscc

REGISTRY = "/api/v1/registry"
ELIGIBILITY = "/api/v1/eligibility"
RANKING = "/api/v1/ranking"
YEAR = 2025
AS_OF = "2025-06-30"
IMPORT_ROWS = 25
CALCULATE_BATCH = 20


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    key: str | None
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    expected: frozenset[int] = frozenset({200})


@dataclass
class World:
    """What the registry holds before the run, and the keys to call with."""

    city_key: str
    auditor_key: str
    district_keys: dict[str, str]
    enterprises: list[dict[str, Any]]
    projects: list[int]
    clusters: list[int]
    buildings: list[int]
    # Event projects made for the run: each award proposal takes one, so no proposal meets a standing award.
    award_projects: list[int]
    run_id: int | None
    imports: int = 0


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    weight: float
    make: Callable[[World, random.Random], Request]


_serial = itertools.count(1)


def _fresh_uscc(rng: random.Random, district: str) -> str:
    return make_uscc("91" + district + "".join(rng.choice(ALPHABET) for _ in range(9)))


def _enterprise_row(rng: random.Random, enterprise: dict[str, Any]) -> dict[str, Any]:
    revenue = rng.randrange(5_000_000_00, 90_000_000_00) / 100
    return {
        "uscc": enterprise["uscc"],
        "name": enterprise["name"],
        "district_code": enterprise["district_code"],
        "sector": enterprise["sector"],
        "established_on": enterprise["established_on"],
        "spun_off_from_manufacturer": enterprise["spun_off_from_manufacturer"],
        **{name: enterprise[name] for name in ("parent_uscc", "spun_off_on") if enterprise.get(name)},
        "year": YEAR,
        "revenue_yuan": f"{revenue:.2f}",
        "employees": rng.randrange(20, 900),
        "above_scale": revenue >= 20_000_000,
        "top500_service": False,
    }


def list_enterprises(world: World, rng: random.Random) -> Request:
    district = rng.choice(sorted(DISTRICT_CODES))
    return Request("GET", f"{REGISTRY}/enterprises?limit=50&district_code={district}", world.city_key)


def list_own_enterprises(world: World, rng: random.Random) -> Request:
    district, key = rng.choice(sorted(world.district_keys.items()))
    return Request("GET", f"{REGISTRY}/enterprises?limit=20&district_code={district}", key)


def search_enterprises(world: World, rng: random.Random) -> Request:
    word = rng.choice(("科技", "物流", "数据", "服务", "重庆"))
    return Request("GET", f"{REGISTRY}/enterprises?limit=20&q={word}", world.city_key)


def read_enterprise(world: World, rng: random.Random) -> Request:
    return Request("GET", f"{REGISTRY}/enterprises/{rng.choice(world.enterprises)['uscc']}", world.city_key)


def district_stats(world: World, rng: random.Random) -> Request:
    return Request("GET", f"{REGISTRY}/district-stats/{rng.choice((2024, 2025))}", world.city_key)


def list_projects(world: World, rng: random.Random) -> Request:
    return Request("GET", f"{REGISTRY}/projects?limit=50", world.city_key)


def read_project(world: World, rng: random.Random) -> Request:
    return Request("GET", f"{REGISTRY}/projects/{rng.choice(world.projects)}", world.city_key)


def list_clusters_or_buildings(world: World, rng: random.Random) -> Request:
    return Request("GET", f"{REGISTRY}/{rng.choice(('clusters', 'buildings'))}?limit=50", world.city_key)


def read_audit(world: World, rng: random.Random) -> Request:
    return Request("GET", f"{REGISTRY}/audit?limit=20", world.auditor_key)


def measures(world: World, rng: random.Random) -> Request:
    return Request("GET", f"{ELIGIBILITY}/measures", None)


def list_awards(world: World, rng: random.Random) -> Request:
    return Request("GET", f"{ELIGIBILITY}/awards?limit=50", world.city_key)


def methodologies(world: World, rng: random.Random) -> Request:
    return Request("GET", f"{RANKING}/methodologies", None)


def read_run(world: World, rng: random.Random) -> Request:
    if world.run_id is None:
        return methodologies(world, rng)
    return Request("GET", f"{RANKING}/runs/{world.run_id}", world.city_key)


def _calculation(rng: random.Random) -> dict[str, Any]:
    measure = rng.choice(("M01", "M02", "M03", "M05", "M07b", "M13"))
    facts: dict[str, Any] = {
        "M01": lambda: {
            "verified_investment_yuan": f"{rng.randrange(1_000_000, 400_000_000)}.00",
            "special_major_approved": rng.random() < 0.1,
        },
        "M02": lambda: {
            "platform_domain": rng.choice(("pilot_scale", "industrial_design", "supply_chain")),
            "verified_investment_yuan": f"{rng.randrange(1_000_000, 30_000_000)}.00",
        },
        "M03": lambda: {"grade": rng.choice("ABCD"), "tier": rng.choice((1, 2, 3))},
        "M05": lambda: {
            "revenue_yuan": f"{rng.randrange(10_000_000, 900_000_000)}.00",
            "prior_revenue_yuan": f"{rng.randrange(10_000_000, 900_000_000)}.00",
        },
        "M07b": lambda: {
            "spun_off_from_manufacturer": rng.random() < 0.5,
            "established_on": rng.choice(("2019-04-01", "2025-02-10")),
            "revenue_yuan": f"{rng.randrange(1_000_000, 90_000_000)}.00",
        },
        "M13": lambda: {"actual_spend_yuan": f"{rng.randrange(100_000, 5_000_000)}.00"},
    }[measure]()
    return {"measure_id": measure, "as_of": AS_OF, "facts": facts}


def calculate(world: World, rng: random.Random) -> Request:
    return Request("POST", f"{ELIGIBILITY}/calculate", None, json=_calculation(rng))


def calculate_batch(world: World, rng: random.Random) -> Request:
    body = [_calculation(rng) for _ in range(CALCULATE_BATCH)]
    return Request("POST", f"{ELIGIBILITY}/calculate/batch", world.city_key, json=body)


def import_figures(world: World, rng: random.Random) -> Request:
    """The next IMPORT_ROWS enterprises in turn: like district systems, concurrent imports touch different
    enterprises (two imports racing on one enterprise get a 409 asking to retry, which is right but not load)."""
    start = world.imports * IMPORT_ROWS % len(world.enterprises)
    world.imports += 1
    batch = (world.enterprises * 2)[start : start + IMPORT_ROWS]
    rows = [_enterprise_row(rng, enterprise) for enterprise in batch]
    return Request(
        "POST",
        f"{REGISTRY}/enterprises/import?atomic=true",
        world.city_key,
        json=rows,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )


def create_enterprise(world: World, rng: random.Random) -> Request:
    district, key = rng.choice(sorted(world.district_keys.items()))
    body = {
        "uscc": _fresh_uscc(rng, district),
        "name": f"压测新设服务企业{next(_serial)}有限公司",
        "district_code": district,
        "sector": rng.choice(("software_it", "modern_logistics", "industrial_design", "legal_ip")),
        "established_on": "2025-03-01",
        "spun_off_from_manufacturer": False,
    }
    return Request("POST", f"{REGISTRY}/enterprises", key, json=body, expected=frozenset({201}))


def propose_award(world: World, rng: random.Random) -> Request:
    if not world.award_projects:
        return list_awards(world, rng)
    body = {
        "measure_id": "M13",
        "subject_type": "project",
        "subject_id": str(world.award_projects.pop()),
        "amount_yuan": "10000.00",
    }
    return Request("POST", f"{ELIGIBILITY}/awards", world.city_key, json=body, expected=frozenset({201}))


def screen_district(world: World, rng: random.Random) -> Request:
    district, key = rng.choice(sorted(world.district_keys.items()))
    body = {"as_of": AS_OF, "year": YEAR, "district_code": district}
    return Request("POST", f"{ELIGIBILITY}/screenings", key, json=body)


def draft_ranking_run(world: World, rng: random.Random) -> Request:
    return Request("POST", f"{RANKING}/runs", world.city_key, json={"year": YEAR}, expected=frozenset({201}))


MIX: tuple[Operation, ...] = (
    Operation("registry: page of 50 enterprises by district", 14, list_enterprises),
    Operation("registry: district key lists its own", 8, list_own_enterprises),
    Operation("registry: search enterprises by name", 4, search_enterprises),
    Operation("registry: read one enterprise", 12, read_enterprise),
    Operation("registry: district statistics", 4, district_stats),
    Operation("registry: page of projects", 3, list_projects),
    Operation("registry: read one project", 3, read_project),
    Operation("registry: clusters or buildings", 4, list_clusters_or_buildings),
    Operation("registry: audit log (auditor)", 2, read_audit),
    Operation("eligibility: measures catalogue", 4, measures),
    Operation("eligibility: list awards", 3, list_awards),
    Operation("ranking: methodologies", 2, methodologies),
    Operation("ranking: read a run", 2, read_run),
    Operation("eligibility: calculate", 16, calculate),
    Operation("eligibility: calculate batch of 20", 3, calculate_batch),
    Operation("registry: import 25 rows (atomic, idempotency key)", 4, import_figures),
    Operation("registry: create an enterprise", 3, create_enterprise),
    Operation("eligibility: propose an award (rule-checked)", 4, propose_award),
    Operation("eligibility: screen one district", 2, screen_district),
    Operation("ranking: draft run", 1, draft_ranking_run),
)

AWARD_SHARE = next(op.weight for op in MIX if op.make is propose_award) / sum(op.weight for op in MIX)
