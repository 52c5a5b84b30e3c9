"""The demo data generator and the demo keys file of `make run`."""

import json
import random
from pathlib import Path

from deploy.run_local import ensure_demo_keys
from deploy.seed_demo import import_rows, make_enterprises
from shared.reference import DISTRICT_CODES
from shared.uscc import uscc_problem
from tests.gateway.helpers import settings_for
from tests.support import TestDatabase


def test_demo_data_is_valid_and_covers_every_district() -> None:
    enterprises = make_enterprises(random.Random(2024), 320)
    assert len({e.uscc for e in enterprises}) == 320
    assert all(uscc_problem(e.uscc) is None and e.uscc[2:8] == e.district_code for e in enterprises)
    assert {e.district_code for e in enterprises} == DISTRICT_CODES
    years = [year for e in enterprises for year in e.years]
    assert {2023, 2024, 2025} <= set(years)
    flags = {figures[2] for e in enterprises for figures in e.years.values()}
    assert flags == {True, False}
    # 500强: three enterprises, one of them listed in 2024 already (so not for the first time in 2025).
    assert sum(1 for e in enterprises if any(figures[3] for figures in e.years.values())) == 3
    assert sum(1 for e in enterprises for figures in e.years.values() if figures[3]) == 4
    rows = import_rows(enterprises, 2023)
    assert len(rows) == 320
    with_figures = [row for row in rows if "year" in row]
    assert with_figures and all(row["revenue_yuan"].count(".") == 1 for row in with_figures)
    assert all(len(row["revenue_yuan"].split(".")[1]) == 2 for row in with_figures)


def test_demo_data_is_the_same_for_the_same_seed() -> None:
    first = make_enterprises(random.Random(7), 50)
    second = make_enterprises(random.Random(7), 50)
    assert [e.uscc for e in first] == [e.uscc for e in second]


def test_demo_keys_are_made_once_and_remade_when_they_no_longer_work(gateway_db: TestDatabase, tmp_path: Path) -> None:
    path = tmp_path / "demo-keys.json"
    settings = settings_for(gateway_db.url)
    keys = ensure_demo_keys(settings, path)
    assert set(keys) == {"city", "auditor", "districts"}
    assert set(keys["districts"]) == DISTRICT_CODES  # type: ignore[arg-type]
    assert json.loads(path.read_text()) == keys
    assert path.stat().st_mode & 0o777 == 0o600
    # A second start keeps them.
    assert ensure_demo_keys(settings, path) == keys
    # Keys that the database does not know (it was reset) are replaced.
    stale = dict(keys, city="cqk_0123456789ab_" + "Q" * 43)
    path.write_text(json.dumps(stale))
    fresh = ensure_demo_keys(settings, path)
    assert fresh["city"] != stale["city"] and fresh["city"] != keys["city"]
    path.write_text("not json")
    assert set(ensure_demo_keys(settings, path)) == {"city", "auditor", "districts"}
