"""Methodology versions: written once, never changed; one of them is the default."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.ranking.methodologies import repository
from services.ranking.methodologies.models import Methodology
from services.ranking.methodologies.schemas import (
    MethodologyCreate,
    MethodologyList,
    MethodologyOut,
    MethodologyWeights,
)
from services.ranking.vocabulary import stored_key
from shared.auth import Principal
from shared.errors import Conflict, InvalidInput, NotFound, field_error


def to_out(methodology: Methodology) -> MethodologyOut:
    return MethodologyOut(
        version=methodology.version,
        weights=MethodologyWeights.model_validate(
            {
                "new_count": methodology.weight_new_count,
                "net_increase": methodology.weight_net_increase,
                "revenue_growth": methodology.weight_revenue_growth,
            }
        ),
        normalisation=methodology.normalisation,
        growth_basis=methodology.growth_basis,
        min_base=methodology.min_base,
        winsorise=methodology.winsorise,
        tie_break=list(methodology.tie_break),
        max_unreported_share=methodology.max_unreported_share,
        description=methodology.description,
        is_default=methodology.is_default,
        created_at=methodology.created_at,
        created_by=methodology.created_by,
    )


async def list_all(session: AsyncSession) -> MethodologyList:
    return MethodologyList(items=[to_out(row) for row in await repository.all_versions(session)])


async def read(session: AsyncSession, version: str) -> MethodologyOut:
    methodology = await repository.get(session, version)
    if methodology is None:
        raise NotFound(f"No methodology version {version!r}.")
    return to_out(methodology)


async def resolve(session: AsyncSession, version: str | None, *, loc: list[str | int]) -> Methodology:
    """The named version, or the default when none is named; an unknown version is invalid input at `loc`."""
    methodology = await (repository.get(session, version) if version else repository.get_default(session))
    if methodology is None:
        message = f"no methodology version {version!r}" if version else "there is no default methodology"
        raise InvalidInput(f"Cannot rank: {message}; see GET /methodologies.", errors=[field_error(loc, message)])
    return methodology


async def create(session: AsyncSession, principal: Principal, data: MethodologyCreate) -> MethodologyOut:
    if await repository.get(session, data.version) is not None:
        raise Conflict(f"Methodology version {data.version!r} exists; versions never change, choose a new one.")
    if data.make_default:
        await repository.clear_default(session)
        await session.flush()
    methodology = Methodology(
        version=data.version,
        weight_new_count=data.weights.new_above_scale_count_weight,
        weight_net_increase=data.weights.net_increase,
        weight_revenue_growth=data.weights.revenue_growth,
        normalisation=data.normalisation,
        growth_basis=data.growth_basis,
        min_base=data.min_base,
        winsorise=data.winsorise,
        tie_break=[stored_key(key) for key in data.tie_break],
        max_unreported_share=data.max_unreported_share,
        description=data.description,
        is_default=data.make_default,
        created_by=principal.label,
    )
    repository.add(session, methodology)
    await session.flush()
    return to_out(methodology)
