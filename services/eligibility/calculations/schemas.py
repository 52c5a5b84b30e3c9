"""What /calculate takes and answers. A request is one of the computable measures' requests, told apart by
`measure_id`; each carries that measure's facts as its rule declares them (services/eligibility/rules/m*.py), so the
rules' own facts models validate the request and describe it in the OpenAPI document alike."""

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    create_model,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from typing_extensions import TypeAliasType

from services.eligibility.measures.catalogue import MEASURES_BY_ID
from services.eligibility.parameters.schemas import ParameterKey, ParameterValueOut
from services.eligibility.rules.base import NotEligibleReasonCode, Rule
from services.eligibility.rules.engine import RULES, fact_message
from shared.money import Yuan
from shared.policy.catalogue import MeasureId


class CalculationRequestBase(BaseModel):
    """What every calculation request has; each measure's request (`CalculateM01Request`, …) adds its facts."""

    measure_id: str = Field(description="A computable measure (GET /measures)")
    as_of: date = Field(description="The date the policy and the parameters are applied on", examples=["2025-06-30"])
    facts: object
    year: int | None = Field(
        default=None,
        ge=2000,
        le=2100,
        description="The year the facts are of (a yearly measure's year rewarded, a project's year); outside the "
        "years the policy rewards (GET /parameters?measure_id=policy) the answer is `not eligible`",
    )


def _request_model(rule: Rule[Any]) -> type[CalculationRequestBase]:
    measure = MEASURES_BY_ID[rule.measure_id]
    # The discriminator's tag, a Literal of a value known only here (so typed as Any for the type checker).
    tag: Any = Literal.__getitem__(rule.measure_id)
    return create_model(
        f"Calculate{rule.measure_id}Request",
        __base__=CalculationRequestBase,
        __doc__=f"A calculation of {rule.measure_id} ({measure.title_en}, {rule.citation}).",
        measure_id=(tag, Field(description=f"`{rule.measure_id}`")),
        facts=(rule.facts_model, Field(description=f"The facts {rule.measure_id}'s rule reads")),
    )


# One request model per rule, in the rules' order: a new rule is a new request, documented and validated.
REQUEST_MODELS: dict[str, type[CalculationRequestBase]] = {
    measure_id: _request_model(rule) for measure_id, rule in RULES.items()
}


def _not_calculable(measure_id: object) -> str:
    if measure_id is None:
        return "required: a computable measure (GET /measures)"
    if isinstance(measure_id, str) and measure_id in MEASURES_BY_ID:
        return f"{measure_id} has no formula: it is matched (GET /enterprises/{{uscc}}/matches), not calculated"
    return f"{measure_id!r} is not a measure (GET /measures)"


def _as_the_callers_request(value: Any, validate: ValidatorFunctionWrapHandler) -> Any:
    """The discriminated union's validation, with errors said the way a caller reads them: an unknown measure at
    `measure_id`, each fact at `facts.<name>` (without pydantic's union tag in the location), in the facts' words."""
    # A measure id that is not a string (an object, a list) is unhashable: no `in` on a dict before that is known.
    measure_id = value.get("measure_id") if isinstance(value, dict) else None
    if isinstance(value, dict) and not (isinstance(measure_id, str) and measure_id in REQUEST_MODELS):
        kind = "missing" if measure_id is None else "unknown_measure"
        raise ValidationError.from_exception_data(
            "CalculationRequest",
            [
                InitErrorDetails(
                    type=PydanticCustomError(kind, _not_calculable(measure_id)), loc=("measure_id",), input=value
                )
            ],
        )
    try:
        return validate(value)
    except ValidationError as exc:
        tag = measure_id
        errors: list[InitErrorDetails] = []
        for error in exc.errors(include_url=False):
            loc = error["loc"][1:] if error["loc"][:1] == (tag,) else error["loc"]
            message = fact_message(error["msg"], error["type"]) if loc[:1] == ("facts",) else error["msg"]
            errors.append(
                InitErrorDetails(type=PydanticCustomError(error["type"], message), loc=loc, input=error["input"])
            )
        raise ValidationError.from_exception_data("CalculationRequest", errors) from None


if TYPE_CHECKING:
    CalculationRequest = CalculationRequestBase
else:
    CalculationRequest = TypeAliasType(
        "CalculationRequest",
        Annotated[
            Union[tuple(REQUEST_MODELS.values())],  # noqa: UP007 (a Union of the models made at import)
            Field(discriminator="measure_id"),
            WrapValidator(_as_the_callers_request),
        ],
    )


if TYPE_CHECKING:
    MeasureFacts = object
else:
    # The facts of any computable measure (a screened subject's, an award's), each measure's own model.
    MeasureFacts = TypeAliasType("MeasureFacts", Union[tuple(rule.facts_model for rule in RULES.values())])  # noqa: UP007


class TraceStep(BaseModel):
    """One step of a calculation's trace: what was read or computed, its value, and the text it rests on."""

    step: str
    value: str
    citation: str


class NotEligibleReason(BaseModel):
    """Why a calculation gives nothing: a stable `code` for programs and a `message` for people."""

    code: NotEligibleReasonCode = Field(examples=["investment_not_above_threshold"])
    message: str


class CalculationOut(BaseModel):
    measure_id: MeasureId
    as_of: date
    eligible: bool
    amount_yuan: Yuan
    reasons: list[NotEligibleReason]
    trace: list[TraceStep]
    parameters_used: dict[ParameterKey, ParameterValueOut] = Field(
        description="Each parameter the rule read → its value in force (a decimal string, or a table of key → yuan)"
    )


class BatchOut(BaseModel):
    count: int
    items: list[CalculationOut] = Field(description="One answer per request item, in the order given")
