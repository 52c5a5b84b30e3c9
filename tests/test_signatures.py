"""Signatures bound to one request (issue 19): method, target, principal, timestamp, audience, body, nonce and the
system's request id are all signed; a service accepts a write's nonce once within a short window, takes its request
id only from a signature, and keeps the caller's own id beside it."""

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import MetaData, func, select

from services.registry.main import create_app as create_registry_app
from services.registry.settings import RegistrySettings
from shared.auth import NONCE_HEADER, Principal, Role, body_digest, sign_principal, verify_principal
from shared.errors import Unauthorized
from shared.nonces import NonceStore, nonce_table
from shared.settings import InternalAuthSettings, ServiceSettings
from tests.registry.factories import enterprise
from tests.support import CITY, REGISTRY_TABLES, TEST_SECRET, TestDatabase, asgi_client, truncate

SECRET = "s3cret"
NOW = 1_000_000.0
DISTRICT = Principal(Role.DISTRICT, "500103")
REQUEST = {
    "method": "POST",
    "target": "/enterprises?atomic=true",
    "audience": "registry",
    "body": b'{"name": "a"}',
    "request_id": "a" * 32,
}
SYSTEM_ID = re.compile(r"^[0-9a-f]{32}$")


def _signed(**changes: object) -> dict[str, str]:
    request = {**REQUEST, **changes}
    headers = sign_principal(
        SECRET,
        str(request["method"]),
        str(request["target"]),
        DISTRICT,
        audience=str(request["audience"]),
        body=request["body"],  # type: ignore[arg-type]
        request_id=str(request["request_id"]),
        now=NOW,
    )
    return {name.lower(): value for name, value in headers.items()}


def _verify(headers: dict[str, str], *, now: float = NOW, max_age: int = 15, **changes: object):  # type: ignore[no-untyped-def]
    request = {**REQUEST, **changes}
    return verify_principal(
        SECRET,
        max_age,
        str(request["method"]),
        str(request["target"]),
        headers,
        audience=str(request["audience"]),
        body_sha256=body_digest(request["body"]),  # type: ignore[arg-type]
        now=now,
    )


# ---- the signature itself -------------------------------------------------------------------------------------------


def test_a_signature_vouches_for_the_principal_nonce_and_request_id():
    headers = _signed()
    signed = _verify(headers)
    assert signed.principal == DISTRICT
    assert signed.request_id == "a" * 32 and headers["x-request-id"] == "a" * 32
    assert signed.nonce == headers[NONCE_HEADER.lower()] and re.fullmatch(r"[0-9a-f]{32}", signed.nonce)
    assert signed.timestamp == int(NOW)
    assert _signed()[NONCE_HEADER.lower()] != signed.nonce  # a new nonce for every request


@pytest.mark.parametrize(
    ("part", "other"),
    [
        ("method", "PUT"),
        ("target", "/enterprises?atomic=false"),
        ("target", "/clusters?atomic=true"),
        ("audience", "eligibility"),
        ("body", b'{"name": "b"}'),
        ("body", b""),
    ],
)
def test_the_same_headers_for_another_request_are_refused(part, other):
    with pytest.raises(Unauthorized, match="not valid"):
        _verify(_signed(), **{part: other})


@pytest.mark.parametrize(
    ("header", "other"),
    [
        ("x-principal-role", "city"),
        ("x-principal-district", "500105"),
        ("x-principal-timestamp", str(int(NOW) + 1)),
        ("x-principal-nonce", "b" * 32),
        ("x-request-id", "b" * 32),
    ],
)
def test_every_signed_header_is_bound(header, other):
    with pytest.raises(Unauthorized, match="not valid"):
        _verify({**_signed(), header: other})


def test_another_secret_is_refused():
    with pytest.raises(Unauthorized, match="not valid"):
        verify_principal(
            "other", 15, "POST", REQUEST["target"], _signed(), audience="registry",  # type: ignore[arg-type]
            body_sha256=body_digest(REQUEST["body"]), now=NOW,  # type: ignore[arg-type]
        )  # fmt: skip


# ---- rotating the internal secret ---------------------------------------------------------------------------------


