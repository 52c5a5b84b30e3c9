"""The auth matrix over every route of every service, through the real gateway to the real services.

Callers: no key, a key that does not exist, a revoked key, city, auditor, the district that owns the records
(500103) and another district (500105). Records under test all belong to 500103 and exist, so the services'
district scoping is exercised on real rows. The expected answer of each caller is written in the route table
(`security_support.CASES`) from the rules of `../shared/API.md`, `gateway/access.py` and the services' scoping. A
route the merged OpenAPI document names but the table does not fails the coverage test, so a new route cannot slip
past the matrix. Refused writes are checked against every table of every service database: nothing changed.
"""

import httpx
import pytest

from tests.e2e.security_support import (
    API,
    CALLERS,
    CASES,
    FOREIGN,
    OK,
    OWN,
    PROBLEM_KEYS,
    Case,
    World,
    assert_untouched,
    changed,
    enterprise_body,
    named_routes,
    send_json,
    served_routes,
    world,
)

pytestmark = pytest.mark.e2e
__all__ = ["world"]  # the module-scoped fixture


def test_the_matrix_covers_every_route_of_every_service(world: World) -> None:
    served = served_routes(world.spec)
    services = {path.split("/")[3] for _, path in served}
    assert services == {"registry", "eligibility", "ranking", "monitoring", "notifications"}, services
    named = named_routes()
    assert served - named == set(), f"routes without a row in the matrix: {sorted(served - named)}"
    assert named - served == set(), f"rows for routes the API does not serve: {sorted(named - served)}"


def test_the_gateway_documents_the_roles_the_matrix_expects(world: World) -> None:
    """The merged document's `x-roles` (the gateway's coarse rule) never lets in less than the matrix expects."""
    for case in CASES:
        operation = world.spec["paths"][f"{API}/{case.service}{case.template}"][case.method.lower()]
        roles = set(operation.get("x-roles", []))
        wanted = {"district" if caller in ("own", "foreign") else caller for caller in case.allowed - {"none"}}
        assert wanted <= roles, f"{case.id}: the gateway admits {sorted(roles)}, the matrix expects {sorted(wanted)}"
        public = {} in operation.get("security", [])
        assert public == ("none" in case.allowed), f"{case.id}: public in the document: {public}"


def _assert_refusal(case: Case, caller: str, response: httpx.Response, expected: int, mark: str) -> None:
    assert response.status_code == expected, f"{case.id} {caller}: {response.status_code} {response.text[:300]}"
    problem = response.json()
    # A refusal is a problem and nothing else: no record, no listing, none of the records' names.
    extra = set(problem) - PROBLEM_KEYS - ({"rejected"} if expected == 422 else set())
    assert not extra, f"{case.id} {caller}: the refusal carries {sorted(extra)}"
    assert mark not in response.text, f"{case.id} {caller}: the refusal shows a record: {response.text[:300]}"
    if expected == 401:
        assert "www-authenticate" in response.headers


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_matrix(case: Case, world: World) -> None:
    r = world.records
    url = case.url(r)  # before the watch starts: it may make the record to act on
    bodies = {caller: case.body(r) if case.body else None for caller in CALLERS}
    refused = [caller for caller in CALLERS if case.expected(caller) != OK]
    allowed = [caller for caller in CALLERS if case.expected(caller) == OK]
    assert set(refused) | set(allowed) == set(CALLERS)

    before = world.tables.snapshot() if case.writes else None
    for caller in refused:
        response = send_json(world.clients[caller], case.method, url, bodies[caller])
        _assert_refusal(case, caller, response, case.expected(caller), r.mark)
    if before is not None:
        after_refusals = world.tables.snapshot()
        assert_untouched(before, after_refusals, f"{case.id} refused to {refused}")

    for caller in allowed:
        response = send_json(world.clients[caller], case.method, url, bodies[caller])
        assert 200 <= response.status_code < 300, f"{case.id} {caller}: {response.status_code} {response.text[:300]}"
        if case.method == "GET" and response.headers["content-type"].startswith("application/json"):
            listed = response.json()
            items = listed.get("items", []) if isinstance(listed, dict) else listed
            # A district's read of its own district shows nothing of another.
            if caller == "own":
                codes = {item.get("district_code") for item in items if isinstance(item, dict)} - {None}
                assert codes <= {OWN}, f"{case.id}: own district sees {codes}"
    if before is not None:
        # The control: the watch does see what the allowed callers wrote (and a computation writes nothing).
        written = changed(after_refusals, world.tables.snapshot())
        assert bool(written) == case.changes_state, f"{case.id}: the allowed callers changed {written}"


