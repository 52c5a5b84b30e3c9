"""Parameters: their values in force, their history, and amendments within the policy's bounds."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.eligibility.parameters import repository
from services.eligibility.parameters.definitions import (
    Bounds,
    DatedValue,
    ParameterDataError,
    ParameterDefinition,
    ParameterSet,
    ParamValue,
    format_value,
)
from services.eligibility.parameters.models import ParameterAmendment
from services.eligibility.parameters.schemas import (
    ParameterAmendmentIn,
    ParameterBounds,
    ParameterDatedValue,
    PolicyParameterList,
    PolicyParameterOut,
    PolicyReference,
    PolicyValidity,
)
from services.eligibility.parameters.store import ParameterStore
from shared.auth import Principal
from shared.errors import Conflict, InvalidInput, NotFound, field_error
from shared.events import EventType, event_data, public_path
from shared.outbox import record_event
from shared.requestid import current_client_request_id, current_request_id


def _bounds(bounds: Bounds) -> ParameterBounds:
    return ParameterBounds.model_validate(bounds.describe())


def parameter_out(definition: ParameterDefinition, as_of: date) -> PolicyParameterOut:
    current = definition.value_at(as_of) or definition.values[0]
    history = [
        ParameterDatedValue(
            effective_from=dated.effective_from,
            effective_to=(
                definition.values[index + 1].effective_from - timedelta(days=1)
                if index + 1 < len(definition.values)
                else None
            ),
            value=format_value(dated.value),
            note=dated.note,
            source=dated.source,
            recorded_at=dated.recorded_at,
            recorded_by=dated.recorded_by,
        )
        for index, dated in enumerate(definition.values)
    ]
    return PolicyParameterOut(
        name=definition.name,
        measure_id=definition.measure_id,
        kind=definition.kind,
        unit=definition.unit,
        description_zh=definition.description_zh,
        description_en=definition.description_en,
        citation=definition.citation,
        reference=PolicyReference.model_validate(definition.reference.model_dump()),
        bounds=_bounds(definition.bounds),
        keys=list(definition.keys),
        key_bounds={key: _bounds(b) for key, b in definition.key_bounds.items()},
        as_of=as_of,
        value=format_value(current.value),
        effective_from=current.effective_from,
        history=history,
    )


def policy_validity(parameters: ParameterSet) -> PolicyValidity:
    policy = parameters.policy
    return PolicyValidity(
        document=policy.document,
        title_zh=policy.title_zh,
        title_en=policy.title_en,
        effective_from=policy.effective_from,
        effective_to=policy.effective_to,
        citation=policy.citation,
        reference=PolicyReference.model_validate(policy.reference.model_dump()),
    )


def list_parameters(parameters: ParameterSet, as_of: date, measure_id: str | None) -> PolicyParameterList:
    items = [
        parameter_out(definition, as_of)
        for definition in parameters.definitions.values()
        if measure_id is None or definition.measure_id == measure_id
    ]
    return PolicyParameterList(as_of=as_of, policy=policy_validity(parameters), items=items)


def get_definition(parameters: ParameterSet, name: str) -> ParameterDefinition:
    definition = parameters.definitions.get(name)
    if definition is None:
        raise NotFound(f"There is no parameter {name!r}.")
    return definition


async def amend(
    session: AsyncSession, store: ParameterStore, principal: Principal, name: str, body: ParameterAmendmentIn
) -> PolicyParameterOut:
    # Checked against every value recorded so far, by any process.
    await store.reload()
    parameters = store.current
    definition = get_definition(parameters, name)
    policy = parameters.policy
    if not policy.effective_from <= body.effective_from <= policy.effective_to:
        raise InvalidInput(
            "A parameter value must take effect while the policy is in force.",
            errors=[
                field_error(
                    ["body", "effective_from"],
                    f"must lie within {policy.effective_from} … {policy.effective_to}",
                )
            ],
        )
    try:
        value = definition.coerce(body.value)
    except ValueError as exc:
        raise InvalidInput(f"The value is refused: {exc}.", errors=[field_error(["body", "value"], str(exc))]) from None
    if any(dated.effective_from == body.effective_from for dated in definition.values) or await repository.exists(
        session, name, body.effective_from
    ):
        raise Conflict(
            f"{name} already has a value in force from {body.effective_from}; record a value from another date."
        )
    recorded_at = datetime.now(UTC)
    dated = DatedValue(
        effective_from=body.effective_from,
        value=value,
        note=body.reason,
        source="amendment",
        recorded_at=recorded_at,
        recorded_by=principal.label,
    )
    try:
        amended = parameters.with_values([(name, dated)])
    except ParameterDataError as exc:
        raise InvalidInput(
            f"The value is refused: {exc}.",
            errors=[field_error(["body", "value"], f"{param} {message}") for param, message in exc.problems],
        ) from None
    try:
        await repository.add(session, _amendment(name, body, value, recorded_at, principal))
        await session.flush()
    except IntegrityError:
        # Another request recorded a value for the same day between the check above and this insert.
        raise Conflict(f"{name} already has a value in force from {body.effective_from}.") from None
    previous = definition.value_at(body.effective_from)
    await record_event(
        session,
        type=EventType.PARAMETER_AMENDED,
        district_code=None,
        subject=f"parameter:{name}",
        data=event_data(
            public_path("eligibility", "parameters", name),
            measure_id=definition.measure_id,
            name=name,
            effective_from=body.effective_from.isoformat(),
            value=format_value(value),
            previous_value=format_value(previous.value) if previous is not None else None,
            unit=definition.unit,
            reason=body.reason,
            recorded_by=principal.label,
        ),
        occurred_at=recorded_at,
    )
    # The next request of this process re-reads the amendments (after this one commits); other processes
    # within their refresh interval.
    store.invalidate()
    return parameter_out(amended.definitions[name], body.effective_from)


def _amendment(
    name: str, body: ParameterAmendmentIn, value: ParamValue, recorded_at: datetime, principal: Principal
) -> ParameterAmendment:
    return ParameterAmendment(
        name=name,
        effective_from=body.effective_from,
        value=format_value(value),
        reason=body.reason,
        recorded_at=recorded_at,
        recorded_by=principal.label,
        request_id=current_request_id(),
        client_request_id=current_client_request_id(),
    )
