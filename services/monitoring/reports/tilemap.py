"""The producer-services map (第（二十三）条) as a tile map (SVG): one equal square per district, coloured by an
indicator, the tiles of each of the 一区两群 regions outlined together."""

from decimal import Decimal
from pathlib import Path

from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize, to_rgb
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator

from services.monitoring.map.schemas import MAP_INDICATORS, DistrictTotals, MapReport
from services.monitoring.reports.fonts import cjk_font
from services.monitoring.reports.labels import Scale, number_text, scale_for
from services.monitoring.reports.rendering import literal, svg_bytes
from shared.errors import InvalidInput
from shared.policy.targets import Unit
from shared.reference import DISTRICT_REGIONS, REGION_NAMES, Region

# The schematic, not geography: each district's tile as (short name, column, row), row 0 at the top, on a grid of
# GRID_COLUMNS × GRID_ROWS. Neighbouring tiles are roughly neighbouring districts, so that a reader finds the city
# as they know it: 中心城区 a 3×3 block in the middle-west with 渝中 at its centre; 主城新区 around it, its west
# wing joined to its east (长寿, 涪陵) through the south (江津, 綦江, 南川) as on the ground; 渝东北 to the north-east
# along the Yangtze up to 巫山; 渝东南 to the south-east down to 秀山. Each region is one block of tiles that touch
# (at a side or a corner), outlined.
#
#        0     1     2     3     4     5     6     7     8     9
#   0                                              城口  巫溪  巫山
#   1         潼南  合川                     梁平  开州  云阳  奉节
#   2   大足  铜梁  北碚  江北  渝北        垫江  万州
#   3   荣昌  璧山 沙坪坝 渝中  南岸  长寿  丰都  忠县  石柱
#   4         永川 九龙坡 大渡口 巴南  涪陵  武隆  彭水  黔江
#   5               江津  綦江  南川                    酉阳  秀山
TILE_LAYOUT: dict[str, tuple[str, int, int]] = {
    # 中心城区
    "500109": ("北碚", 2, 2),
    "500105": ("江北", 3, 2),
    "500112": ("渝北", 4, 2),
    "500106": ("沙坪坝", 2, 3),
    "500103": ("渝中", 3, 3),
    "500108": ("南岸", 4, 3),
    "500107": ("九龙坡", 2, 4),
    "500104": ("大渡口", 3, 4),
    "500113": ("巴南", 4, 4),
    # 主城新区
    "500152": ("潼南", 1, 1),
    "500117": ("合川", 2, 1),
    "500111": ("大足", 0, 2),
    "500151": ("铜梁", 1, 2),
    "500115": ("长寿", 5, 3),
    "500153": ("荣昌", 0, 3),
    "500120": ("璧山", 1, 3),
    "500102": ("涪陵", 5, 4),
    "500118": ("永川", 1, 4),
    "500119": ("南川", 4, 5),
    "500116": ("江津", 2, 5),
    "500110": ("綦江", 3, 5),
    # 渝东北三峡库区城镇群
    "500229": ("城口", 7, 0),
    "500238": ("巫溪", 8, 0),
    "500237": ("巫山", 9, 0),
    "500155": ("梁平", 6, 1),
    "500154": ("开州", 7, 1),
    "500235": ("云阳", 8, 1),
    "500236": ("奉节", 9, 1),
    "500231": ("垫江", 6, 2),
    "500101": ("万州", 7, 2),
    "500230": ("丰都", 6, 3),
    "500233": ("忠县", 7, 3),
    # 渝东南武陵山区城镇群
    "500240": ("石柱", 8, 3),
    "500156": ("武隆", 6, 4),
    "500243": ("彭水", 7, 4),
    "500114": ("黔江", 8, 4),
    "500242": ("酉阳", 8, 5),
    "500241": ("秀山", 9, 5),
}
GRID_COLUMNS, GRID_ROWS = 10, 6
# Each region's name, centred on empty grid cells beside its tiles: (x, y) in tile units from the grid's top left.
REGION_LABELS: dict[Region, tuple[float, float]] = {
    "central": (4.0, 1.5),
    "new_main": (1.0, 5.5),
    "northeast": (5.5, 0.5),
    "southeast": (6.5, 5.5),
}

# The figure's geometry is fixed, so that a tile's place in the picture is known (tile_box): inches.
FIGURE_WIDTH, FIGURE_HEIGHT = 10.0, 7.6
_TILE = 0.9
_MAP_LEFT, _MAP_TOP = 0.5, 1.0
_GAP = 0.05  # of a tile, on each side: the white between tiles, where region outlines run
COLOUR_MAP = "YlGnBu"
NO_DATA_COLOUR = "#f2f2f2"
SUPPRESSED_COLOUR = "#d0d0d0"
SUPPRESSED_HATCH = "///"
OUTLINE_COLOUR = "#37474f"

