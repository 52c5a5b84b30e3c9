"""The SVGs as a browser shows them: headless Chromium screenshots of a page embedding each picture (file://).

Checks what the XML cannot: the picture is not blank, the map's tiles have the colours of their figures where the
layout puts them, and the Chinese title is drawn as glyphs (its pixels differ from the same title as □□□, the
empty boxes a missing font gives).
"""

import re
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from matplotlib import colormaps
from PIL import Image

from services.monitoring.reports import charts, tilemap
from services.monitoring.reports.labels import STATUS_COLOURS
from tests.monitoring.test_reports import HIGH, LOW, WITHHELD, assessment_report, map_report

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
# Per channel: Chromium's colour management and antialiasing move a flat fill by a step or two, not more.
TOLERANCE = 6


@pytest.fixture(autouse=True)
def _isolated() -> Iterator[None]:
    yield  # no database here


@pytest.fixture(autouse=True)
def clock() -> None:
    return None


def screenshot(svg: bytes, directory: Path, name: str) -> Image.Image:
    """`svg` in a page of exactly its size (1 pt = 4/3 CSS px), as Chromium draws it."""
    head = svg[:4000].decode()
    width_pt = float(re.search(r'width="([\d.]+)pt"', head).group(1))  # type: ignore[union-attr]
    height_pt = float(re.search(r'height="([\d.]+)pt"', head).group(1))  # type: ignore[union-attr]
    width, height = round(width_pt * 4 / 3), round(height_pt * 4 / 3)
    picture = directory / f"{name}.svg"
    picture.write_bytes(svg)
    page = directory / f"{name}.html"
    page.write_text(
        '<!doctype html><html><body style="margin:0;background:#ffffff">'
        f'<img src="{picture.name}" style="display:block;width:{width}px;height:{height}px"></body></html>',
        encoding="utf-8",
    )
    png = directory / f"{name}.png"
    profile = directory / f"{name}-profile"
    profile.mkdir()
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--force-device-scale-factor=1",
            "--hide-scrollbars",
            f"--screenshot={png}",
            f"--window-size={width},{height}",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = Image.open(png).convert("RGB")
    assert image.size == (width, height)
    return image


