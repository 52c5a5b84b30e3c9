"""The parameter files: one per computable measure, holding exactly what its rule reads, refused when malformed."""

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.eligibility.parameters.definitions import load_parameter_set
from services.eligibility.rules.engine import RULES
from shared.policy import POLICY_DIR
from shared.policy.parameters import PolicyFileError, read_parameter_files

RULES_DIR = Path(__file__).resolve().parents[2] / "services" / "eligibility" / "rules"


def test_each_computable_measure_has_one_file_named_like_its_rule_module():
    files = sorted(path.stem for path in (POLICY_DIR / "measures").glob("*.json"))
    modules = sorted(path.stem for path in RULES_DIR.glob("m[0-9][0-9]*_*.py"))
    assert (
        files
        == modules
        == [
            "m01_project_grant",
            "m02_public_platform",
            "m03_a_grade_cluster",
            "m05_star_building",
            "m06_district_ranking_award",
            "m07a_top500_first_listing",
            "m07b_manufacturer_spin_off",
            "m13_event_platform",
        ]
    )


def test_a_measures_file_holds_exactly_the_parameters_its_rule_reads():
    files = read_parameter_files()
    assert sorted(m.measure_id for m in files.measures) == sorted(RULES)
    for measure in files.measures:
        assert sorted(p.name for p in measure.parameters) == sorted(RULES[measure.measure_id].parameters)
    assert [p.name for p in files.validity.parameters] == ["policy.first_rewarded_year", "policy.last_rewarded_year"]


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    shutil.copy(POLICY_DIR / "validity.json", tmp_path / "validity.json")
    shutil.copytree(POLICY_DIR / "measures", tmp_path / "measures")
    return tmp_path


def edit(path: Path, change: Callable[[dict[str, Any]], object]) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def test_the_copy_loads_like_the_original(policy_copy: Path):
    assert load_parameter_set(policy_copy).definitions.keys() == load_parameter_set().definitions.keys()


def test_a_parameter_without_a_quote_is_refused(policy_copy: Path):
    edit(policy_copy / "measures" / "m02_public_platform.json", lambda d: d["parameters"][0]["reference"].pop("quote"))
    with pytest.raises(PolicyFileError, match=r"m02_public_platform\.json") as caught:
        read_parameter_files(policy_copy)
    assert isinstance(caught.value.__cause__, ValidationError)
    assert [error["loc"][-2:] for error in caught.value.__cause__.errors()] == [("reference", "quote")]


def test_a_clause_that_is_not_a_clause_is_refused(policy_copy: Path):
    edit(
        policy_copy / "measures" / "m13_event_platform.json",
        lambda d: d["parameters"][0]["reference"].update(clause="article 13"),
    )
    with pytest.raises(PolicyFileError, match="clause"):
        read_parameter_files(policy_copy)


def test_a_parameter_in_another_measures_file_is_refused(policy_copy: Path):
    def stray(document: dict[str, Any]) -> None:
        document["parameters"][0]["name"] = "m01.ratio"

    edit(policy_copy / "measures" / "m13_event_platform.json", stray)
    with pytest.raises(PolicyFileError, match=r"do not start with 'm13\.'"):
        read_parameter_files(policy_copy)


def test_a_measure_defined_in_two_files_is_refused(policy_copy: Path):
    shutil.copy(policy_copy / "measures" / "m13_event_platform.json", policy_copy / "measures" / "m13_again.json")
    with pytest.raises(PolicyFileError, match="measures M13 are defined in more than one file"):
        read_parameter_files(policy_copy)


def test_an_unknown_kind_is_refused(policy_copy: Path):
    edit(policy_copy / "measures" / "m13_event_platform.json", lambda d: d["parameters"][0].update(kind="float"))
    with pytest.raises(PolicyFileError, match="kind"):
        read_parameter_files(policy_copy)


def test_a_date_written_twice_is_refused(policy_copy: Path):
    # JSON keeps the last of two equal keys: without the check, the first value would vanish without a word.
    path = policy_copy / "measures" / "m13_event_platform.json"
    text = path.read_text(encoding="utf-8")
    document = json.loads(text)
    (day,) = document["parameters"][0]["values"]
    entry = json.dumps(document["parameters"][0]["values"][day], ensure_ascii=False)
    path.write_text(text.replace(f'"{day}":', f'"{day}": {entry}, "{day}":', 1), encoding="utf-8")
    with pytest.raises(PolicyFileError, match=rf"m13_event_platform\.json: {day} written more than once"):
        read_parameter_files(policy_copy)


def test_a_file_named_for_another_measure_is_refused(policy_copy: Path):
    measures = policy_copy / "measures"
    (measures / "m13_event_platform.json").rename(measures / "m02_event_platform.json")
    with pytest.raises(PolicyFileError, match="holds M13, so its name must start with m13_"):
        read_parameter_files(policy_copy)


def test_a_file_that_is_not_json_is_named(policy_copy: Path):
    (policy_copy / "measures" / "m13_event_platform.json").write_text("{", encoding="utf-8")
    with pytest.raises(PolicyFileError, match=r"m13_event_platform\.json: "):
        read_parameter_files(policy_copy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["bounds"].update(max="30%"), r"m13\.ratio: bounds\.max '30%' is not a number"),
        (lambda p: p["bounds"].update(min="NaN"), r"m13\.ratio: bounds\.min 'NaN' is not a number"),
        (lambda p: p.update(required_keys=["9"]), r"m13\.ratio: keys 9 are not among the table's keys"),
    ],
)
def test_unreadable_bounds_and_stray_keys_are_refused(policy_copy: Path, change, message):
    def edit_m13_ratio(document: dict[str, Any]) -> None:
        (ratio,) = [p for p in document["parameters"] if p["name"] == "m13.ratio"]
        change(ratio)

    edit(policy_copy / "measures" / "m13_event_platform.json", edit_m13_ratio)
    with pytest.raises(PolicyFileError, match=message):
        read_parameter_files(policy_copy)


def test_a_date_bound_that_is_not_a_date_is_refused(policy_copy: Path):
    def edit_bound(document: dict[str, Any]) -> None:
        (start,) = [p for p in document["parameters"] if p["kind"] == "date"]
        start["bounds"]["max"] = "2027-13-31"

    edit(policy_copy / "measures" / "m07b_manufacturer_spin_off.json", edit_bound)
    with pytest.raises(PolicyFileError, match=r"bounds\.max '2027-13-31' is not a date"):
        read_parameter_files(policy_copy)
