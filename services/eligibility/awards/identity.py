"""Who and what an award pays, derived from the registry's record, never from what the caller writes.

就高不重复 (附则) compares awards of the same kind of support for the same subject and recipient, so the stacking
key is derived here by one rule for every policy:

| subject | periodicity | key |
|---|---|---|
| project, platform, event | one-off (no year) | `project:<项目代码>`, or `project:<registry id>` without a code |
| cluster, star building, district | yearly (a year is required) | `cluster:<id>:<year>` … `district:<code>:<year>` |
| enterprise | once per enterprise and recipient kind | `enterprise:<credit code>:<district or enterprise>` |

第（七）条 pays the 500强 reward (M07a) to the enterprise's district and the 主辅分离 reward (M07b) to the new
enterprise: different recipients under different sentences, so they never stack on each other. The district of a
subject the registry holds is the registry's; a caller's `district_code` that contradicts it is refused. A subject
the registry does not hold (another policy's own project, named by its 项目代码, or an enterprise not registered
here) is named by the caller, and its key is derived by the same rule.
"""

import re
from dataclasses import dataclass
from typing import Any, Literal

from services.eligibility.registry_client.client import RegistryClient
from services.eligibility.screenings.subjects import (
    DISTRICT,
    ENTERPRISE,
    RecipientKind,
    cluster_recipient,
)
from shared.errors import InvalidInput, field_error
from shared.identifiers import PROJECT_CODE_SHAPE, project_code_problem
from shared.reference import DISTRICTS

Periodicity = Literal["one_off", "yearly"]
PERIODICITY: dict[str, Periodicity] = {
    "project": "one_off",
    "enterprise": "one_off",
    "cluster": "yearly",
    "building": "yearly",
    "district": "yearly",
}
# Whom each computable measure of this policy pays (M03: the cluster's 隶属 body, read from the cluster).
MEASURE_RECIPIENT_KIND: dict[str, RecipientKind] = {
    "M01": ENTERPRISE,
    "M02": ENTERPRISE,
    "M05": ENTERPRISE,
    "M06": DISTRICT,
    "M07a": DISTRICT,
    "M07b": ENTERPRISE,
    "M13": ENTERPRISE,
}
DISTRICT_NAMES = {district.code: district.name for district in DISTRICTS}
REGISTRY_ID = re.compile(r"[1-9][0-9]{0,9}")
MAX_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Subject:
    """The subject of an award as the system knows it."""

    subject_type: str
    subject_id: str
    name: str | None
    district_code: str
    recipient_kind: RecipientKind
    # None only for another policy's project the registry does not hold (its owner is not on record here).
    recipient: str | None
    stacking_key: str
    # The registry's record, when it holds the subject (the rules read their facts from it).
    record: dict[str, Any] | None


def invalid(field: str, msg: str, detail: str | None = None) -> InvalidInput:
    return InvalidInput(detail or f"The award is refused: {msg}.", errors=[field_error(["body", field], msg)])


def check_period(subject_type: str, year: int | None) -> None:
    """A year on a one-off subject, or none on a yearly one, is a 422 naming `year`."""
    if PERIODICITY[subject_type] == "one_off" and year is not None:
        raise invalid("year", f"a {subject_type} is supported once, not per year: leave the year out")
    if PERIODICITY[subject_type] == "yearly" and year is None:
        raise invalid("year", f"a {subject_type} is supported per year: give the year rewarded")


def stacking_key(subject_type: str, subject_id: str, year: int | None, recipient_kind: RecipientKind) -> str:
    if subject_type == "enterprise":
        return f"enterprise:{subject_id}:{recipient_kind}"
    if PERIODICITY[subject_type] == "yearly":
        return f"{subject_type}:{subject_id}:{year}"
    return f"{subject_type}:{subject_id}"


def _registry_id(subject_type: str, subject_id: str) -> int:
    if REGISTRY_ID.fullmatch(subject_id) is None or int(subject_id) > MAX_ID:
        raise invalid("subject_id", f"a {subject_type} is named by its registry id, a whole number from 1 (e.g. 42)")
    return int(subject_id)


def _district(given: str | None, held: str, what: str) -> str:
    if given is not None and given != held:
        raise invalid("district_code", f"{what} is of district {held} in the registry, not {given}")
    return held


