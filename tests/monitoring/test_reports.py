"""The rendering of the assessment and the map (services/monitoring/reports): pure functions of the reports.

No database, no app: the package's autouse fixtures (a database per test) are replaced by no-ops below.
"""

import io
import json
import threading
import warnings
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]

from services.monitoring.assessments.schemas import (
    STATUSES,
    AssessmentReport,
    Provenance,
    SectorSummary,
    SeriesPoint,
    TargetAssessment,
)
from services.monitoring.map.schemas import MAP_INDICATORS, DistrictTotals, MapReport
from services.monitoring.reports import charts, fonts, tilemap, workbook
from services.monitoring.reports.labels import number_text, scale_for, target_text
from shared.errors import InvalidInput, ServiceUnavailable
from shared.reference import DISTRICT_CODES, DISTRICT_REGIONS, DISTRICTS, REGION_NAMES, SECTORS

SVG_NS = "{http://www.w3.org/2000/svg}"
GENERATED_AT = datetime(2026, 3, 31, 8, 0, tzinfo=UTC)
SECTOR_NAMES = {sector.code: sector.name_zh for sector in SECTORS}


@pytest.fixture(autouse=True)
def _isolated() -> Iterator[None]:
    yield  # nothing to truncate: these tests touch no database


@pytest.fixture(autouse=True)
def clock() -> None:
    return None


# ---------------------------------------------------------------------------------------------------------------
# Inputs: a 2025 assessment of ten targets (every status but missed, a range, a decrease, a growth rate, progress
# beyond the drawing cap) and a 2025 map of the 38 districts.


def _series(values: dict[int, str]) -> list[SeriesPoint]:
    return [SeriesPoint(year=year, value=Decimal(value)) for year, value in sorted(values.items())]


def _observation(year: int, revision: int = 1) -> Provenance:
    return Provenance(
        year=year,
        origin="observation",
        source="市统计局",
        source_kind="statistics_bureau",
        recorded_by="city-stats",
        recorded_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        revision=revision,
    )


def _registry(year: int) -> Provenance:
    return Provenance(
        year=year,
        origin="registry",
        source="registry",
        source_kind=None,
        recorded_by=None,
        recorded_at=None,
        revision=None,
    )


def target(target_id: str, **fields: Any) -> TargetAssessment:
    sector = fields.pop("sector", None)
    values: dict[str, Any] = {
        "target_id": target_id,
        "indicator_id": f"{sector or 'producer_services'}.{target_id.lower()}",
        "sector": sector,
        "sector_name_zh": SECTOR_NAMES.get(sector) if sector else None,
        "measure": "level",
        "comparator": "reaches",
        "comparator_text": "达到",
        "approximate": False,
        "target_value_max": None,
        "target_year": 2027,
        "baseline_year": 2023,
        "baseline_source": "市统计局",
        "year": 2025,
        "forecast": None,
        "forecast_meets_target": None,
        "forecast_method": "linear trend of the observed years",
        "trajectory_method": "linear",
        "provenance": [_observation(2023), _observation(2024), _observation(2025, revision=2)],
        "clause": "第（十）条",
        "citation": "渝府发〔2024〕18号 第（十）条",
        **fields,
    }
    for name in (
        "target_value",
        "target_value_max",
        "target_level",
        "baseline_value",
        "value",
        "achieved",
        "expected",
        "progress",
        "expected_progress",
        "forecast",
    ):
        if isinstance(values.get(name), str):
            values[name] = Decimal(values[name])
    return TargetAssessment.model_validate(values)


