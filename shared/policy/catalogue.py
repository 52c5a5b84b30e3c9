"""The measure catalogue (catalogue.json): every measure of 渝发改规范〔2024〕7号, （七） in three parts.

A summary is English prose with placeholders `{parameter:format}` (or `{parameter[key]:format}` for one entry of a
table) that the eligibility service fills with the values in force, so that no amount is typed twice.
Formats: `yuan`, `percent`, `date`, `table` (a table's keys and amounts).
"""

import re
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

from shared.policy import POLICY_DIR
from shared.policy.parameters import read_policy_file
from shared.policy.references import MEASURES_DOCUMENT, Reference

CATALOGUE_FILE = POLICY_DIR / "catalogue.json"

Recipient = Literal[
    "project_owner",
    "platform_owner",
    "cluster_manager",
    "cluster_residents",
    "building_operator",
    "district",
    "enterprise",
    "industry_association",
    "enterprises_and_projects",
]
SubjectType = Literal["project", "cluster", "building", "enterprise", "district"]
Frequency = Literal["one_off", "yearly", "per_event", "not_monetary"]
PlaceholderFormat = Literal["yuan", "percent", "date", "table"]
PLACEHOLDER = re.compile(r"\{(?P<name>[a-z0-9_.]+)(?:\[(?P<key>[0-9A-Za-z_]+)\])?:(?P<format>[a-z]+)\}")
_FORMATS: frozenset[str] = frozenset(get_args(PlaceholderFormat))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Department(_Strict):
    zh: str
    en: str


class MeasureEntry(_Strict):
    id: Annotated[str, StringConstraints(pattern=r"^M[0-9]{2}[a-z]?$")]
    reference: Reference
    title_zh: str
    title_en: str
    computable: bool
    recipient: Recipient
    subject_type: SubjectType | None
    frequency: Frequency
    # A key of the catalogue's `departments`: the clause's 牵头单位.
    lead_department: str
    summary_en: str

    @model_validator(mode="after")
    def _placeholders_are_well_formed(self) -> "MeasureEntry":
        for match in PLACEHOLDER.finditer(self.summary_en):
            if match["format"] not in _FORMATS:
                raise ValueError(f"{self.id}: unknown placeholder format {match['format']!r}")
        if "{" in PLACEHOLDER.sub("", self.summary_en):
            raise ValueError(f"{self.id}: a placeholder of the summary is not of the form {{parameter:format}}")
        return self

    def placeholders(self) -> list[tuple[str, str | None, str]]:
        """(parameter, table key or None, format) of every placeholder of the summary, in order."""
        return [(m["name"], m["key"], m["format"]) for m in PLACEHOLDER.finditer(self.summary_en)]


class Catalogue(_Strict):
    document: Literal["渝发改规范〔2024〕7号"]
    departments: dict[str, Department]
    measures: list[MeasureEntry]

    @model_validator(mode="after")
    def _consistent(self) -> "Catalogue":
        ids = [measure.id for measure in self.measures]
        if len(set(ids)) != len(ids):
            raise ValueError("a measure id appears twice")
        for measure in self.measures:
            if measure.lead_department not in self.departments:
                raise ValueError(f"{measure.id}: lead_department {measure.lead_department!r} is not a department")
            if measure.reference.document != MEASURES_DOCUMENT:
                raise ValueError(f"{measure.id}: a measure of {MEASURES_DOCUMENT} must cite it")
        return self


def read_catalogue(path: Path = CATALOGUE_FILE) -> Catalogue:
    return read_policy_file(path, Catalogue)
