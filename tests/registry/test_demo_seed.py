"""The demo data of `make run` (deploy/seed_demo.py) pass the registry's rules: every project's owner registered, no
two projects the same subject, project codes on most, clusters belonging to a city committee among them, and (with
district keys) some district-submitted facts left for the city to verify."""

import httpx
import pytest

from deploy import seed_demo
from tests.support import CITY, PrincipalAuth, district


class SignedApi(seed_demo.Api):
    """The seed's client, signing principals as the gateway would (a key "city" or "district:<code>")."""

    def __init__(self, base_url: str, key: str) -> None:
        principal = CITY if key == "city" else district(key.removeprefix("district:"))
        self.client = httpx.Client(base_url=base_url, auth=PrincipalAuth(principal), timeout=120.0, trust_env=False)
        self.requests = 0


def test_the_demo_data_pass_the_rules(registry_process, monkeypatch: pytest.MonkeyPatch) -> None:
    url, _ = registry_process
    monkeypatch.setattr(seed_demo, "Api", SignedApi)
    monkeypatch.setattr(seed_demo, "REGISTRY", "")
    keys = {code: f"district:{code}" for code in seed_demo.SUBMITTING_DISTRICTS}
    counts = seed_demo.seed(url, "city", district_keys=keys)
    assert (counts["enterprises"], counts["clusters"], counts["projects"]) == (320, 28, 82)

    api = SignedApi(url, "city")
    try:
        projects = api.call("GET", "/projects?limit=500")["items"]
        enterprises = {item["uscc"]: item for item in api.call("GET", "/enterprises?limit=500")["items"]}
        clusters = api.call("GET", "/clusters?limit=500")["items"]
        queue = api.call("GET", "/verifications?limit=500")["items"]
    finally:
        api.close()
    assert len(projects) == 82 and len(enterprises) == 320
    # Every owner registered, in the project's district; no two projects of one owner, kind, name and year.
    assert all(enterprises[p["owner_uscc"]]["district_code"] == p["district_code"] for p in projects)
    identities = {(p["owner_uscc"], p["kind"], p["name"], p["year"]) for p in projects}
    assert len(identities) == len(projects) and all(p["duplicate_of_id"] is None for p in projects)
    codes = [p["project_code"] for p in projects if p["project_code"]]
    assert len(codes) == len(set(codes)) and len(codes) > len(projects) / 2
    departments = {c["belongs_to"]["department"] for c in clusters if c["belongs_to"]["kind"] == "city_department"}
    assert "两江新区管委会" in departments
    # What the two counties submitted waits for the city, and only that.
    assert len(queue) == counts["submitted_for_verification"] > 0
    assert {item["district_code"] for item in queue} == set(seed_demo.SUBMITTING_DISTRICTS)
    assert {item["record"] for item in queue} == {"enterprise_year", "cluster_evaluation", "project"}
    # 主辅分离 enterprises name their parent and the date.
    spun_off = [e for e in enterprises.values() if e["spun_off_from_manufacturer"]]
    assert spun_off and all(e["parent_uscc"] and e["spun_off_on"] == e["established_on"] for e in spun_off)
