"""docs/policy/README.md: the newcomer's map names every computable measure with files that exist."""

import re
from pathlib import Path

from services.eligibility.rules.engine import RULES

MAP = Path(__file__).resolve().parents[2] / "docs" / "policy" / "README.md"


def test_every_computable_measure_has_a_row_whose_links_exist():
    text = MAP.read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if re.match(r"^\| M\d\d[a-z]? \|", line)}
    assert set(RULES) <= set(rows)
    for measure_id in RULES:
        links = re.findall(r"\]\(([^)]+)\)", rows[measure_id])
        assert [Path(link).suffix for link in links] == [".json", ".py"], measure_id
        assert all((MAP.parent / link).resolve().is_file() for link in links), measure_id
        assert f"test_{measure_id.lower()}_" in rows[measure_id]
