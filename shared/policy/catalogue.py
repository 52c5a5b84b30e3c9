"""The measure catalogue (catalogue.json): every measure of 渝发改规范〔2024〕7号, （七） in three parts.

A summary is English prose with placeholders `{parameter:format}` (or `{parameter[key]:format}` for one entry of a
table) that the eligibility service fills with the values in force, so that no amount is typed twice.
Formats: `yuan`, `percent`, `date`, `table` (a table's keys and amounts).
"""

import re
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, model_validator
from typing_extensions import TypeAliasType

from shared.policy import POLICY_DIR
from shared.policy.parameters import read_policy_file
from shared.policy.references import MEASURES_DOCUMENT, Reference

CATALOGUE_FILE = POLICY_DIR / "catalogue.json"

# Named types (TypeAliasType): each is one named enum of the OpenAPI documents, wherever it is used.
MeasureId = TypeAliasType(
    "MeasureId",
    Literal[
        "M01", "M02", "M03", "M04", "M05", "M06", "M07a", "M07b", "M07c",
        "M08", "M09", "M10", "M11", "M12", "M13", "M14", "M15", "M16",
    ],
)  # fmt: skip
MeasureRecipient = TypeAliasType(
    "MeasureRecipient",
    Literal[
        "project_owner",
        "platform_owner",
        "cluster_manager",
        "cluster_residents",
        "building_operator",
        "district",
        "enterprise",
        "industry_association",
        "enterprises_and_projects",
    ],
)
SubjectType = TypeAliasType("SubjectType", Literal["project", "cluster", "building", "enterprise", "district"])
MeasureFrequency = TypeAliasType("MeasureFrequency", Literal["one_off", "yearly", "per_event", "not_monetary"])
PlaceholderFormat = Literal["yuan", "percent", "date", "table"]
PLACEHOLDER = re.compile(r"\{(?P<name>[a-z0-9_.]+)(?:\[(?P<key>[0-9A-Za-z_]+)\])?:(?P<format>[a-z]+)\}")
_FORMATS: frozenset[str] = frozenset(get_args(PlaceholderFormat))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Department(_Strict):
    zh: str
    en: str


class MeasureEntry(_Strict):
    id: MeasureId
    reference: Reference
    title_zh: str
    title_en: str
    computable: bool
    recipient: MeasureRecipient
    subject_type: SubjectType | None
    frequency: MeasureFrequency
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
        if set(ids) != set(get_args(MeasureId.__value__)):
            raise ValueError("the catalogue must hold every measure of MeasureId, and only those")
        for measure in self.measures:
            if measure.lead_department not in self.departments:
                raise ValueError(f"{measure.id}: lead_department {measure.lead_department!r} is not a department")
            if measure.reference.document != MEASURES_DOCUMENT:
                raise ValueError(f"{measure.id}: a measure of {MEASURES_DOCUMENT} must cite it")
        return self


def read_catalogue(path: Path = CATALOGUE_FILE) -> Catalogue:
    return read_policy_file(path, Catalogue)