def assessment_report() -> AssessmentReport:
    targets = [
        target(
            "T01",
            indicator_name_zh="生产性服务业增加值占服务业增加值比重",
            unit="percent",
            comparator="exceeds",
            comparator_text="超过",
            target_value="50",
            target_level="50",
            baseline_value="45.2",
            value="47.9",
            achieved="47.9",
            expected="47.6",
            progress="0.5625",
            expected_progress="0.5",
            status="on_track",
            forecast="50.6",
            forecast_meets_target=True,
            clause="一、总体要求",
            citation="渝府发〔2024〕18号 一、总体要求",
            observed=_series({2023: "45.2", 2024: "46.8", 2025: "47.9"}),
            trajectory=_series({2023: "45.2", 2024: "46.4", 2025: "47.6", 2026: "48.8", 2027: "50"}),
        ),
        target(
            "T02",
            sector="software_it",
            indicator_name_zh="软件和信息服务业主营业务收入",
            unit="yuan",
            comparator_text="突破",
            comparator="exceeds",
            target_value="640000000000",
            target_level="640000000000",
            baseline_value="380000000000",
            value="470000000000",
            achieved="470000000000",
            expected="510000000000",
            progress="0.346154",
            expected_progress="0.5",
            status="behind",
            forecast="560000000000",
            forecast_meets_target=False,
            observed=_series({2023: "380000000000", 2024: "430000000000", 2025: "470000000000"}),
            trajectory=_series(
                {
                    2023: "380000000000",
                    2024: "445000000000",
                    2025: "510000000000",
                    2026: "575000000000",
                    2027: "640000000000",
                }
            ),
            provenance=[_registry(2023), _registry(2024), _registry(2025)],
        ),
        target(
            "T03",
            sector="software_it",
            indicator_name_zh="软件和信息服务业从业人员",
            unit="persons",
            measure="increase",
            comparator_text="新增",
            target_value="200000",
            target_level="580000",
            baseline_value="380000",
            value="495000",
            achieved="115000",
            expected="480000",
            progress="0.575",
            expected_progress="0.5",
            status="on_track",
            forecast="610000",
            forecast_meets_target=True,
            observed=_series({2023: "380000", 2024: "440000", 2025: "495000"}),
            trajectory=_series({2023: "380000", 2024: "430000", 2025: "480000", 2026: "530000", 2027: "580000"}),
        ),
        target(
            "T04",
            sector="software_it",
            indicator_name_zh="软件和信息服务业主营业务收入",
            unit="yuan",
            measure="annual_growth",
            comparator_text="年均增长…左右",
            approximate=True,
            target_value="15",
            target_level="664626437500",
            baseline_value="380000000000",
            value="470000000000",
            achieved="11.214302",
            expected="502550000000",
            progress="0.316163",
            expected_progress="0.429825",
            status="at_risk",
            forecast="560000000000",
            forecast_meets_target=False,
            trajectory_method="compound",
            observed=_series({2023: "380000000000", 2024: "430000000000", 2025: "470000000000"}),
            trajectory=_series(
                {
                    2023: "380000000000",
                    2024: "437000000000",
                    2025: "502550000000",
                    2026: "577932500000",
                    2027: "664622375000",
                }
            ),
        ),
        target(
            "T05",
            sector="tech_rnd",
            indicator_name_zh="新增规模以上科技研发服务业企业",
            unit="count",
            measure="increase",
            comparator_text="新增",
            target_value="500",
            target_level="500",
            baseline_value="0",
            baseline_source="registry",
            value="310",
            achieved="310",
            expected="250",
            progress="0.62",
            expected_progress="0.5",
            status="on_track",
            forecast="620",
            forecast_meets_target=True,
            observed=_series({2023: "0", 2024: "140", 2025: "310"}),
            trajectory=_series({2023: "0", 2024: "125", 2025: "250", 2026: "375", 2027: "500"}),
            provenance=[_registry(2023), _registry(2024), _registry(2025)],
        ),
        target(
            "T06",
            indicator_name_zh="营业收入百亿级集聚区",
            unit="count",
            target_value="20",
            target_level="20",
            baseline_value="11",
            value="14",
            achieved="14",
            expected="15.5",
            progress="0.333333",
            expected_progress="0.5",
            status="behind",
            forecast="17",
            forecast_meets_target=False,
            observed=_series({2023: "11", 2024: "13", 2025: "14"}),
            trajectory=_series({2023: "11", 2024: "13.25", 2025: "15.5", 2026: "17.75", 2027: "20"}),
            provenance=[_registry(2023), _registry(2024), _registry(2025)],
        ),
        target(
            "T07",
            indicator_name_zh="市级生产性服务业领军企业",
            unit="count",
            comparator="at_least",
            comparator_text="达…以上",
            target_value="100",
            target_level="100",
            baseline_year=None,
            baseline_value=None,
            baseline_source=None,
            value="38",
            achieved="38",
            expected=None,
            progress=None,
            expected_progress=None,
            status="no_baseline",
            forecast_method="no baseline: no trend",
            observed=_series({2025: "38"}),
            trajectory=[],
            provenance=[_registry(2025)],
        ),
        target(
            "T08",
            sector="modern_logistics",
            indicator_name_zh="社会物流总费用与地区生产总值的比率",
            unit="percent",
            comparator="down_to",
            comparator_text="下降至…左右",
            approximate=True,
            target_value="13.5",
            target_level="13.5",
            baseline_value="14.6",
            value=None,
            achieved=None,
            expected="14.05",
            progress=None,
            expected_progress="0.5",
            status="no_data",
            forecast_method="no value for the year",
            trajectory_method="decreasing",
            observed=_series({2023: "14.6", 2024: "14.3"}),
            trajectory=_series({2023: "14.6", 2024: "14.325", 2025: "14.05", 2026: "13.775", 2027: "13.5"}),
            provenance=[_observation(2023), _observation(2024)],
        ),
        target(
            "T09",
            sector="human_resources",
            indicator_name_zh="国家级人力资源服务产业园",
            unit="count",
            measure="increase",
            comparator="range",
            comparator_text="培育…—…",
            target_value="2",
            target_value_max="3",
            target_level="3",
            baseline_value="1",
            value="2",
            achieved="1",
            expected="1.5",
            progress="1",
            expected_progress="0.5",
            status="on_track",
            forecast="3",
            forecast_meets_target=True,
            observed=_series({2023: "1", 2024: "1", 2025: "2"}),
            trajectory=_series({2023: "1", 2024: "1.5", 2025: "2", 2026: "2.5", 2027: "3"}),
        ),
        target(
            "T10",
            sector="business_exhibitions",
            indicator_name_zh="国际性展会",
            unit="events",
            target_value="30",
            target_level="30",
            baseline_value="20",
            value="38",
            achieved="38",
            expected="25",
            progress="1.8",
            expected_progress="0.5",
            status="on_track",
            forecast="56",
            forecast_meets_target=True,
            observed=_series({2023: "20", 2024: "29", 2025: "38"}),
            trajectory=_series({2023: "20", 2024: "22.5", 2025: "25", 2026: "27.5", 2027: "30"}),
        ),
    ]
    order = [None, "tech_rnd", "software_it", "modern_logistics", "business_exhibitions", "human_resources"]
    sectors = []
    for sector in order:
        mine = [t for t in targets if t.sector == sector]
        with_progress = [t.progress for t in mine if t.progress is not None]
        sectors.append(
            SectorSummary(
                sector=sector,
                sector_name_zh=SECTOR_NAMES[sector] if sector else "生产性服务业（全市）",
                targets=len(mine),
                statuses={status: sum(1 for t in mine if t.status == status) for status in STATUSES},
                mean_progress=(sum(with_progress, Decimal(0)) / len(with_progress)).quantize(Decimal("0.000001"))
                if with_progress
                else None,
            )
        )
    return AssessmentReport(
        year=2025,
        generated_at=GENERATED_AT,
        input_hash="9f" * 32,
        code_version="0.1.0+test",
        parameters={
            "monitoring.on_track_ratio": "1.00",
            "monitoring.at_risk_ratio": "0.80",
            "monitoring.approximate_tolerance": "0.05",
            "monitoring.small_cell_minimum": "3",
            "monitoring.cluster_revenue_threshold_yuan": "10000000000",
        },
        targets=targets,
        sectors=sectors,
    )


