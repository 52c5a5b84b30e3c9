"""The catalogue: every measure of 渝发改规范〔2024〕7号, （七） in three parts, read from shared/policy/catalogue.json.

A measure's summary is written with placeholders for its parameters; `summary_en` fills them with the values in
force on a date, so the prose follows every amendment.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from services.eligibility.parameters.definitions import Params
from services.eligibility.rules.base import clause
from shared.policy.catalogue import (
    PLACEHOLDER,
    MeasureFrequency,
    MeasureId,
    MeasureRecipient,
    SubjectType,
    read_catalogue,
)
from shared.policy.references import Reference


@dataclass(frozen=True, slots=True)
class Measure:
    id: MeasureId
    reference: Reference
    title_zh: str
    title_en: str
    computable: bool
    recipient: MeasureRecipient
    subject_type: SubjectType | None
    frequency: MeasureFrequency
    lead_department_zh: str
    lead_department_en: str
    summary_template_en: str

    @property
    def clause(self) -> str:
        """The clause as the text numbers it, e.g. （七）."""
        return self.reference.clause.removeprefix("第").removesuffix("条")

    @property
    def citation(self) -> str:
        return clause(self.clause.strip("（）"))

    def summary_en(self, params: Params) -> str:
        """The summary with the values in force in `params` written in."""

        def fill(match: re.Match[str]) -> str:
            name, key, how = match["name"], match["key"], match["format"]
            if how == "table":
                return _table(params.table(name))
            if how == "date":
                return params.day(name).isoformat()
            value = params.table(name)[key] if key is not None else params.decimal(name)
            return _percent(value) if how == "percent" else _yuan(value)

        return PLACEHOLDER.sub(fill, self.summary_template_en)


def _yuan(amount: Decimal) -> str:
    # Whole yuan without the fen, as the policy writes amounts.
    figure = f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
    return f"{figure} yuan"


def _percent(ratio: Decimal) -> str:
    return f"{(ratio * 100).normalize():f}%"


def _table(amounts: Mapping[str, Decimal]) -> str:
    """Consecutive keys of equal amounts written as one range: "1–5: 5,000,000 yuan; 6–10: 3,000,000 yuan".

    Only keys that follow each other (2 after 1) join a range, so a table without a tier 2 never reads "1–3"."""
    runs: list[tuple[list[str], Decimal]] = []
    for key, amount in amounts.items():
        if runs and runs[-1][1] == amount and _follows(runs[-1][0][-1], key):
            runs[-1][0].append(key)
        else:
            runs.append(([key], amount))
    parts = [f"{keys[0] if len(keys) == 1 else f'{keys[0]}–{keys[-1]}'}: {_yuan(amount)}" for keys, amount in runs]
    return "; ".join(parts)


def _follows(previous: str, key: str) -> bool:
    return previous.isdigit() and key.isdigit() and int(key) == int(previous) + 1


def _measures() -> tuple[Measure, ...]:
    catalogue = read_catalogue()
    return tuple(
        Measure(
            id=entry.id,
            reference=entry.reference,
            title_zh=entry.title_zh,
            title_en=entry.title_en,
            computable=entry.computable,
            recipient=entry.recipient,
            subject_type=entry.subject_type,
            frequency=entry.frequency,
            lead_department_zh=catalogue.departments[entry.lead_department].zh,
            lead_department_en=catalogue.departments[entry.lead_department].en,
            summary_template_en=entry.summary_en,
        )
        for entry in catalogue.measures
    )


MEASURES: tuple[Measure, ...] = _measures()
MEASURES_BY_ID: dict[str, Measure] = {measure.id: measure for measure in MEASURES}