LISTINGS = ["/registry/enterprises", "/registry/clusters", "/registry/buildings", "/registry/projects"]


@pytest.mark.parametrize("listing", [*LISTINGS, "/eligibility/awards"])
def test_a_district_listing_shows_only_its_own_district(world: World, listing: str) -> None:
    """Without a filter a district key sees its own district only; the records of 500103 never reach 500105."""
    own = world.clients["own"].get(API + listing, params={"limit": 500})
    assert own.status_code == 200, own.text
    assert own.json()["items"], f"{listing}: the own district sees none of its records"
    assert {item["district_code"] for item in own.json()["items"]} == {OWN}
    foreign = world.clients["foreign"].get(API + listing, params={"limit": 500})
    assert foreign.status_code == 200, foreign.text
    assert {item["district_code"] for item in foreign.json()["items"]} <= {FOREIGN}
    assert world.records.mark not in foreign.text


def test_a_district_cannot_write_into_another_district(world: World) -> None:
    """The other direction of the matrix: the owning district (500103) aiming at 500105's district, every write."""
    own = world.clients["own"]
    r = world.records
    attempts: list[tuple[str, str, object, int]] = [
        ("POST", "/registry/enterprises", enterprise_body(r, FOREIGN), 403),
        ("POST", "/registry/clusters", {"name": "越界集聚区", "district_code": FOREIGN}, 403),
        (
            "POST",
            "/registry/buildings",
            {"name": "越界大厦", "district_code": FOREIGN, "stars": 3, "operator_uscc": r.enterprise},
            403,
        ),
        (
            "POST",
            "/registry/projects",
            {
                "kind": "event",
                "owner_uscc": r.enterprise,
                "district_code": FOREIGN,
                "name": "越界论坛",
                "year": 2025,
                "actual_spend_yuan": "1000.00",
            },
            403,
        ),
        # Moving its own enterprise into another district is writing that district.
        ("PATCH", f"/registry/enterprises/{r.enterprise}", {"district_code": FOREIGN}, 403),
        ("POST", "/registry/enterprises/import?atomic=true", [enterprise_body(r, FOREIGN)], 422),
        ("POST", "/eligibility/screenings", {"as_of": "2026-06-30", "year": 2025, "district_code": FOREIGN}, 403),
        ("POST", "/eligibility/simulations", {"as_of": "2026-06-30", "year": 2025, "district_code": FOREIGN}, 403),
    ]
    before = world.tables.snapshot()
    for method, path, body, expected in attempts:
        response = send_json(own, method, API + path, body)
        assert response.status_code == expected, f"{method} {path}: {response.status_code} {response.text[:300]}"
    for path in (
        f"/registry/enterprises?district_code={FOREIGN}",
        f"/registry/projects?district_code={FOREIGN}",
        f"/eligibility/awards?district_code={FOREIGN}",
        f"/eligibility/awards/summary?district_code={FOREIGN}",
        f"/eligibility/awards/export.csv?district_code={FOREIGN}",
    ):
        response = own.get(API + path)
        assert response.status_code == 403, f"GET {path}: {response.status_code} {response.text[:300]}"
    assert_untouched(before, world.tables.snapshot(), "writes of 500103 into 500105")
    stored = world.clients["city"].get(f"{API}/registry/enterprises/{r.enterprise}").json()
    assert stored["district_code"] == OWN


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not-a-key",
        "Bearer",
        "Basic Y2l0eTpwYXNzd29yZA==",
        "Token cqk_0123456789ab_" + "Z" * 43,
        "bearer " + "cqk_0123456789ab_" + "Z" * 43,
    ],
)
def test_every_malformed_or_unknown_key_is_a_401_on_public_and_private_routes(world: World, authorization: str):
    with httpx.Client(base_url=world.stack.gateway, timeout=30, trust_env=False) as client:
        for path in (f"{API}/eligibility/measures", f"{API}/registry/districts", f"{API}/ranking/runs"):
            response = client.get(path, headers={"Authorization": authorization})
            assert response.status_code == 401, f"{authorization!r} {path}: {response.status_code}"
            assert response.headers["content-type"] == "application/problem+json"


def test_a_real_key_id_with_a_wrong_secret_is_a_401(world: World) -> None:
    """The key id alone opens nothing: the secret part is compared too."""
    real = world.keys["city"][0]
    prefix, key_id, secret = real.split("_", 2)
    forged = f"{prefix}_{key_id}_{'A' * len(secret)}"
    with world.stack.client(forged) as client:
        assert client.get(f"{API}/registry/districts").status_code == 401
        assert client.get(f"{API}/eligibility/measures").status_code == 401