# The map: revenue by district falls with the code's position, but 渝中 (500103) is the highest and 城口 (500229)
# the lowest of those shown; 巫溪 (500238) is withheld, 巫山 (500237) partly withheld, 秀山 (500241) has no growth.
HIGH, LOW, WITHHELD, PARTIAL, NO_GROWTH = "500103", "500229", "500238", "500237", "500241"


def map_report() -> MapReport:
    districts = []
    for index, district in enumerate(DISTRICTS):
        code = district.code
        count = 400 if code == HIGH else (2 if code == LOW else 200 - 5 * index)
        revenue = Decimal(count) * Decimal("150000000")
        region = DISTRICT_REGIONS[code]
        districts.append(
            DistrictTotals(
                district_code=code,
                district_name=district.name,
                region=region,
                region_name_zh=REGION_NAMES[region],
                above_scale_count=count,
                revenue_yuan=None if code == WITHHELD else revenue,
                employees=None if code == WITHHELD else count * 55,
                revenue_growth=None if code in (WITHHELD, NO_GROWTH) else Decimal(index - 12) / Decimal(100),
                suppressed=code in (WITHHELD, PARTIAL),
                clusters=index % 4,
                clusters_reaching_10bn=1 if code == HIGH else 0,
                leading_enterprises=index % 7,
                awards=index % 5,
                award_amount_yuan=Decimal(index * 125000) + Decimal("0.50"),
            )
        )
    return MapReport(
        year=2025,
        baseline_year=2023,
        generated_at=GENERATED_AT,
        small_cell_minimum=3,
        districts=districts,
        sectors=[],
        cells=[],
    )