INDICATOR_ZH: dict[str, str] = {
    "above_scale_count": "规模以上企业数",
    "revenue_yuan": "营业收入",
    "employees": "从业人员",
    "revenue_growth": "营业收入增速",
    "clusters": "集聚区数量",
    "clusters_reaching_10bn": "百亿级集聚区",
    "leading_enterprises": "市级领军企业",
    "awards": "扶持资金奖励项数",
    "award_amount_yuan": "扶持资金奖励金额",
}
# The unit of each indicator, for its scale (亿元, 万人); growth is a share, shown in percent.
_UNITS: dict[str, Unit] = {
    "above_scale_count": "count",
    "revenue_yuan": "yuan",
    "employees": "persons",
    "revenue_growth": "percent",
    "clusters": "count",
    "clusters_reaching_10bn": "count",
    "leading_enterprises": "count",
    "awards": "count",
    "award_amount_yuan": "yuan",
}
_COUNT_SUFFIXES: dict[str, str] = {
    "above_scale_count": "家",
    "clusters": "个",
    "clusters_reaching_10bn": "个",
    "leading_enterprises": "家",
    "awards": "项",
}
# The figures a district key on another district may not see in full (small cells): revenue and employees.
SUPPRESSIBLE = frozenset({"revenue_yuan", "employees", "revenue_growth"})


def tile_box(district_code: str) -> tuple[float, float, float, float]:
    """Where the district's tile is drawn: (left, top, right, bottom) as fractions of the figure's width and height,
    from its top left corner (as a screenshot's pixels count)."""
    _, column, row = TILE_LAYOUT[district_code]
    left = (_MAP_LEFT + (column + _GAP) * _TILE) / FIGURE_WIDTH
    top = (_MAP_TOP + (row + _GAP) * _TILE) / FIGURE_HEIGHT
    right = (_MAP_LEFT + (column + 1 - _GAP) * _TILE) / FIGURE_WIDTH
    bottom = (_MAP_TOP + (row + 1 - _GAP) * _TILE) / FIGURE_HEIGHT
    return left, top, right, bottom


def _font(path: Path, size: float) -> FontProperties:
    return FontProperties(fname=path, size=size)


def _value(district: DistrictTotals, indicator: str) -> Decimal | None:
    raw = getattr(district, indicator)
    return None if raw is None else Decimal(raw)


def _scale(indicator: str, values: list[Decimal]) -> Scale:
    if indicator == "revenue_growth":
        return Scale(Decimal("0.01"), "%")
    scale = scale_for(_UNITS[indicator], max((abs(v) for v in values), default=None))
    return Scale(scale.divisor, _COUNT_SUFFIXES.get(indicator, scale.suffix))


def _text_colour(rgb: tuple[float, float, float]) -> str:
    red, green, blue = rgb
    return "#ffffff" if 0.299 * red + 0.587 * green + 0.114 * blue < 0.5 else "#1a1a1a"


