"""Matching (精准匹配、主动推送, 渝府发〔2024〕18号 第三十二条): what one enterprise can receive or apply for."""

from datetime import date
from typing import Any

from services.eligibility.calculations.service import step_out
from services.eligibility.matches.schemas import MatchedAmount, MatchedMeasure, MatchesOut
from services.eligibility.measures.catalogue import MEASURES, MEASURES_BY_ID, Measure
from services.eligibility.parameters.definitions import ParameterSet
from services.eligibility.registry_client.client import RegistryClient
from services.eligibility.rules import engine
from services.eligibility.rules.base import ZERO
from services.eligibility.screenings import subjects
from shared.auth import Principal
from shared.errors import Forbidden, NotFound

# 第（十一）条 names software and information, law, accounting, consulting and design.
KNOWLEDGE_INTENSIVE_SECTORS = frozenset(
    {"software_it", "legal_ip", "accounting_audit_tax", "industrial_design", "human_resources", "tech_rnd"}
)
# 第（八）条: patient capital for enterprises at the start-up and growth stages.
YOUNG_ENTERPRISE_YEARS = 5


def _measure(measure: Measure, applies: str, basis: str) -> MatchedMeasure:
    return MatchedMeasure(
        measure_id=measure.id,
        clause=measure.clause,
        title_zh=measure.title_zh,
        title_en=measure.title_en,
        applies=applies,
        basis=basis,
        lead_department_zh=measure.lead_department_zh,
        lead_department_en=measure.lead_department_en,
        citation=measure.citation,
    )


def other_measures(
    enterprise: dict[str, Any],
    managed_clusters: list[dict[str, Any]],
    district_clusters: list[dict[str, Any]],
    as_of: date,
) -> list[MatchedMeasure]:
    """The measures without a formula that apply, or may apply, to the enterprise."""
    found: list[MatchedMeasure] = []
    for measure in MEASURES:
        if measure.computable or measure.recipient == "industry_association":
            continue
        if measure.id == "M04":
            if managed_clusters:
                names = "、".join(str(c["name"]) for c in managed_clusters)
                found.append(_measure(measure, "applies", f"the enterprise manages the cluster {names}"))
            elif district_clusters:
                names = "、".join(str(c["name"]) for c in district_clusters)
                found.append(_measure(measure, "may_apply", f"if it is located in a cluster of its district: {names}"))
            continue
        if measure.id == "M08":
            established = date.fromisoformat(enterprise["established_on"])
            age = (as_of - established).days // 365
            basis = "a producer-service enterprise"
            if age < YOUNG_ENTERPRISE_YEARS:
                basis += f", at the start-up or growth stage (established {established}) the clause stresses"
            found.append(_measure(measure, "applies", basis))
            continue
        if measure.id == "M11":
            if enterprise["sector"] in KNOWLEDGE_INTENSIVE_SECTORS:
                found.append(_measure(measure, "applies", f"a knowledge-intensive sector ({enterprise['sector']})"))
            else:
                found.append(_measure(measure, "may_apply", "if it is a small or medium-sized enterprise"))
            continue
        if measure.id == "M16":
            found.append(_measure(measure, "may_apply", "when it needs land or uses existing industrial property"))
            continue
        found.append(_measure(measure, "applies", "a producer-service enterprise of the registry"))
    return found


async def match(
    registry: RegistryClient, parameters: ParameterSet, principal: Principal, uscc: str, as_of: date, year: int
) -> MatchesOut:
    enterprise = await registry.enterprise(uscc)
    if enterprise is None:
        raise NotFound(f"The registry has no enterprise {uscc}.")
    district_code = enterprise["district_code"]
    if not principal.may_read_district(district_code):
        raise Forbidden(f"The enterprise belongs to district {district_code}; this key may not read it.")
    projects = [p for p in await registry.list_all("/projects", {"owner_uscc": uscc}) if p["owner_uscc"] == uscc]
    clusters = await registry.list_all("/clusters")
    buildings = [b for b in await registry.list_all("/buildings") if b["operator_uscc"] == uscc]
    managed = [c for c in clusters if c.get("manager_uscc") == uscc]
    candidates = []
    for project in projects:
        candidates.extend(subjects.project_candidates([project], project["year"])[0])
    candidates.extend(subjects.cluster_candidates(managed, year)[0])
    candidates.extend(subjects.building_candidates(buildings, year)[0])
    candidates.extend(subjects.enterprise_candidates([enterprise], year)[0])
    computable: list[MatchedAmount] = []
    for candidate in candidates:
        outcome = engine.evaluate(candidate.measure_id, as_of, candidate.facts, parameters)
        if not outcome.eligible:
            continue
        measure = MEASURES_BY_ID[candidate.measure_id]
        computable.append(
            MatchedAmount(
                measure_id=measure.id,
                clause=measure.clause,
                title_zh=measure.title_zh,
                title_en=measure.title_en,
                subject_type=candidate.subject_type,
                subject_id=candidate.subject_id,
                subject_name=candidate.subject_name,
                recipient=candidate.recipient,
                amount_yuan=outcome.amount,
                lead_department_zh=measure.lead_department_zh,
                lead_department_en=measure.lead_department_en,
                citation=measure.citation,
                trace=[step_out(step) for step in outcome.trace],
            )
        )
    district_clusters = [c for c in clusters if c["district_code"] == district_code]
    return MatchesOut(
        uscc=enterprise["uscc"],
        name=enterprise["name"],
        district_code=district_code,
        sector=enterprise["sector"],
        as_of=as_of,
        year=year,
        computable=computable,
        total_amount_yuan=sum((m.amount_yuan for m in computable), ZERO),
        other_measures=other_measures(enterprise, managed, district_clusters, as_of),
    )
