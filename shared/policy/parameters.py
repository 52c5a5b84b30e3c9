"""The parameter files: the policy's validity (validity.json) and one file per computable measure (measures/).

OpenFisca-style: each parameter has a description, a unit, a reference and its values keyed by the date they take
effect from; unlike OpenFisca, it also carries the policy's bounds, which every value (in the file, in an amendment,
in a simulation's override) must respect. This module checks the files' shape; the eligibility service parses
and bounds-checks the values themselves (services/eligibility/parameters/definitions.py).
"""

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from typing_extensions import TypeAliasType

from shared.policy import POLICY_DIR
from shared.policy.references import Reference

ParameterKind = TypeAliasType("ParameterKind", Literal["ratio", "yuan", "yuan_table", "year", "date"])
# A number, a date or a four-digit year, written as a string so that no value passes through a float.
RawValue = str | dict[str, str]
ParameterName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*\.[a-z0-9_]+$", max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BoundsIn(_Strict):
    min: str | None = None
    max: str | None = None
    min_exclusive: bool = False


class DatedValueIn(_Strict):
    value: RawValue
    note: str


class ParameterIn(_Strict):
    name: ParameterName
    kind: ParameterKind
    unit: str = Field(min_length=1)
    description_zh: str = Field(min_length=1)
    description_en: str = Field(min_length=1)
    reference: Reference
    bounds: BoundsIn
    # For a table: the keys it may hold, those it must hold, and bounds of particular keys.
    keys: list[str] = Field(default_factory=list)
    required_keys: list[str] = Field(default_factory=list)
    key_bounds: dict[str, BoundsIn] = Field(default_factory=dict)
    values: dict[date, DatedValueIn] = Field(min_length=1)

    @model_validator(mode="after")
    def _bounds_and_keys_are_readable(self) -> "ParameterIn":
        limits = [(f"bounds.{side}", getattr(self.bounds, side), self.kind) for side in ("min", "max")]
        for key, bounds in self.key_bounds.items():
            limits += [(f"key_bounds.{key}.{side}", getattr(bounds, side), "yuan") for side in ("min", "max")]
        for where, limit, kind in limits:
            if limit is not None and not _readable_limit(limit, kind):
                expected = "a date (YYYY-MM-DD)" if kind == "date" else "a number"
                raise ValueError(f"{self.name}: {where} {limit!r} is not {expected}")
        strays = sorted((set(self.required_keys) | set(self.key_bounds)) - set(self.keys))
        if strays:
            raise ValueError(f"{self.name}: keys {', '.join(strays)} are not among the table's keys")
        return self


def _readable_limit(limit: str, kind: str) -> bool:
    try:
        if kind == "date":
            date.fromisoformat(limit)
        else:
            Decimal(limit)
    except (ValueError, ArithmeticError):  # decimal.InvalidOperation is an ArithmeticError
        return False
    return kind == "date" or Decimal(limit).is_finite()


class MeasureParametersFile(_Strict):
    """measures/<id>_<what it pays>.json: the parameters one rule reads."""

    measure_id: Annotated[str, StringConstraints(pattern=r"^M[0-9]{2}[a-z]?$")]
    parameters: list[ParameterIn] = Field(min_length=1)

    @model_validator(mode="after")
    def _names_belong_to_the_measure(self) -> "MeasureParametersFile":
        prefix = f"{self.measure_id.lower()}."
        strays = [p.name for p in self.parameters if not p.name.startswith(prefix)]
        if strays:
            raise ValueError(f"parameters {', '.join(strays)} do not start with {prefix!r}")
        return self


class ValidityFile(_Strict):
    """validity.json: the document, its force (附则) and the years it rewards."""

    document: Literal["渝发改规范〔2024〕7号"]
    title_zh: str
    title_en: str
    issued_on: date
    effective_from: date
    effective_to: date
    reference: Reference
    parameters: list[ParameterIn] = Field(min_length=1)

    @model_validator(mode="after")
    def _force_is_a_period(self) -> "ValidityFile":
        if self.effective_to < self.effective_from:
            raise ValueError(f"effective_to {self.effective_to} is before effective_from {self.effective_from}")
        strays = [p.name for p in self.parameters if not p.name.startswith("policy.")]
        if strays:
            raise ValueError(f"parameters {', '.join(strays)} do not start with 'policy.'")
        return self


class PolicyParameters(_Strict):
    """Everything the parameter files hold, by the measure id each parameter belongs to ("policy" for validity)."""

    validity: ValidityFile
    measures: list[MeasureParametersFile]

    @model_validator(mode="after")
    def _one_home_per_measure_and_name(self) -> "PolicyParameters":
        ids = [m.measure_id for m in self.measures]
        names = [p.name for _, p in self.by_measure()]
        for label, items in (("measure", ids), ("parameter", names)):
            twice = sorted({item for item in items if items.count(item) > 1})
            if twice:
                raise ValueError(f"{label}s {', '.join(twice)} are defined in more than one file")
        return self

    def by_measure(self) -> list[tuple[str, ParameterIn]]:
        pairs = [("policy", parameter) for parameter in self.validity.parameters]
        pairs += [(m.measure_id, parameter) for m in self.measures for parameter in m.parameters]
        return pairs


Model = TypeVar("Model", bound=BaseModel)


class PolicyFileError(ValueError):
    """A policy data file that cannot be read: the message names the file and what is wrong."""


def _without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # JSON allows a key twice and keeps the last: a date written twice would drop a value without a word.
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise PolicyFileError(f"{', '.join(repeated)} written more than once in one object")
    return dict(pairs)


def read_policy_file(path: Path, model: type[Model]) -> Model:
    """`path` parsed (no key twice in an object) and validated as `model`; PolicyFileError names the file."""
    try:
        return model.model_validate(json.loads(path.read_bytes(), object_pairs_hook=_without_repeated_keys))
    except (OSError, ValueError) as error:  # pydantic.ValidationError and json.JSONDecodeError are ValueErrors
        raise PolicyFileError(f"{path}: {error}") from error


def read_parameter_files(policy_dir: Path = POLICY_DIR) -> PolicyParameters:
    """Read and validate `validity.json` and `measures/*.json`; a measure's file is named `<its id>_<what>.json`."""
    measures: list[MeasureParametersFile] = []
    for path in sorted((policy_dir / "measures").glob("*.json")):
        measure = read_policy_file(path, MeasureParametersFile)
        if not path.stem.startswith(f"{measure.measure_id.lower()}_"):
            raise PolicyFileError(
                f"{path}: holds {measure.measure_id}, so its name must start with {measure.measure_id.lower()}_"
            )
        measures.append(measure)
    try:
        return PolicyParameters(
            validity=read_policy_file(policy_dir / "validity.json", ValidityFile), measures=measures
        )
    except ValueError as error:
        raise PolicyFileError(f"{policy_dir}: {error}") from error
