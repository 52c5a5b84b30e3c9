"""The catalogue as the API shows it: each measure with its facts and the parameter values in force on a day."""

from datetime import date

from services.eligibility.measures.catalogue import MEASURES, MEASURES_BY_ID, Measure
from services.eligibility.measures.schemas import MeasureOut, MeasureParameter, MeasuresOut
from services.eligibility.parameters.definitions import ParameterSet, format_value
from services.eligibility.rules.engine import RULES
from shared.errors import NotFound


def measure_out(measure: Measure, parameters: ParameterSet, as_of: date) -> MeasureOut:
    rule = RULES.get(measure.id)
    params = parameters.at(as_of)
    return MeasureOut(
        id=measure.id,
        clause=measure.clause,
        title_zh=measure.title_zh,
        title_en=measure.title_en,
        computable=measure.computable,
        recipient=measure.recipient,
        subject_type=measure.subject_type,
        frequency=measure.frequency,
        lead_department_zh=measure.lead_department_zh,
        lead_department_en=measure.lead_department_en,
        summary_en=measure.summary_en(params),
        citation=measure.citation,
        effective_from=parameters.policy.effective_from,
        effective_to=parameters.policy.effective_to,
        facts=rule.facts if rule else [],
        parameters=[
            MeasureParameter(
                name=name,
                unit=parameters.definitions[name].unit,
                value=format_value(params.values[name]),
                citation=parameters.definitions[name].citation,
            )
            for name in (rule.parameters if rule else ())
        ],
    )


def list_measures(parameters: ParameterSet, as_of: date) -> MeasuresOut:
    return MeasuresOut(
        as_of=as_of,
        document=parameters.policy.document,
        items=[measure_out(measure, parameters, as_of) for measure in MEASURES],
    )


def get_measure(parameters: ParameterSet, measure_id: str, as_of: date) -> MeasureOut:
    measure = MEASURES_BY_ID.get(measure_id)
    if measure is None:
        raise NotFound(f"There is no measure {measure_id!r}; the measures are M01 … M16 with M07a, M07b, M07c.")
    return measure_out(measure, parameters, as_of)