def _near(pixel: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    return all(abs(a - b) <= TOLERANCE for a, b in zip(pixel, expected, strict=True))


def _rgb(rgba: tuple[float, ...]) -> tuple[int, int, int]:
    return round(rgba[0] * 255), round(rgba[1] * 255), round(rgba[2] * 255)


def _dark(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    """How many pixels of `box` are dark (text), of a picture on white."""
    region = image.crop(box).convert("L")
    return sum(1 for value in region.tobytes() if value < 110)


def _colours(image: Image.Image) -> set[tuple[int, int, int]]:
    found = image.getcolors(maxcolors=10_000_000) or []
    return {(colour[0], colour[1], colour[2]) for _, colour in found if isinstance(colour, tuple)}


def _not_blank(image: Image.Image) -> None:
    colours = image.getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50
    white = sum(count for count, colour in colours if colour == (255, 255, 255))
    assert white < 0.95 * image.size[0] * image.size[1]


def _tile_pixel(image: Image.Image, code: str) -> tuple[int, int, int]:
    """The colour of `code`'s tile near its top left corner, clear of the name and figure in its middle."""
    left, top, right, bottom = tilemap.tile_box(code)
    width, height = image.size
    x = round((left + 0.12 * (right - left)) * width)
    y = round((top + 0.12 * (bottom - top)) * height)
    pixel = image.getpixel((x, y))
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


def test_tile_map_colours_its_tiles_where_the_layout_puts_them(tmp_path: Path) -> None:
    report = map_report()
    image = screenshot(tilemap.tile_map_svg(report, indicator="above_scale_count"), tmp_path, "counts")
    _not_blank(image)
    counts = {d.district_code: d.above_scale_count for d in report.districts}
    # From 0 (the scale starts at nothing) to the highest, 渝中's 400: 渝中 the darkest, 城口 (2) nearly the lightest.
    scale = colormaps[tilemap.COLOUR_MAP]
    assert counts[HIGH] == 400 and counts[LOW] == 2
    assert _near(_tile_pixel(image, HIGH), _rgb(scale(1.0)))
    assert _near(_tile_pixel(image, LOW), _rgb(scale(2 / 400)))
    # A middle one, 万州 (500101, the first code: 200 enterprises): half way.
    assert _near(_tile_pixel(image, "500101"), _rgb(scale(200 / 400)))


def test_withheld_tiles_are_grey_and_hatched(tmp_path: Path) -> None:
    report = map_report()
    image = screenshot(tilemap.tile_map_svg(report, indicator="revenue_yuan"), tmp_path, "revenue")
    left, top, right, bottom = tilemap.tile_box(WITHHELD)
    width, height = image.size
    box = (round(left * width) + 2, round(top * height) + 2, round(right * width) - 2, round(bottom * height) - 2)
    colours = _colours(image.crop(box))
    grey = tuple(int(tilemap.SUPPRESSED_COLOUR[i : i + 2], 16) for i in (1, 3, 5))
    assert any(_near(colour, grey) for colour in colours)  # the grey ground
    assert any(sum(colour) < 3 * 150 for colour in colours)  # the darker stripes
    # And no colour of the scale: nothing of the withheld figure shows.
    scale = colormaps[tilemap.COLOUR_MAP]
    assert not any(_near(colour, _rgb(scale(x))) for colour in colours for x in (0.3, 0.6, 0.9))


def test_the_chinese_title_is_drawn_not_boxes(tmp_path: Path) -> None:
    t05 = assessment_report().targets[4]
    title = "软件和信息服务业新增企业"
    chinese = screenshot(charts.target_chart_svg(t05, title_zh=title), tmp_path, "title")
    boxes = screenshot(charts.target_chart_svg(t05, title_zh="□□□"), tmp_path, "boxes")
    _not_blank(chinese)
    width, height = chinese.size
    # The title's band: the top 11 % of the picture, across the middle.
    band = (round(0.15 * width), 0, round(0.85 * width), round(0.11 * height))
    drawn = _dark(chinese, band)
    assert drawn > 400  # twelve characters of 15 pt ink
    # The same band with three boxes: far less ink, and other pixels.
    assert _dark(boxes, band) < drawn / 2
    assert chinese.crop(band).tobytes() != boxes.crop(band).tobytes()
    # Below the title the two pictures are the same: only the title differs.
    rest = (0, round(0.2 * height), width, height)
    assert chinese.crop(rest).tobytes() == boxes.crop(rest).tobytes()


def test_sector_chart_draws_bars_in_the_status_colours(tmp_path: Path) -> None:
    report = assessment_report()
    image = screenshot(charts.sector_progress_svg(report), tmp_path, "sectors")
    _not_blank(image)
    colours = _colours(image)
    for status in ("on_track", "behind", "at_risk"):
        hex_colour = STATUS_COLOURS[status]
        expected = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        assert any(_near(colour, expected) for colour in colours), status


def test_map_of_the_same_figures_scaled_differently_keeps_its_colours(tmp_path: Path) -> None:
    # Revenue is 150,000,000 yuan per enterprise in map_report: the revenue map orders the tiles as the counts do.
    report = map_report()
    image = screenshot(tilemap.tile_map_svg(report, indicator="revenue_yuan"), tmp_path, "revenue-scale")
    revenue = {d.district_code: d.revenue_yuan for d in report.districts}
    top = max(v for v in revenue.values() if v is not None)
    assert revenue[HIGH] == top == Decimal(400) * Decimal("150000000")
    scale = colormaps[tilemap.COLOUR_MAP]
    assert _near(_tile_pixel(image, HIGH), _rgb(scale(1.0)))