def _verify_with(secret: str, previous_secret: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    return verify_principal(
        secret, 15, "POST", REQUEST["target"], headers, audience="registry",  # type: ignore[arg-type]
        body_sha256=body_digest(REQUEST["body"]), now=NOW, previous_secret=previous_secret,  # type: ignore[arg-type]
    )  # fmt: skip


def _signed_with(secret: str) -> dict[str, str]:
    headers = sign_principal(
        secret, "POST", str(REQUEST["target"]), DISTRICT, audience="registry", body=REQUEST["body"],  # type: ignore[arg-type]
        request_id=str(REQUEST["request_id"]), now=NOW,
    )  # fmt: skip
    return {name.lower(): value for name, value in headers.items()}


def test_during_a_rotation_both_secrets_verify_and_after_it_only_the_new():
    old, new = "old-secret", "new-secret"
    by_old, by_new = _signed_with(old), _signed_with(new)
    # Before: services know only the old secret.
    assert _verify_with(old, "", by_old).principal == DISTRICT
    with pytest.raises(Unauthorized, match="not valid"):
        _verify_with(old, "", by_new)
    # During: the new one is current, the old one previous; signers on either side are accepted.
    assert _verify_with(new, old, by_old).principal == DISTRICT
    assert _verify_with(new, old, by_new).principal == DISTRICT
    # After: the previous one cleared, what the old secret signed is refused.
    assert _verify_with(new, "", by_new).principal == DISTRICT
    with pytest.raises(Unauthorized, match="not valid"):
        _verify_with(new, "", by_old)
    # A third secret is refused whatever the pair.
    with pytest.raises(Unauthorized, match="not valid"):
        _verify_with(new, old, _signed_with("third"))


def test_signing_uses_only_the_secret_it_is_given():
    # The signer has no previous secret: what it signs verifies under its own secret, not under the one it replaced.
    signed = _signed_with("new-secret")
    with pytest.raises(Unauthorized, match="not valid"):
        _verify_with("old-secret", "", signed)


def test_a_forged_signature_with_non_ascii_characters_is_refused_not_an_error():
    with pytest.raises(Unauthorized, match="not valid"):
        _verify_with(SECRET, "", {**_signed(), "x-principal-signature": "é" * 64})


@pytest.mark.parametrize("skew", [-15, 0, 15])
def test_a_timestamp_within_the_window_either_way_is_accepted(skew):
    assert _verify(_signed(), now=NOW + skew).principal == DISTRICT


@pytest.mark.parametrize("skew", [-16, 16, 3600])
def test_a_stale_or_future_timestamp_is_refused(skew):
    with pytest.raises(Unauthorized, match="older \\(or newer\\) than the 15 seconds"):
        _verify(_signed(), now=NOW + skew)


def test_missing_headers_are_refused():
    with pytest.raises(Unauthorized, match="signed by the gateway"):
        _verify({})
    without_signature = {k: v for k, v in _signed().items() if k != "x-principal-signature"}
    with pytest.raises(Unauthorized, match="signed by the gateway"):
        _verify(without_signature)


def test_the_window_is_short_and_bounded():
    assert InternalAuthSettings().signature_max_age_seconds == 15
    assert InternalAuthSettings(signature_max_age_seconds=300).signature_max_age_seconds == 300
    for out_of_bounds in (0, 301, 3600):
        with pytest.raises(ValidationError):
            InternalAuthSettings(signature_max_age_seconds=out_of_bounds)


# ---- the nonce store, on the registry's database ---------------------------------------------------------------------


async def _store_accepts_once_and_purges(engine) -> None:  # type: ignore[no-untyped-def]
    table = nonce_table(MetaData())
    scope = {"app": FastAPI()}
    scope["app"].state.engine = engine
    store = NonceStore(window_seconds=15)
    now = int(time.time())
    assert await store.accept(scope, "c" * 32, now - 100)  # long expired: its row goes at the next purge
    store._next_purge = 0.0
    assert await store.accept(scope, "d" * 32, now)
    assert not await store.accept(scope, "d" * 32, now)
    async with engine.connect() as connection:
        kept = (await connection.execute(select(table.c.nonce))).scalars().all()
    assert "d" * 32 in kept and "c" * 32 not in kept


async def test_the_nonce_store_on_the_services_database(registry_app: FastAPI):
    await _store_accepts_once_and_purges(registry_app.state.engine)


# ---- a service: replays, bodies, request ids --------------------------------------------------------------------------


@pytest.fixture
async def registry(registry_app: FastAPI) -> AsyncIterator[FastAPI]:
    yield registry_app
    await truncate(registry_app, REGISTRY_TABLES)


def _direct(app: FastAPI) -> httpx.AsyncClient:
    return asgi_client(app, None)


def _gateway_headers(method: str, target: str, body: bytes, **extra: str) -> dict[str, str]:
    signed = sign_principal(TEST_SECRET, method, target, CITY, audience="registry", body=body, request_id="e" * 32)
    return {**signed, "content-type": "application/json", **extra}


async def test_a_replayed_write_is_refused_and_writes_nothing(registry: FastAPI):
    body = json.dumps(enterprise()).encode()
    headers = _gateway_headers("POST", "/enterprises", body)
    async with _direct(registry) as client, asgi_client(registry, CITY) as city:
        assert (await client.post("/enterprises", content=body, headers=headers)).status_code == 201
        replayed = await client.post("/enterprises", content=body, headers=headers)
        assert replayed.status_code == 401 and replayed.headers["content-type"] == "application/problem+json"
        assert "already used" in replayed.json()["detail"]
        altered = json.dumps(enterprise()).encode()
        other_body = await client.post("/enterprises", content=altered, headers=headers)
        assert other_body.status_code == 401 and "not valid" in other_body.json()["detail"]
        assert len((await city.get("/enterprises")).json()["items"]) == 1


async def test_a_write_signed_for_another_service_is_refused(registry: FastAPI):
    body = json.dumps(enterprise()).encode()
    signed = sign_principal(TEST_SECRET, "POST", "/enterprises", CITY, audience="ranking", body=body, request_id="r")
    async with _direct(registry) as client:
        response = await client.post(
            "/enterprises", content=body, headers={**signed, "content-type": "application/json"}
        )
    assert response.status_code == 401 and "registry service" in response.json()["detail"]


async def test_a_replayed_read_within_the_window_answers_what_it_could_already_read(registry: FastAPI):
    headers = sign_principal(TEST_SECRET, "GET", "/districts", CITY, audience="registry", request_id="r")
    async with _direct(registry) as client:
        assert [(await client.get("/districts", headers=headers)).status_code for _ in range(2)] == [200, 200]


async def test_request_ids_come_from_the_signature_and_the_callers_id_is_kept_beside(registry: FastAPI):
    body = json.dumps(enterprise()).encode()
    system = "f" * 32
    signed = sign_principal(
        TEST_SECRET, "POST", "/enterprises", CITY, audience="registry", body=body, request_id=system
    )
    headers = {**signed, "content-type": "application/json", "X-Client-Request-ID": "mine-123"}
    async with _direct(registry) as client, asgi_client(registry, CITY) as city:
        created = await client.post("/enterprises", content=body, headers=headers)
        assert created.status_code == 201 and created.headers["x-request-id"] == "mine-123"
        entry = (await city.get("/audit", params={"entity_type": "enterprise"})).json()["items"][0]
        assert (entry["request_id"], entry["client_request_id"]) == (system, "mine-123")
        # A problem carries the system's id (what operators find in the logs), the header the caller's.
        invalid = json.dumps({"uscc": "bad"}).encode()
        signed = sign_principal(
            TEST_SECRET, "POST", "/enterprises", CITY, audience="registry", body=invalid, request_id=system
        )
        problem = await client.post(
            "/enterprises",
            content=invalid,
            headers={**signed, "content-type": "application/json", "X-Client-Request-ID": "mine-124"},
        )
        assert problem.status_code == 422 and problem.json()["request_id"] == system
        assert problem.headers["x-request-id"] == "mine-124"


async def test_an_unsigned_request_gets_an_id_made_by_the_service(registry: FastAPI):
    async with _direct(registry) as client:
        probe = await client.get("/healthz", headers={"X-Request-ID": "probe-1", "X-Client-Request-ID": "c-1"})
        refused = await client.get("/districts", headers={"X-Request-ID": "claimed-1"})
    assert SYSTEM_ID.match(probe.headers["x-request-id"])
    assert refused.status_code == 401 and SYSTEM_ID.match(refused.json()["request_id"])
    assert refused.headers["x-request-id"] == refused.json()["request_id"]


@pytest.fixture(scope="module")
async def small_registry(registry_database: TestDatabase) -> AsyncIterator[FastAPI]:
    settings = RegistrySettings(
        database_url=registry_database.url, environment="test", max_body_bytes=2048, import_max_bytes=16384
    )
    app = create_registry_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def test_a_body_over_the_limit_is_a_413_and_the_import_has_its_own(small_registry: FastAPI, registry: FastAPI):
    body = json.dumps(enterprise(name="长" * 1500)).encode()
    assert 2048 < len(body) < 16384
    async with _direct(small_registry) as client:
        declared = await client.post(
            "/enterprises", content=body, headers=_gateway_headers("POST", "/enterprises", body)
        )
        assert declared.status_code == 413 and declared.json()["type"] == "/problems/payload-too-large"

        async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
            for start in range(0, len(body), 512):
                yield body[start : start + 512]

        streamed = await client.post(
            "/enterprises", content=chunked(), headers=_gateway_headers("POST", "/enterprises", body)
        )
        assert streamed.status_code == 413
        rows = json.dumps([enterprise() for _ in range(30)]).encode()
        assert 2048 < len(rows) < 16384
        imported = await client.post(
            "/enterprises/import", content=rows, headers=_gateway_headers("POST", "/enterprises/import", rows)
        )
        assert imported.status_code == 200, imported.text
        assert imported.json()["created"] == 30


async def test_only_the_first_of_concurrent_replays_is_accepted(registry: FastAPI):
    body = json.dumps(enterprise()).encode()
    headers = _gateway_headers("POST", "/enterprises", body)
    async with _direct(registry) as client, asgi_client(registry, CITY) as city:
        answers = await asyncio.gather(*(client.post("/enterprises", content=body, headers=headers) for _ in range(5)))
        assert sorted(answer.status_code for answer in answers) == [201, 401, 401, 401, 401]
        assert len((await city.get("/enterprises")).json()["items"]) == 1
    async with registry.state.engine.connect() as connection:
        table = nonce_table(MetaData())
        nonce = headers[NONCE_HEADER]
        assert (await connection.execute(select(func.count()).where(table.c.nonce == nonce))).scalar_one() == 1


async def test_a_write_accepted_by_one_replica_is_refused_by_another(registry: FastAPI, small_registry: FastAPI):
    body = json.dumps(enterprise()).encode()
    headers = _gateway_headers("POST", "/enterprises", body)
    async with _direct(registry) as one, _direct(small_registry) as another:
        assert (await one.post("/enterprises", content=body, headers=headers)).status_code == 201
        replayed = await another.post("/enterprises", content=body, headers=headers)
    assert replayed.status_code == 401 and "already used" in replayed.json()["detail"]


async def test_a_service_during_a_rotation_of_the_internal_secret(registry_database: TestDatabase):
    """Before: only the old secret; during (new current, old previous): both, so gateways signing with either are
    served; after (previous cleared): only the new one."""
    old, new = "old-internal-secret", "new-internal-secret"
    phases = {
        "before": InternalAuthSettings(secret=old),
        "during": InternalAuthSettings(secret=new, previous_secret=old),
        "after": InternalAuthSettings(secret=new),
    }
    answers: dict[str, list[int]] = {}
    for phase, internal in phases.items():
        app = create_registry_app(
            RegistrySettings(database_url=registry_database.url, environment="test", internal=internal)
        )
        async with app.router.lifespan_context(app), _direct(app) as client:
            answers[phase] = [
                (
                    await client.get(
                        "/districts",
                        headers=sign_principal(secret, "GET", "/districts", CITY, audience="registry", request_id="r"),
                    )
                ).status_code
                for secret in (old, new)
            ]
    assert answers == {"before": [200, 401], "during": [200, 200], "after": [401, 200]}


def test_the_previous_secret_cannot_be_the_current_one():
    with pytest.raises(ValidationError, match="INTERNAL_PREVIOUS_SECRET is the current secret"):
        ServiceSettings(
            database_url="postgresql+asyncpg://x@h/d", internal=InternalAuthSettings(secret="a", previous_secret="a")
        )
