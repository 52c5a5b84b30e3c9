"""Parameters as data: dated values with unit, reference and the policy's bounds (pure, no I/O but the file read).

The values come from the parameter files of shared/policy/ (validity.json and one file per measure); a parameter's
value in force on a date is the one with the latest `effective_from` on or before it. Every value, in a file, in an
amendment or in a simulation's override, is checked against the parameter's bounds and the cross-parameter rules;
one outside them is refused.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast

from shared.money import FEN, MAX_YUAN
from shared.policy import POLICY_DIR
from shared.policy.parameters import BoundsIn, ParameterIn, ParameterKind, PolicyParameters, read_parameter_files
from shared.policy.references import Reference

ParamValue = Decimal | Mapping[str, Decimal] | int | date
JSONValue = str | dict[str, str]
# A bound is a number (ratios, yuan, years) or a date (kind `date`).
Limit = Decimal | date


class ParameterDataError(ValueError):
    """The parameter data (file, amendment or override) breaks a rule; `problems` lists (name, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Bounds:
    minimum: Limit | None = None
    maximum: Limit | None = None
    min_exclusive: bool = False

    def problem(self, value: Any) -> str | None:
        if self.minimum is not None:
            if self.min_exclusive and value <= self.minimum:
                return f"{value} is outside the policy's bounds: it must be above {self.minimum}"
            if not self.min_exclusive and value < self.minimum:
                return f"{value} is outside the policy's bounds: it must be at least {self.minimum}"
        if self.maximum is not None and value > self.maximum:
            return f"{value} is outside the policy's bounds: it must be at most {self.maximum}"
        return None

    def describe(self) -> dict[str, str | bool | None]:
        return {
            "min": None if self.minimum is None else str(self.minimum),
            "min_exclusive": self.min_exclusive,
            "max": None if self.maximum is None else str(self.maximum),
        }

    @classmethod
    def parse(cls, raw: BoundsIn, kind: str) -> "Bounds":
        def limit(value: str | None) -> Limit | None:
            if value is None:
                return None
            return date.fromisoformat(value) if kind == "date" else Decimal(value)

        return cls(minimum=limit(raw.min), maximum=limit(raw.max), min_exclusive=raw.min_exclusive)


@dataclass(frozen=True, slots=True)
class DatedValue:
    effective_from: date
    value: ParamValue
    note: str
    source: Literal["data file", "amendment"] = "data file"
    recorded_at: datetime | None = None
    recorded_by: str | None = None


def _decimal(raw: Any) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise ValueError('must be a decimal number, written as a string such as "0.10"')
    try:
        value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a decimal number") from None
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


def _yuan(raw: Any) -> Decimal:
    value = _decimal(raw)
    if abs(value) > MAX_YUAN:
        raise ValueError(f"{raw!r} is more yuan than an amount holds (at most {MAX_YUAN})")
    if value != value.quantize(FEN):
        raise ValueError(f"{raw!r} has more than two decimal places (fen)")
    return value.quantize(FEN)


def _year(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, str | int) or not str(raw).isdigit() or len(str(raw)) != 4:
        raise ValueError('must be a year of four digits, such as "2027"')
    return int(raw)


def _day(raw: Any) -> date:
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise ValueError('must be a date written YYYY-MM-DD, such as "2024-11-19"') from None


@dataclass(frozen=True, slots=True)
class ParameterDefinition:
    name: str
    measure_id: str
    kind: ParameterKind
    unit: str
    description_zh: str
    description_en: str
    reference: Reference
    bounds: Bounds
    keys: tuple[str, ...] = ()
    required_keys: tuple[str, ...] = ()
    key_bounds: Mapping[str, Bounds] = field(default_factory=dict)
    values: tuple[DatedValue, ...] = ()

    @property
    def citation(self) -> str:
        return self.reference.citation

    def coerce(self, raw: Any) -> ParamValue:
        """Parse `raw` as a value of this parameter and check the bounds; ValueError says what is wrong."""
        if self.kind == "yuan_table":
            if not isinstance(raw, Mapping) or not raw:
                raise ValueError("must be a non-empty object of key → amount in yuan")
            table: dict[str, Decimal] = {}
            for key, item in raw.items():
                key = str(key)
                if self.keys and key not in self.keys:
                    raise ValueError(f"key {key!r} is not one of {', '.join(self.keys)}")
                try:
                    amount = _yuan(item)
                except ValueError as exc:
                    raise ValueError(f"key {key!r}: {exc}") from None
                problem = self.key_bounds.get(key, self.bounds).problem(amount)
                if problem is not None:
                    raise ValueError(f"key {key!r}: {problem}")
                table[key] = amount
            missing = [key for key in self.required_keys if key not in table]
            if missing:
                raise ValueError(f"keys {', '.join(missing)} are required")
            return dict(sorted(table.items(), key=lambda pair: int(pair[0]) if pair[0].isdigit() else pair[0]))
        value: Decimal | int | date
        if self.kind == "year":
            value = _year(raw)
        elif self.kind == "date":
            value = _day(raw)
        else:
            value = _yuan(raw) if self.kind == "yuan" else _decimal(raw)
        problem = self.bounds.problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    def value_at(self, as_of: date) -> DatedValue | None:
        current: DatedValue | None = None
        for dated in self.values:
            if dated.effective_from <= as_of:
                current = dated
            else:
                break
        return current


def format_value(value: ParamValue) -> JSONValue:
    if isinstance(value, Decimal | int):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return {key: str(amount) for key, amount in value.items()}


@dataclass(frozen=True, slots=True)
class Policy:
    document: str
    title_zh: str
    title_en: str
    effective_from: date
    effective_to: date
    reference: Reference

    @property
    def citation(self) -> str:
        return self.reference.citation

    def in_force(self, as_of: date) -> bool:
        return self.effective_from <= as_of <= self.effective_to


def cross_problems(values: Mapping[str, ParamValue]) -> list[tuple[str, str]]:
    """Rules that tie parameters together; each problem names the parameter to change."""
    problems: list[tuple[str, str]] = []
    tier1 = values.get("m05.tier1_min_growth")
    tier2 = values.get("m05.tier2_min_growth")
    if isinstance(tier1, Decimal) and isinstance(tier2, Decimal) and tier1 <= tier2:
        problems.append(
            (
                "m05.tier1_min_growth",
                f"tier 1 needs faster growth ({tier1}) than tier 2 ({tier2})",
            )
        )
    first, last = values.get("policy.first_rewarded_year"), values.get("policy.last_rewarded_year")
    if isinstance(first, int) and isinstance(last, int) and first > last:
        problems.append(("policy.first_rewarded_year", f"{first} is after the last year rewarded, {last}"))
    cap = values.get("m01.cap_yuan")
    special_cap = values.get("m01.special_major_cap_yuan")
    if isinstance(cap, Decimal) and isinstance(special_cap, Decimal) and special_cap < cap:
        problems.append(("m01.special_major_cap_yuan", f"{special_cap} is below the ordinary cap {cap}"))
    return problems


@dataclass(frozen=True, slots=True)
class Params:
    """The values in force on one date (after any overrides): what a rule reads."""

    as_of: date
    values: Mapping[str, ParamValue]
    citations: Mapping[str, str]
    # The values as JSON, and as one line for a trace: formatted once, read by every traced evaluation.
    formatted: Mapping[str, JSONValue] = field(init=False)
    shown: Mapping[str, str] = field(init=False)

    def __post_init__(self) -> None:
        formatted = {name: format_value(value) for name, value in self.values.items()}
        object.__setattr__(self, "formatted", formatted)
        object.__setattr__(
            self,
            "shown",
            {
                name: value if isinstance(value, str) else ", ".join(f"{k}: {v}" for k, v in value.items())
                for name, value in formatted.items()
            },
        )

    def decimal(self, name: str) -> Decimal:
        return cast(Decimal, self.values[name])

    def table(self, name: str) -> Mapping[str, Decimal]:
        return cast(Mapping[str, Decimal], self.values[name])

    def year(self, name: str) -> int:
        return cast(int, self.values[name])

    def day(self, name: str) -> date:
        return cast(date, self.values[name])

    def rewarded_years(self) -> tuple[int, int]:
        """The first and last year the policy rewards (附则: in force 2024-11-19 … 2027-12-31)."""
        return self.year("policy.first_rewarded_year"), self.year("policy.last_rewarded_year")

    def rewards_year(self, year: int) -> bool:
        first, last = self.rewarded_years()
        return first <= year <= last


class ParameterSet:
    """The policy's validity and every parameter with its dated values."""

    def __init__(self, policy: Policy, definitions: Iterable[ParameterDefinition]) -> None:
        self.policy = policy
        self.definitions: dict[str, ParameterDefinition] = {d.name: d for d in definitions}
        self._citations = {name: d.citation for name, d in self.definitions.items()}
        self._at = lru_cache(maxsize=4096)(self._compute_at)
        self._check()

    def _check(self) -> None:
        problems: list[tuple[str, str]] = []
        for definition in self.definitions.values():
            if not definition.values:
                problems.append((definition.name, "has no value"))
                continue
            if definition.values[0].effective_from > self.policy.effective_from:
                problems.append((definition.name, f"has no value in force on {self.policy.effective_from}"))
            dates = [dated.effective_from for dated in definition.values]
            if len(set(dates)) != len(dates):
                problems.append((definition.name, "has two values in force from the same date"))
        if problems:
            raise ParameterDataError(problems)
        change_dates = sorted({d.effective_from for p in self.definitions.values() for d in p.values})
        for day in change_dates:
            for name, message in cross_problems(self._compute_at(max(day, self.policy.effective_from)).values):
                problems.append((name, f"from {day}: {message}"))
        if problems:
            raise ParameterDataError(problems)

    def _compute_at(self, as_of: date) -> Params:
        values: dict[str, ParamValue] = {}
        for name, definition in self.definitions.items():
            dated = definition.value_at(as_of) or definition.values[0]
            values[name] = dated.value
        return Params(as_of=as_of, values=values, citations=self._citations)

    def at(self, as_of: date) -> Params:
        return self._at(as_of)

    def with_overrides(self, as_of: date, raw: Mapping[str, Any]) -> Params:
        """The values in force on `as_of` with `raw` overrides applied; ParameterDataError names each bad one."""
        base = self.at(as_of)
        values = dict(base.values)
        problems: list[tuple[str, str]] = []
        for name, item in raw.items():
            definition = self.definitions.get(name)
            if definition is None:
                problems.append((name, "is not a parameter of this policy"))
                continue
            try:
                values[name] = definition.coerce(item)
            except ValueError as exc:
                problems.append((name, str(exc)))
        if not problems:
            problems = cross_problems(values)
        if problems:
            raise ParameterDataError(problems)
        return Params(as_of=as_of, values=values, citations=self._citations)

    def with_values(self, additions: Iterable[tuple[str, DatedValue]]) -> "ParameterSet":
        """A new set with more dated values (amendments); checked like the data file."""
        merged: dict[str, list[DatedValue]] = {name: list(d.values) for name, d in self.definitions.items()}
        for name, dated in additions:
            merged[name].append(dated)
        return ParameterSet(
            self.policy,
            [
                replace(d, values=tuple(sorted(merged[name], key=lambda v: v.effective_from)))
                for name, d in self.definitions.items()
            ],
        )


def _definition(measure_id: str, raw: ParameterIn) -> ParameterDefinition:
    return ParameterDefinition(
        name=raw.name,
        measure_id=measure_id,
        kind=raw.kind,
        unit=raw.unit,
        description_zh=raw.description_zh,
        description_en=raw.description_en,
        reference=raw.reference,
        bounds=Bounds.parse(raw.bounds, raw.kind),
        keys=tuple(raw.keys),
        required_keys=tuple(raw.required_keys),
        key_bounds={key: Bounds.parse(bounds, "yuan") for key, bounds in raw.key_bounds.items()},
    )


def parse_parameter_set(files: PolicyParameters) -> ParameterSet:
    """The parameter set of the files, every value parsed and bounds-checked (ParameterDataError lists each)."""
    validity = files.validity
    policy = Policy(
        document=validity.document,
        title_zh=validity.title_zh,
        title_en=validity.title_en,
        effective_from=validity.effective_from,
        effective_to=validity.effective_to,
        reference=validity.reference,
    )
    definitions: list[ParameterDefinition] = []
    problems: list[tuple[str, str]] = []
    for measure_id, raw in files.by_measure():
        definition = _definition(measure_id, raw)
        values: list[DatedValue] = []
        for effective_from, item in sorted(raw.values.items()):
            try:
                values.append(DatedValue(effective_from, definition.coerce(item.value), item.note))
            except ValueError as exc:
                problems.append((raw.name, f"value from {effective_from}: {exc}"))
        definitions.append(replace(definition, values=tuple(values)))
    if problems:
        raise ParameterDataError(problems)
    return ParameterSet(policy, definitions)


def load_parameter_set(policy_dir: Path = POLICY_DIR) -> ParameterSet:
    return parse_parameter_set(read_parameter_files(policy_dir))
