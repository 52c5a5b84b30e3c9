"""Rank uncertainty: Monte Carlo over perturbed weights and the alternative normalisations, vectorised with NumPy.

Each draw takes weights from a Dirichlet distribution centred on the nominal weights (concentration × weight; a
weight of 0 stays 0) and one of the three normalisations uniformly; the indicators are those of the run (after the
minimum base and any winsorisation), so only the methodology's judgement calls vary. Scores are rounded to six places
and ties settled by the run's tie-break order, as in the run itself; a district that can take no award place (no
above-size enterprise in either year) stays after every district that can, in every draw. The same seed gives the
same answer.
"""

from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from services.ranking.decimals import exact
from services.ranking.runs import service as runs
from services.ranking.runs.compute import INDICATORS, normalise
from services.ranking.sensitivity.schemas import DistrictSensitivity, SensitivityOut
from services.ranking.settings import RankingSettings
from shared.errors import InvalidInput, field_error

NORMALISATIONS = ("min_max", "z_score", "rank")
_TIE_FIELDS = {"revenue_growth": "growth_used", "net_increase": "net_increase", "new_count": "new_count"}


def _tie_value(row: dict[str, Any], key: str) -> Decimal:
    return Decimal(str(row[_TIE_FIELDS.get(key, "revenue_yuan")]))


def tie_positions(rows: list[dict[str, Any]], tie_break: list[str]) -> npt.NDArray[np.int64]:
    """Each district's place in the tie-break order alone (its keys, then district_code)."""
    ordered = sorted(
        range(len(rows)),
        key=lambda index: (*(-_tie_value(rows[index], key) for key in tie_break), rows[index]["district_code"]),
    )
    positions = np.empty(len(rows), dtype=np.int64)
    positions[ordered] = np.arange(len(rows))
    return positions


def normalised_matrices(rows: list[dict[str, Any]]) -> npt.NDArray[np.float64]:
    """Shape (normalisation, district, indicator): the run's indicators under each normalisation."""
    with exact():
        values = {name: [Decimal(row["indicators"][name]) for row in rows] for name in INDICATORS}
        matrices = [[[float(v) for v in normalise(values[name], how)] for name in INDICATORS] for how in NORMALISATIONS]
    return np.asarray(matrices, dtype=np.float64).transpose(0, 2, 1)


# Added to the sort key of a district that can take no award place: more than any score's key can span.
INELIGIBLE_OFFSET = np.int64(2**52)


def simulate_ranks(
    matrices: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    ties: npt.NDArray[np.int64],
    *,
    draws: int,
    seed: int,
    concentration: float,
    ineligible: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.int16]:
    """Shape (draw, district): the rank of each district in each draw (the `ineligible` ones always last)."""
    rng = np.random.default_rng(seed)
    drawn = np.zeros((draws, weights.size), dtype=np.float64)
    positive = weights > 0
    if positive.sum() > 1:
        drawn[:, positive] = rng.dirichlet(concentration * weights[positive], size=draws)
    else:
        drawn[:, positive] = 1.0
    choice = rng.integers(0, len(NORMALISATIONS), size=draws)
    districts = matrices.shape[1]
    scores = np.empty((draws, districts), dtype=np.float64)
    for index in range(len(NORMALISATIONS)):
        chosen = choice == index
        scores[chosen] = drawn[chosen] @ matrices[index].T
    # Six places, then the tie-break order: one integer key per district and draw, smaller is better.
    key = -np.rint(scores * 1e6).astype(np.int64) * 64 + ties
    if ineligible is not None:
        key = key + np.where(ineligible, INELIGIBLE_OFFSET, np.int64(0))[None, :]
    order = np.argsort(key, axis=1, kind="stable")
    ranks = np.empty((draws, districts), dtype=np.int16)
    np.put_along_axis(ranks, order, np.arange(1, districts + 1, dtype=np.int16)[None, :], axis=1)
    return ranks


def _last_rank_of_tier(award_by_rank: dict[str, str], rank: int, count: int) -> int:
    def award(position: int) -> Decimal:
        return Decimal(award_by_rank.get(str(position), "0"))

    last = rank
    while last < count and award(last + 1) == award(rank):
        last += 1
    return last


def analyse(
    document: dict[str, Any], *, draws: int, seed: int, concentration: float, threshold: float
) -> list[DistrictSensitivity]:
    rows: list[dict[str, Any]] = document["rows"]
    methodology = document["methodology"]
    weights = np.array([float(Decimal(methodology["weights"][name])) for name in INDICATORS])
    ranks = simulate_ranks(
        normalised_matrices(rows),
        weights,
        tie_positions(rows, methodology["tie_break"]),
        draws=draws,
        seed=seed,
        concentration=concentration,
        ineligible=np.array([not row.get("award_eligible", True) for row in rows], dtype=np.bool_),
    )
    quantiles = np.quantile(ranks, [0.05, 0.5, 0.95], axis=0, method="inverted_cdf")
    top5 = (ranks <= 5).mean(axis=0)
    top10 = (ranks <= 10).mean(axis=0)
    award_by_rank: dict[str, str] = document["inputs"]["award_table"]["by_rank"]
    result: list[DistrictSensitivity] = []
    for index, row in enumerate(rows):
        award = Decimal(row["award_yuan"])
        keep: float | None = None
        if award > 0:
            last = _last_rank_of_tier(award_by_rank, row["rank"], len(rows))
            keep = round(float((ranks[:, index] <= last).mean()), 6)
        result.append(
            DistrictSensitivity(
                district_code=row["district_code"],
                district_name=row["district_name"],
                nominal_rank=row["rank"],
                award_yuan=award,
                median_rank=int(quantiles[1, index]),
                p5_rank=int(quantiles[0, index]),
                p95_rank=int(quantiles[2, index]),
                p_top5=round(float(top5[index]), 6),
                p_top10=round(float(top10[index]), 6),
                p_keep_tier=keep,
                fragile=keep is not None and keep < threshold,
            )
        )
    return result


async def sensitivity(
    session: AsyncSession, settings: RankingSettings, run_id: int, *, draws: int, seed: int
) -> SensitivityOut:
    if not 1 <= draws <= settings.sensitivity_max_draws:
        raise InvalidInput(
            f"{draws} draws is outside what one request may ask for.",
            errors=[field_error(["query", "draws"], f"must lie within 1 … {settings.sensitivity_max_draws}")],
        )
    run = await runs.load(session, run_id)
    districts = await to_thread.run_sync(
        lambda: analyse(
            run.document,
            draws=draws,
            seed=seed,
            concentration=settings.sensitivity_concentration,
            threshold=settings.fragile_threshold,
        )
    )
    return SensitivityOut(
        run_id=run.id,
        year=run.year,
        methodology_version=run.methodology_version,
        draws=draws,
        seed=seed,
        concentration=settings.sensitivity_concentration,
        fragile_threshold=settings.fragile_threshold,
        normalisations=list(NORMALISATIONS),
        districts=districts,
    )