# ---------------------------------------------------------------------------------------------------------------
# SVG


def _svg(data: bytes) -> ET.Element:
    root = ET.fromstring(data)  # noqa: S314 (our own output)
    assert root.tag == f"{SVG_NS}svg"
    return root


def _drawn(render: Any) -> bytes:
    # A glyph the font lacks is a warning from matplotlib (and an empty box in the picture): an error here.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data: bytes = render()
    return data


def test_target_chart_is_svg_with_outlined_glyphs_and_the_same_bytes_each_time() -> None:
    report = assessment_report()
    for assessment in report.targets:
        first = _drawn(lambda a=assessment: charts.target_chart_svg(a, title_zh=a.indicator_name_zh))
        root = _svg(first)
        # svg.fonttype "path": no <text>, the glyphs are paths (a browser needs no Chinese font).
        assert root.findall(f".//{SVG_NS}text") == []
        assert len(root.findall(f".//{SVG_NS}defs/{SVG_NS}path")) > 10
        assert b"<dc:date>" not in first
        assert charts.target_chart_svg(assessment, title_zh=assessment.indicator_name_zh) == first


def test_target_chart_title_defaults_to_the_indicator() -> None:
    t02 = assessment_report().targets[1]
    assert charts.target_chart_svg(t02) == charts.target_chart_svg(t02, title_zh="软件和信息服务业主营业务收入")
    t10 = assessment_report().targets[9]
    assert charts.target_chart_svg(t10) == charts.target_chart_svg(t10, title_zh="商务会展：国际性展会")


def test_a_different_title_gives_a_different_picture() -> None:
    t01 = assessment_report().targets[0]
    assert charts.target_chart_svg(t01, title_zh="甲") != charts.target_chart_svg(t01, title_zh="乙")


def test_sector_progress_svg() -> None:
    report = assessment_report()
    first = _drawn(lambda: charts.sector_progress_svg(report))
    _svg(first)
    assert charts.sector_progress_svg(report) == first
    # One bar per target with a progress (8 of the 10): their rectangles are paths of the status colours.
    assert first.count(b"fill: #4caf50") >= 5  # on_track: T01 T03 T05 T09 T10 (and the legend)