def tile_map_svg(
    report: MapReport, *, indicator: str, title_zh: str | None = None, font_file: str | Path | None = None
) -> bytes:
    """The 38 districts' tiles coloured by `indicator` (a field of DistrictTotals, see MAP_INDICATORS) on a
    sequential colour map, with the scale, what grey and hatched tiles mean, and a title (`title_zh` replaces it)."""
    if indicator not in MAP_INDICATORS:
        raise InvalidInput(f"The map cannot be coloured by {indicator!r}; one of {', '.join(MAP_INDICATORS)}.")
    font = cjk_font(font_file)
    districts = {district.district_code: district for district in report.districts}
    values = {code: _value(district, indicator) for code, district in districts.items()}
    known = [value for value in values.values() if value is not None]
    scale = _scale(indicator, known)
    low = min([*known, Decimal(0)]) if indicator != "revenue_growth" else min(known, default=Decimal(0))
    high = max(known, default=Decimal(1))
    if high <= low:
        high = low + scale.divisor  # one step of the scale: an even map is drawn in its lightest colour
    norm = Normalize(vmin=float(low / scale.divisor), vmax=float(high / scale.divisor))
    colours = colormaps[COLOUR_MAP]

    figure = Figure(figsize=(FIGURE_WIDTH, FIGURE_HEIGHT))
    map_width, map_height = GRID_COLUMNS * _TILE, GRID_ROWS * _TILE
    axes = figure.add_axes(
        (
            _MAP_LEFT / FIGURE_WIDTH,
            1 - (_MAP_TOP + map_height) / FIGURE_HEIGHT,
            map_width / FIGURE_WIDTH,
            map_height / FIGURE_HEIGHT,
        )
    )
    axes.set_xlim(0, GRID_COLUMNS)
    axes.set_ylim(GRID_ROWS, 0)
    axes.set_axis_off()
    name = INDICATOR_ZH[indicator]
    unit = f"（{scale.suffix}）" if scale.suffix else ""
    title = title_zh if title_zh is not None else f"{report.year}年 重庆市生产性服务业区县分布：{name}{unit}"
    figure.text(0.5, 1 - 0.4 / FIGURE_HEIGHT, literal(title), ha="center", va="center", fontproperties=_font(font, 16))
    figure.text(
        0.5,
        1 - 0.75 / FIGURE_HEIGHT,
        f"示意图（非地理边界），粗线围出一区两群；基线年份 {report.baseline_year}",
        ha="center",
        va="center",
        fontproperties=_font(font, 9),
        color="#555555",
    )

    partial_seen = no_data_seen = False
    for code, (short_name, column, row) in TILE_LAYOUT.items():
        district = districts.get(code)
        value = values.get(code)
        suppressed = district is not None and district.suppressed and indicator in SUPPRESSIBLE
        hatch = SUPPRESSED_HATCH if suppressed else None
        if value is not None:
            rgb = to_rgb(colours(norm(float(value / scale.divisor))))
            shown = number_text(value / scale.divisor, 1 if indicator == "revenue_growth" else 2)
            partial_seen = partial_seen or suppressed
        elif suppressed:
            rgb, shown = to_rgb(SUPPRESSED_COLOUR), "隐去"
        else:
            rgb, shown, no_data_seen = to_rgb(NO_DATA_COLOUR), "无数据", True
        axes.add_patch(
            Rectangle(
                (column + _GAP, row + _GAP),
                1 - 2 * _GAP,
                1 - 2 * _GAP,
                facecolor=rgb,
                edgecolor="#616161" if hatch else "none",
                hatch=hatch,
                linewidth=0,
            )
        )
        ink = _text_colour(rgb)
        # On a hatched tile the words get a backing of the tile's colour, or the stripes run through them.
        backing = {"boxstyle": "square,pad=0.15", "facecolor": rgb, "edgecolor": "none"} if hatch else None
        axes.text(
            column + 0.5,
            row + 0.42,
            short_name,
            ha="center",
            va="center",
            fontproperties=_font(font, 10),
            color=ink,
            bbox=backing,
        )
        axes.text(
            column + 0.5,
            row + 0.72,
            shown,
            ha="center",
            va="center",
            fontproperties=_font(font, 7.5),
            color=ink,
            bbox=backing,
        )

    _outline_regions(axes)
    for region, (x, y) in REGION_LABELS.items():
        axes.text(
            x, y, REGION_NAMES[region], ha="center", va="center", fontproperties=_font(font, 10), color=OUTLINE_COLOUR
        )

    legend_y = 1 - (_MAP_TOP + map_height + 0.55) / FIGURE_HEIGHT
    colour_bar = figure.add_axes((0.08, legend_y, 0.42, 0.022))
    bar = figure.colorbar(ScalarMappable(norm=norm, cmap=colours), cax=colour_bar, orientation="horizontal")
    bar.ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _position: f"{v:,.10g}"))
    if indicator in _COUNT_SUFFIXES:
        bar.ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no 0.2 of an enterprise on the scale
    bar.ax.tick_params(labelsize=8)
    bar.outline.set_linewidth(0.5)
    colour_bar.set_title(f"{name}{unit}", fontproperties=_font(font, 9), loc="left")
    handles = []
    if indicator in SUPPRESSIBLE:
        handles.append(
            Patch(
                facecolor=SUPPRESSED_COLOUR,
                edgecolor="#616161",
                hatch=SUPPRESSED_HATCH,
                linewidth=0,
                label=f"隐去：含企业少于{report.small_cell_minimum}家的行业",
            )
        )
        if partial_seen:
            handles.append(
                Patch(
                    facecolor=colours(0.55),
                    edgecolor="#616161",
                    hatch=SUPPRESSED_HATCH,
                    linewidth=0,
                    label="部分隐去：仅计可公开的行业",
                )
            )
    if no_data_seen:
        handles.append(Patch(facecolor=NO_DATA_COLOUR, edgecolor="#bdbdbd", linewidth=0.5, label="无数据"))
    if handles:
        figure.legend(
            handles=handles,
            loc="center left",
            bbox_to_anchor=(0.56, legend_y + 0.011),
            frameon=False,
            prop=_font(font, 9),
            handlelength=1.6,
            handleheight=1.2,
        )
    figure.text(
        0.01,
        0.012,
        f"数据：{report.year}年已核实的企业年度数据、集聚区与奖励台账；生成于 {report.generated_at.isoformat()}",
        fontproperties=_font(font, 7),
        color="#757575",
    )
    return svg_bytes(figure)


def _outline_regions(axes: Axes) -> None:
    """A line along every tile side that borders another region or no tile: each region outlined as one block."""
    places = {(column, row): DISTRICT_REGIONS[code] for code, (_, column, row) in TILE_LAYOUT.items()}
    segments: set[tuple[tuple[int, int], tuple[int, int]]] = set()
    for (column, row), region in places.items():
        for d_column, d_row, start, end in (
            (0, -1, (column, row), (column + 1, row)),
            (0, 1, (column, row + 1), (column + 1, row + 1)),
            (-1, 0, (column, row), (column, row + 1)),
            (1, 0, (column + 1, row), (column + 1, row + 1)),
        ):
            if places.get((column + d_column, row + d_row)) != region:
                segments.add((start, end))  # a side between two regions is found from both: drawn once
    axes.add_collection(
        LineCollection(sorted(segments), colors=OUTLINE_COLOUR, linewidths=2.2, capstyle="projecting", zorder=3)
    )
