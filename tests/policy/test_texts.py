"""Every quote of the policy data, and of the rule modules, is verbatim in the vendored text of its clause."""

import ast
from pathlib import Path

import pytest

from services.eligibility.rules.engine import RULES
from shared.policy.catalogue import read_catalogue
from shared.policy.parameters import read_parameter_files
from shared.policy.ranking import read_methodologies
from shared.policy.references import MEASURES_DOCUMENT, Reference
from shared.reference import PLATFORM_DOMAINS
from tests.policy.texts import NUMERALS, SUPPLEMENTARY, TEXT_FILES, compact, measures_clauses, problem

RULES_DIR = Path(__file__).resolve().parents[2] / "services" / "eligibility" / "rules"
PARAMETERS = read_parameter_files()
CATALOGUE = read_catalogue()


def test_both_texts_are_vendored_and_name_themselves():
    assert compact(TEXT_FILES[MEASURES_DOCUMENT].read_text(encoding="utf-8")).count("渝发改规范〔2024〕7号") == 1
    action_plan = compact(TEXT_FILES["渝府发〔2024〕18号"].read_text(encoding="utf-8"))
    assert "重庆市加速推进现代生产性服务业高质量发展行动方案" in action_plan


def test_the_measures_text_has_sixteen_clauses_and_its_supplementary_provisions():
    clauses = measures_clauses()
    assert list(clauses) == [f"第（{numeral}）条" for numeral in NUMERALS] + [SUPPLEMENTARY]
    assert "有效期至2027年12月31日" in clauses[SUPPLEMENTARY]
    assert "就高不重复" in clauses[SUPPLEMENTARY]


@pytest.mark.parametrize(("name", "reference"), [(p.name, p.reference) for _, p in PARAMETERS.by_measure()])
def test_every_parameter_quotes_its_clause_verbatim(name, reference):
    assert problem(reference) is None, name


def test_the_validity_and_the_ranking_quote_their_clauses_verbatim():
    assert problem(PARAMETERS.validity.reference) is None
    ranking = read_methodologies()
    assert ranking.reference.clause == "第（六）条" and problem(ranking.reference) is None


@pytest.mark.parametrize("entry", CATALOGUE.measures, ids=lambda entry: entry.id)
def test_every_catalogue_entry_quotes_the_clause_it_names(entry):
    assert problem(entry.reference) is None


def test_the_catalogue_names_each_of_the_sixteen_clauses():
    named = {entry.reference.clause for entry in CATALOGUE.measures}
    assert named == {f"第（{numeral}）条" for numeral in NUMERALS}
    assert [e.id for e in CATALOGUE.measures if e.reference.clause == "第（七）条"] == ["M07a", "M07b", "M07c"]


@pytest.mark.parametrize("entry", CATALOGUE.measures, ids=lambda entry: entry.id)
def test_the_lead_department_is_the_clauses_own(entry):
    clause = measures_clauses()[entry.reference.clause]
    lead = clause.split("牵头单位：", 1)[1].split("，", 1)[0]
    assert CATALOGUE.departments[entry.lead_department].zh == lead


def rule_quote(module: Path) -> Reference:
    """The clause quoted in a rule module's docstring: the paragraph "渝发改规范〔2024〕7号 第（N）条：…"."""
    docstring = ast.get_docstring(ast.parse(module.read_text(encoding="utf-8"))) or ""
    (paragraph,) = [p for p in docstring.split("\n\n") if p.startswith(f"{MEASURES_DOCUMENT} ")]
    clause, quote = paragraph.removeprefix(f"{MEASURES_DOCUMENT} ").split("：", 1)
    return Reference(document=MEASURES_DOCUMENT, clause=clause, quote=compact(quote))


@pytest.mark.parametrize("measure_id", sorted(RULES))
def test_every_rule_module_quotes_its_clause_verbatim(measure_id):
    (module,) = [path for path in RULES_DIR.glob(f"{measure_id.lower()}_*.py")]
    reference = rule_quote(module)
    assert problem(reference) is None
    assert RULES[measure_id].citation == f"{MEASURES_DOCUMENT} {reference.clause}"


def test_the_platform_domains_m02_accepts_are_those_its_clause_lists():
    clause = measures_clauses()["第（二）条"]
    listed = clause.split("支持现代生产性服务业领域", 1)[1].split("等领域公共服务平台建设", 1)[0]
    assert listed.split("、") == list(PLATFORM_DOMAINS.values())