def test_an_empty_report_still_draws_and_writes() -> None:
    report = assessment_report().model_copy(update={"targets": [], "sectors": []})
    _svg(_drawn(lambda: charts.sector_progress_svg(report)))
    book = load_workbook(io.BytesIO(workbook.assessment_workbook(report)))
    assert book.sheetnames == ["汇总", "数据来源"]
    bare = assessment_report().targets[6].model_copy(update={"observed": [], "trajectory": [], "target_level": None})
    _svg(_drawn(lambda: charts.target_chart_svg(bare)))
    grid = map_report()
    nothing = grid.model_copy(
        update={"districts": [d.model_copy(update={"revenue_growth": None}) for d in grid.districts]}
    )
    _svg(_drawn(lambda: tilemap.tile_map_svg(nothing, indicator="revenue_growth")))


def test_sector_progress_of_sixty_targets_stays_bounded() -> None:
    report = assessment_report()
    many = [t.model_copy(update={"target_id": f"T{i:02d}"}) for i, t in enumerate(report.targets * 6, start=1)]
    big = report.model_copy(update={"targets": many})
    data = charts.sector_progress_svg(big)
    height = float(_svg(data).attrib["height"].removesuffix("pt"))
    assert height < 72 * 24  # 60 bars and 6 sector rows: under 24 inches tall
    assert len(data) < 3_000_000


@pytest.mark.parametrize("indicator", MAP_INDICATORS)
def test_tile_map_every_indicator(indicator: str) -> None:
    report = map_report()
    first = _drawn(lambda: tilemap.tile_map_svg(report, indicator=indicator))
    root = _svg(first)
    assert root.findall(f".//{SVG_NS}text") == []
    assert tilemap.tile_map_svg(report, indicator=indicator) == first


def test_tile_map_hatches_withheld_districts_and_says_so() -> None:
    report = map_report()
    revenue = tilemap.tile_map_svg(report, indicator="revenue_yuan")
    # A hatched patch is filled with an SVG pattern (url(#h…)): 巫溪's and 巫山's tiles and the two legend entries.
    assert revenue.count(b"url(#h") == 4
    # Counts are never withheld: no hatching, no legend entry.
    assert tilemap.tile_map_svg(report, indicator="above_scale_count").count(b"url(#h") == 0
    # Nothing withheld: the legend still says what hatching would mean, and no tile is hatched.
    open_report = report.model_copy(
        update={
            "districts": [
                d.model_copy(update={"suppressed": False, "revenue_yuan": d.revenue_yuan or Decimal(1)})
                for d in report.districts
            ]
        }
    )
    assert tilemap.tile_map_svg(open_report, indicator="revenue_yuan").count(b"url(#h") == 1


def test_tile_map_refuses_an_unknown_indicator() -> None:
    with pytest.raises(InvalidInput):
        tilemap.tile_map_svg(map_report(), indicator="population")


def test_tile_layout_is_the_38_districts_on_distinct_cells_each_region_contiguous() -> None:
    layout = tilemap.TILE_LAYOUT
    assert set(layout) == DISTRICT_CODES
    cells = [(column, row) for _, column, row in layout.values()]
    assert len(set(cells)) == 38
    assert all(0 <= c < tilemap.GRID_COLUMNS and 0 <= r < tilemap.GRID_ROWS for c, r in cells)
    names = {district.code: district.name for district in DISTRICTS}
    for code, (short, _, _) in layout.items():
        assert names[code].startswith(short) or names[code] == short, code
    # Each region is one block of tiles touching at a side or a corner (a flood fill from one reaches all of them).
    for region in REGION_NAMES:
        mine = {(c, r) for code, (_, c, r) in layout.items() if DISTRICT_REGIONS[code] == region}
        seen, todo = set(), [next(iter(sorted(mine)))]
        while todo:
            c, r = todo.pop()
            if (c, r) in seen or (c, r) not in mine:
                continue
            seen.add((c, r))
            todo += [(c + dc, r + dr) for dc in (-1, 0, 1) for dr in (-1, 0, 1)]
        assert seen == mine, region

    # The schematic's directions: 中心城区 west of the two 群, 渝东北 north of 渝东南.
    def mean(region: str, axis: int) -> float:
        places = [(c, r) for code, (_, c, r) in layout.items() if DISTRICT_REGIONS[code] == region]
        return sum(p[axis] for p in places) / len(places)

    assert mean("central", 0) < mean("northeast", 0) and mean("central", 0) < mean("southeast", 0)
    assert mean("northeast", 1) < mean("southeast", 1)
    # Region labels sit on empty cells.
    for x, y in tilemap.REGION_LABELS.values():
        assert all((int(x + dx), int(y)) not in cells for dx in (-0.75, 0, 0.75))


