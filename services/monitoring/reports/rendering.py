"""Figures to SVG bytes, the same bytes for the same figure, from any thread.

Only matplotlib's object API is used (a Figure of its own per call, the SVG canvas, never pyplot and its global
current figure), so requests can draw at once in worker threads. Two settings are read from the global rcParams
when a figure is saved and so are set once, here, to the same values for the whole process: glyphs as outlines
(a browser needs no Chinese font) and a fixed salt for the ids of clip paths (random by default, which made every
rendering of the same chart differ).
"""

import io

import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

matplotlib.rcParams["svg.fonttype"] = "path"
matplotlib.rcParams["svg.hashsalt"] = "cq-producer-services-monitoring"

# No creation date in the file: it would change the bytes on every rendering.
_METADATA: dict[str, str | None] = {"Date": None}


def svg_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasSVG(figure)  # the figure's own canvas: no backend is chosen globally
    figure.savefig(buffer, format="svg", metadata=_METADATA)
    return buffer.getvalue()


def literal(text: str) -> str:
    """`text` drawn as written: a $ would otherwise start matplotlib's mathtext."""
    return text.replace("$", r"\$")
