"""What-if: the registry evaluated under the parameters in force and under overrides within the policy's bounds."""

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from services.eligibility.parameters.definitions import ParameterDataError, ParameterSet, Params, format_value
from services.eligibility.registry_client.client import RegistryClient
from services.eligibility.rules.base import ZERO
from services.eligibility.screenings.schemas import SubjectsRead
from services.eligibility.screenings.service import (
    evaluate,
    measure_order,
    read_subjects,
)
from services.eligibility.screenings.subjects import Candidate, Gap
from services.eligibility.simulations.schemas import (
    ChangedSubject,
    DistrictComparison,
    MeasureComparison,
    SimulationComparison,
    SimulationIn,
    SimulationOut,
)
from shared.auth import Principal
from shared.errors import InvalidInput, field_error
from shared.perf import gc_paused
from shared.scoping import listing_district

# Per key: baseline count, baseline amount, reform count, reform amount.
Tally = dict[str, list[int | Decimal]]


def _new_tally() -> Tally:
    return defaultdict(lambda: [0, ZERO, 0, ZERO])


def _add(tally: Tally, key: str, offset: int, amount: Decimal) -> None:
    entry = tally[key]
    entry[offset] += 1
    entry[offset + 1] += amount


def _comparison(entry: list[int | Decimal]) -> dict[str, int | Decimal]:
    return {
        "baseline_count": entry[0],
        "baseline_amount_yuan": entry[1],
        "reform_count": entry[2],
        "reform_amount_yuan": entry[3],
        "delta_amount_yuan": Decimal(entry[3]) - Decimal(entry[1]),
    }


@dataclass
class Simulation:
    as_of: date
    parameters: ParameterSet
    baseline: Params
    reform: Params
    evaluations: int = 0
    total: list[int | Decimal] = field(default_factory=lambda: [0, ZERO, 0, ZERO])
    by_measure: Tally = field(default_factory=_new_tally)
    by_district: Tally = field(default_factory=_new_tally)
    changed: list[ChangedSubject] = field(default_factory=list)

    def consume(self, candidates: list[Candidate], _: list[Gap]) -> None:
        self.evaluations += len(candidates)
        with gc_paused():
            self._evaluate(candidates)

    def _evaluate(self, candidates: list[Candidate]) -> None:
        for candidate in candidates:
            before = evaluate(candidate, self.as_of, self.parameters, self.baseline)
            after = evaluate(candidate, self.as_of, self.parameters, self.reform)
            for offset, outcome in ((0, before), (2, after)):
                if outcome.eligible:
                    self.total[offset] += 1
                    self.total[offset + 1] += outcome.amount
                    _add(self.by_measure, candidate.measure_id, offset, outcome.amount)
                    _add(self.by_district, candidate.district_code, offset, outcome.amount)
            if before.eligible != after.eligible or before.amount != after.amount:
                self.changed.append(
                    ChangedSubject(
                        measure_id=candidate.measure_id,
                        subject_type=candidate.subject_type,
                        subject_id=candidate.subject_id,
                        subject_name=candidate.subject_name,
                        district_code=candidate.district_code,
                        recipient_kind=candidate.recipient_kind,
                        recipient=candidate.recipient,
                        baseline_eligible=before.eligible,
                        baseline_amount_yuan=before.amount,
                        reform_eligible=after.eligible,
                        reform_amount_yuan=after.amount,
                        delta_amount_yuan=after.amount - before.amount,
                    )
                )


async def simulate(
    registry: RegistryClient, parameters: ParameterSet, principal: Principal, body: SimulationIn
) -> SimulationOut:
    try:
        reform = parameters.with_overrides(body.as_of, body.overrides)
    except ParameterDataError as exc:
        raise InvalidInput(
            "An override is refused: see `errors`.",
            errors=[field_error(["body", "overrides", name], message) for name, message in exc.problems],
        ) from None
    district_code = listing_district(principal, body.district_code)
    baseline = parameters.at(body.as_of)
    simulation = Simulation(body.as_of, parameters, baseline, reform)
    read = await read_subjects(registry, body.year, district_code, simulation.consume)
    # Sorting and building the answer of thousands of changed subjects is CPU too.
    return await asyncio.to_thread(_simulation_out, simulation, body, district_code, read)


def _simulation_out(
    simulation: Simulation, body: SimulationIn, district_code: str | None, read: SubjectsRead
) -> SimulationOut:
    baseline, reform = simulation.baseline, simulation.reform
    with gc_paused():
        simulation.changed.sort(key=lambda c: (measure_order(c.measure_id), c.district_code, c.subject_id))
        return SimulationOut(
            year=body.year,
            as_of=body.as_of,
            district_code=district_code,
            overrides={name: format_value(reform.values[name]) for name in body.overrides},
            parameters_changed=sorted(name for name in body.overrides if reform.values[name] != baseline.values[name]),
            subjects_read=read,
            evaluations=simulation.evaluations,
            total=SimulationComparison.model_validate(_comparison(simulation.total)),
            by_measure=[
                MeasureComparison.model_validate({"measure_id": key, **_comparison(entry)})
                for key, entry in sorted(simulation.by_measure.items(), key=lambda pair: measure_order(pair[0]))
            ],
            by_district=[
                DistrictComparison.model_validate({"district_code": key, **_comparison(entry)})
                for key, entry in sorted(simulation.by_district.items())
            ],
            changed_subjects=simulation.changed,
        )