def test_tile_box_is_inside_the_figure_and_in_grid_order() -> None:
    left, top, right, bottom = tilemap.tile_box("500103")
    assert 0 < left < right < 1 and 0 < top < bottom < 1
    assert tilemap.tile_box("500105")[3] < tilemap.tile_box("500103")[1] + 1e-9  # 江北 above 渝中
    assert tilemap.tile_box("500108")[0] > tilemap.tile_box("500103")[2]  # 南岸 right of 渝中


def test_rendering_from_many_threads_gives_the_same_bytes() -> None:
    report, grid = assessment_report(), map_report()
    expected = (charts.sector_progress_svg(report), tilemap.tile_map_svg(grid, indicator="employees"))
    results: list[tuple[bytes, bytes]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append((charts.sector_progress_svg(report), tilemap.tile_map_svg(grid, indicator="employees")))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [expected] * 6


# ---------------------------------------------------------------------------------------------------------------
# Fonts


def test_the_debian_font_is_found_and_covers_every_district_and_sector() -> None:
    path = fonts.cjk_font()
    assert path == fonts.DEBIAN_WQY_MICROHEI
    from matplotlib.ft2font import FT2Font

    charmap = FT2Font(str(path)).get_charmap()
    text = "".join(d.name for d in DISTRICTS) + "".join(s.name_zh for s in SECTORS)
    text += "".join(name for name, _ in workbook.COLUMNS) + "".join(REGION_NAMES.values()) + "（）：…—％≥"
    assert [c for c in text if ord(c) not in charmap] == []


def test_a_configured_font_that_is_missing_or_not_chinese_is_a_503(tmp_path: Path) -> None:
    with pytest.raises(ServiceUnavailable) as missing:
        fonts.cjk_font(str(tmp_path / "none.ttc"))
    assert missing.value.status == 503
    assert "does not exist" in missing.value.detail
    latin = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if latin.is_file():
        with pytest.raises(fonts.FontUnavailable, match="no Chinese glyphs"):
            fonts.cjk_font(latin)
    assert fonts.cjk_font(fonts.DEBIAN_WQY_MICROHEI) == fonts.DEBIAN_WQY_MICROHEI


def test_no_font_at_all_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(fonts, "DEBIAN_WQY_MICROHEI", tmp_path / "absent.ttc")
    monkeypatch.setattr(fonts, "_fontconfig_match", lambda: Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
    fonts.cjk_font.cache_clear()
    try:
        with pytest.raises(fonts.FontUnavailable) as error:
            fonts.cjk_font()
        assert "fonts-wqy-microhei" in error.value.detail
        assert error.value.slug == "cjk-font-unavailable"
    finally:
        fonts.cjk_font.cache_clear()


# ---------------------------------------------------------------------------------------------------------------
# Labels


def test_labels() -> None:
    # The comparator words of targets.json, filled as the text reads.
    assert target_text("超过", "60家") == "超过60家"
    assert target_text("以上", "60家") == "60家以上"
    assert target_text("达…以上", "500") == "达500以上"
    assert target_text("年均增长…左右", "15%") == "年均增长15%左右"
    assert target_text("年均增长率保持在…以上", "20%") == "年均增长率保持在20%以上"
    assert target_text("每年…达到", "500万人次") == "每年达到500万人次"
    assert target_text("新增…上万", "10,000") == "新增上万（10,000）"
    assert target_text("较…增长…以上", "100%", fills=["2023年", "100%"]) == "较2023年增长100%以上"
    assert target_text("培育…—…", "2—3", fills=["2", "3"]) == "培育2—3"
    assert target_text("较…增长…以上", "100%") == "100%（较…增长…以上）"
    assert number_text(Decimal("6400.00")) == "6,400"
    assert number_text(Decimal("-0.001")) == "0"
    assert number_text(Decimal("47.95"), 1) == "48" or number_text(Decimal("47.95"), 1) == "48.0"
    assert scale_for("yuan", Decimal("640000000000")).suffix == "亿元"
    assert scale_for("yuan", Decimal("5000")).suffix == "元"
    assert scale_for("persons", Decimal("200000")).suffix == "万人"


# ---------------------------------------------------------------------------------------------------------------
# Workbook


def _number(text: str | None) -> float | None:
    return None if text is None else float(Decimal(text))


def test_workbook_holds_the_numbers_of_the_json() -> None:
    report = assessment_report()
    document = json.loads(report.model_dump_json())
    book = load_workbook(io.BytesIO(workbook.assessment_workbook(report)))
    sector_sheets = ["生产性服务业（全市）", "科技研发服务", "软件信息服务", "现代物流", "商务会展", "人力资源服务"]
    assert book.sheetnames == ["汇总", *sector_sheets, "数据来源"]
    summary = book["汇总"]
    header = [cell.value for cell in summary[2]]
    assert header == [name for name, _ in workbook.COLUMNS]
    column = {name: index for index, name in enumerate(header)}
    rows = [[cell.value for cell in row] for row in summary.iter_rows(min_row=3)]
    assert len(rows) == 10
    for row, given in zip(rows, document["targets"], strict=True):
        assert row[column["目标编号"]] == given["target_id"]
        for name, field in (
            ("目标值", "target_value"),
            ("目标上限", "target_value_max"),
            ("目标水平值", "target_level"),
            ("基线值", "baseline_value"),
            ("当年值", "value"),
            ("达成值", "achieved"),
            ("当年轨迹值", "expected"),
            ("进度", "progress"),
            ("应达进度", "expected_progress"),
            ("目标年预测值", "forecast"),
        ):
            cell = row[column[name]]
            assert cell == _number(given[field]), (given["target_id"], name)
            assert not isinstance(cell, str)  # numbers, never text
        assert row[column["目标年份"]] == 2027
        assert row[column["评估年份"]] == 2025
    # T02's revenue: 470,000,000,000 yuan, a number with two places of money format; progress as a percentage.
    t02 = next(summary.iter_rows(min_row=4, max_row=4))
    assert t02[column["当年值"]].value == 470_000_000_000
    assert t02[column["当年值"]].number_format == "#,##0.00"
    assert t02[column["进度"]].number_format == "0.0%"
    assert t02[column["状态"]].value == "进度滞后"
    # T04 (年均增长15%左右): the target and what was achieved are percentages, not yuan.
    t04 = next(summary.iter_rows(min_row=6, max_row=6))
    assert t04[column["目标值"]].value == 15 and t04[column["目标值"]].number_format == "0.00"
    assert t04[column["达成值"]].value == pytest.approx(11.214302)
    # T06's trajectory value of 15.5 clusters keeps its decimals.
    t06 = next(summary.iter_rows(min_row=8, max_row=8))
    assert t06[column["当年轨迹值"]].value == 15.5 and t06[column["当年轨迹值"]].number_format == "General"


def test_workbook_sector_sheets() -> None:
    report = assessment_report()
    book = load_workbook(io.BytesIO(workbook.assessment_workbook(report)))
    software = book["软件信息服务"]
    assert software["A1"].value == "2025年 软件信息服务"
    assert [software["A2"].value, software["B2"].value, software["C2"].value] == ["目标数", 3, "平均进度"]
    # mean of 0.346154, 0.575, 0.316163 = 1.237317 / 3 = 0.412439
    assert software["D2"].value == pytest.approx(0.412439)
    statuses = [cell.value for cell in software[3]]
    assert statuses[:6] == ["符合进度", 1, "进度偏慢", 1, "进度滞后", 1]
    ids = [row[0].value for row in software.iter_rows(min_row=6, max_row=8)]
    assert ids == ["T02", "T03", "T04"]
    # The series: 3 targets × 5 years (2023–2027), below a blank row and a header.
    assert [cell.value for cell in software[10]][:6] == ["目标编号", "年份", "当年值", "目标轨迹值", "单位", None]
    series = [[cell.value for cell in row][:5] for row in software.iter_rows(min_row=11)]
    assert len(series) == 15
    assert series[0] == ["T02", 2023, 380_000_000_000, 380_000_000_000, "元"]
    assert series[3] == ["T02", 2026, None, 575_000_000_000, "元"]
    whole = book["生产性服务业（全市）"]
    assert [row[0].value for row in whole.iter_rows(min_row=6, max_row=8)] == ["T01", "T06", "T07"]


def test_workbook_provenance() -> None:
    report = assessment_report()
    sheet = load_workbook(io.BytesIO(workbook.assessment_workbook(report)))["数据来源"]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[1][:2] == ["评估年份", 2025]
    assert values[2][:2] == ["生成时间", "2026-03-31T08:00:00+00:00"]
    assert values[3][:2] == ["输入哈希（SHA-256）", "9f" * 32]
    assert values[4][:2] == ["代码版本", "0.1.0+test"]
    parameters = {row[0]: row[1] for row in values[7:12]}
    assert parameters == {
        "monitoring.approximate_tolerance": 0.05,
        "monitoring.at_risk_ratio": 0.8,
        "monitoring.cluster_revenue_threshold_yuan": 10_000_000_000,
        "monitoring.on_track_ratio": 1,
        "monitoring.small_cell_minimum": 3,
    }
    assert values[13][:9] == [name for name, _ in workbook.PROVENANCE_COLUMNS]
    sources = values[14:]
    assert len(sources) == sum(len(t.provenance) for t in report.targets) == 27
    assert sources[0] == [
        "T01",
        "生产性服务业增加值占服务业增加值比重",
        2023,
        "观测记录",
        "市统计局",
        "statistics_bureau",
        "city-stats",
        "2026-03-02T09:30:00+00:00",
        1,
    ]
    assert sources[3][:6] == ["T02", "软件和信息服务业主营业务收入", 2023, "登记系统", "registry", None]


def test_workbook_is_the_same_bytes_and_stamped_with_generated_at(monkeypatch: pytest.MonkeyPatch) -> None:
    report = assessment_report()
    first = workbook.assessment_workbook(report)
    # openpyxl stamps the document with the time of saving, zipfile each entry: saved "years later", the same bytes.
    import time
    import types

    import openpyxl.writer.excel as excel  # type: ignore[import-untyped]

    later = datetime(2031, 1, 1, tzinfo=UTC)

    class Later(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> "Later":
            return cls(2031, 1, 1, tzinfo=tz)

    monkeypatch.setattr(excel, "datetime", types.SimpleNamespace(datetime=Later, timezone=excel.datetime.timezone))
    monkeypatch.setattr(zipfile, "time", types.SimpleNamespace(time=later.timestamp, localtime=time.localtime))
    assert workbook.assessment_workbook(report) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {entry.date_time for entry in archive.infolist()} == {(2026, 3, 31, 8, 0, 0)}
        core = archive.read("docProps/core.xml").decode()
    assert "2026-03-31T08:00:00Z</dcterms:modified>" in core
    assert "2026-03-31T08:00:00Z</dcterms:created>" in core


def test_workbook_text_cannot_be_a_formula() -> None:
    report = assessment_report()
    hostile = report.targets[0].model_copy(update={"indicator_name_zh": '=HYPERLINK("http://x","y")'})
    report = report.model_copy(update={"targets": [hostile, *report.targets[1:]]})
    summary = load_workbook(io.BytesIO(workbook.assessment_workbook(report)))["汇总"]
    assert summary["C3"].value == '\'=HYPERLINK("http://x","y")'
    assert summary["C3"].data_type == "s"