def _unregistered_district(given: str | None, what: str) -> str:
    if given is None:
        raise invalid("district_code", f"required: the registry does not hold {what}, so name its district")
    return given


def _not_held(what: str) -> InvalidInput:
    return invalid("subject_id", f"the registry holds no {what}: this policy computes on the registry's facts")


async def _project(
    registry: RegistryClient, subject_id: str, district_code: str | None, registered_only: bool
) -> Subject:
    record: dict[str, Any] | None
    if PROJECT_CODE_SHAPE.fullmatch(subject_id) is not None:
        problem = project_code_problem(subject_id)
        if problem is not None:
            raise invalid("subject_id", problem)
        found = await registry.get("/projects", {"project_code": subject_id, "limit": 1})
        items = found.get("items", []) if isinstance(found, dict) else []
        record = items[0] if items else None
        if record is None and registered_only:
            raise _not_held(f"project {subject_id}")
        if record is None:
            # Another policy's project the registry does not hold: its 项目代码 is its identity.
            return Subject(
                "project",
                subject_id,
                None,
                _unregistered_district(district_code, f"project {subject_id}"),
                ENTERPRISE,
                None,
                f"project:{subject_id}",
                None,
            )
    else:
        record = await registry.get(f"/projects/{_registry_id('project', subject_id)}")
        if record is None:
            raise invalid("subject_id", f"there is no project {subject_id} in the registry")
    if record.get("duplicate_of_id") is not None:
        raise invalid(
            "subject_id",
            f"project {record['id']} duplicates project {record['duplicate_of_id']}: award that one",
        )
    identity = record.get("project_code") or str(record["id"])
    return Subject(
        "project",
        str(record["id"]),
        record["name"],
        _district(district_code, record["district_code"], f"project {record['id']}"),
        ENTERPRISE,
        record["owner_uscc"],
        f"project:{identity}",
        record,
    )


async def _enterprise(
    registry: RegistryClient,
    uscc: str,
    district_code: str | None,
    recipient_kind: RecipientKind,
    registered_only: bool,
) -> Subject:
    record = await registry.enterprise(uscc)
    if record is None and registered_only:
        raise _not_held(f"enterprise {uscc}")
    if record is None:
        district = _unregistered_district(district_code, f"enterprise {uscc}")
        name = None
    else:
        district = _district(district_code, record["district_code"], f"enterprise {uscc}")
        name = record["name"]
    recipient = district if recipient_kind == DISTRICT else uscc
    key = stacking_key("enterprise", uscc, None, recipient_kind)
    return Subject("enterprise", uscc, name, district, recipient_kind, recipient, key, record)


async def resolve(
    registry: RegistryClient,
    *,
    subject_type: str,
    subject_id: str,
    year: int | None,
    district_code: str | None,
    recipient_kind: RecipientKind,
    registered_only: bool,
) -> Subject:
    """The subject as the registry holds it (a 422 problem naming the field that contradicts it). With
    `registered_only` (this policy's computable measures) a subject the registry does not hold is refused."""
    check_period(subject_type, year)
    if subject_type == "project":
        return await _project(registry, subject_id, district_code, registered_only)
    if subject_type == "enterprise":
        return await _enterprise(registry, subject_id, district_code, recipient_kind, registered_only)
    if subject_type == "district":
        if subject_id not in DISTRICT_NAMES:
            raise invalid("subject_id", f"{subject_id!r} is not one of the 38 district codes of Chongqing")
        district = _district(district_code, subject_id, "a district's award")
        key = stacking_key("district", subject_id, year, DISTRICT)
        return Subject("district", subject_id, DISTRICT_NAMES[subject_id], district, DISTRICT, subject_id, key, None)
    path = {"cluster": "/clusters", "building": "/buildings"}[subject_type]
    record = await registry.get(f"{path}/{_registry_id(subject_type, subject_id)}")
    if record is None:
        raise invalid("subject_id", f"there is no {subject_type} {subject_id} in the registry (register it first)")
    district = _district(district_code, record["district_code"], f"{subject_type} {subject_id}")
    if subject_type == "cluster":
        kind, recipient = cluster_recipient(record)
    else:
        kind, recipient = ENTERPRISE, record["operator_uscc"]
    key = stacking_key(subject_type, subject_id, year, kind)
    return Subject(subject_type, subject_id, record["name"], district, kind, recipient, key, record)
