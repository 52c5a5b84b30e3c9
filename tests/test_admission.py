"""Admission of heavy work by cost (shared/admission.py): per caller, per process, anonymous callers together."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from services.eligibility.main import create_app
from services.eligibility.settings import EligibilitySettings
from shared.admission import FULL_SIZE, Admission, CallerBusy, HeavyWorkBusy, HeavyWorkSettings, admission_of
from tests.support import ANONYMOUS, AUDITOR, CITY, asgi_client, district


def make(**settings: int) -> Admission:
    return Admission(HeavyWorkSettings.model_validate(settings))


def test_a_caller_runs_at_most_its_share_and_the_process_at_most_its_total():
    admission = make(process_units=25, caller_units=10)
    with admission.admit(CITY, FULL_SIZE):
        with pytest.raises(CallerBusy) as refused, admission.admit(CITY, 1):
            pass
        assert refused.value.status == 429 and refused.value.headers["Retry-After"] == "2"
        with admission.admit(AUDITOR, FULL_SIZE), admission.admit(district("500103"), 5):
            with pytest.raises(HeavyWorkBusy) as busy, admission.admit(district("500105"), 1):
                pass
            assert busy.value.status == 503 and busy.value.headers["Retry-After"] == "2"
    assert (admission.running, admission.by_caller) == (0, {})


def test_small_requests_of_one_caller_run_side_by_side():
    admission = make(caller_units=10)
    with admission.admit(CITY, 1), admission.admit(CITY, 1), admission.admit(CITY, 8):
        assert admission.by_caller == {"city": 10}
        with pytest.raises(CallerBusy), admission.admit(CITY, 1):
            pass


def test_every_anonymous_caller_shares_one_share_and_a_huge_request_is_capped_at_it():
    admission = make(anonymous_units=10)
    with admission.admit(ANONYMOUS, 1_000):
        assert admission.running == 10
        with pytest.raises(CallerBusy), admission.admit(ANONYMOUS, 1):
            pass
        with admission.admit(CITY, 1):
            pass


def test_the_units_come_back_when_the_work_fails():
    admission = make()
    with pytest.raises(RuntimeError), admission.admit(CITY, FULL_SIZE):
        raise RuntimeError("the computation failed")
    assert (admission.running, admission.by_caller) == (0, {})


def test_the_shares_may_not_exceed_the_total():
    with pytest.raises(ValidationError):
        HeavyWorkSettings(process_units=10, caller_units=20)
    with pytest.raises(ValidationError):
        HeavyWorkSettings(process_units=5)


@pytest.fixture
async def eligibility(eligibility_database) -> AsyncIterator[FastAPI]:
    app = create_app(EligibilitySettings(database_url=eligibility_database.url, environment="test"))
    async with app.router.lifespan_context(app):
        yield app


async def test_a_batch_beyond_the_anonymous_share_is_a_429_problem_and_nothing_is_read(eligibility):
    admission = admission_of(eligibility)
    body = [{"measure_id": "M13", "as_of": "2025-06-30", "facts": {"actual_spend_yuan": "1000.00"}}]
    async with asgi_client(eligibility, ANONYMOUS) as client:
        with admission.admit(ANONYMOUS, FULL_SIZE):  # another anonymous caller's batch is running
            refused = await client.post("/calculate/batch", content=b"not even JSON")
            assert refused.status_code == 429, refused.text
            assert refused.headers["retry-after"] == "2"
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.json()["type"].endswith("heavy-work-per-caller")
            # The city has a share of its own.
            async with asgi_client(eligibility, CITY) as city:
                assert (await city.post("/calculate/batch", json=body)).status_code == 200
        answered = await client.post("/calculate/batch", json=body)
        assert answered.status_code == 200 and answered.json()["count"] == 1
    await asyncio.sleep(0)
    assert (admission.running, admission.by_caller) == (0, {})
