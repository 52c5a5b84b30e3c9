"""The CJK font the charts and the map draw their Chinese with.

The SVGs carry glyph outlines (svg.fonttype "path"), so a browser needs no font; the server does. Without a CJK
font matplotlib draws every Chinese character as an empty box, so a missing font is an error, never a silent
fallback: `FontUnavailable` (503) names the Debian package to install.
"""

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from matplotlib.ft2font import FT2Font

from shared.errors import ServiceUnavailable

# Debian's fonts-wqy-microhei (WenQuanYi Micro Hei), as the service image installs it.
DEBIAN_WQY_MICROHEI = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONT_PACKAGE = "fonts-wqy-microhei"
# A font passes when it has these: the map's and the titles' characters (綦, 璧, 酉 are the rarer ones).
_PROBE = "重庆市生产性服务业綦江璧山酉阳秀山彭水黔江年目标"


class FontUnavailable(ServiceUnavailable):
    slug = "cjk-font-unavailable"


def _covers(path: Path) -> bool:
    try:
        charmap = FT2Font(str(path)).get_charmap()
    except (OSError, RuntimeError, ValueError):
        return False
    return all(ord(character) in charmap for character in _PROBE)


def _fontconfig_match() -> Path | None:
    """The file fontconfig offers for Chinese, if there is one (fc-match answers with a Latin font when none is)."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    try:
        found = subprocess.run(  # noqa: S603 (a fixed program and arguments, no shell)
            [fc_match, "--format=%{file}", ":lang=zh-cn"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(found.stdout.strip()) if found.returncode == 0 and found.stdout.strip() else None


@lru_cache(maxsize=8)
def cjk_font(path: str | Path | None = None) -> Path:
    """The file of a font that draws Chinese: `path` (the service's font setting) when given, else Debian's WenQuanYi
    Micro Hei, else what fontconfig matches for Chinese. Raises FontUnavailable when none does."""
    if path:
        configured = Path(path)
        if not configured.is_file():
            raise FontUnavailable(f"The configured CJK font {configured} does not exist; charts cannot be drawn.")
        if not _covers(configured):
            raise FontUnavailable(f"The configured font {configured} has no Chinese glyphs; charts cannot be drawn.")
        return configured
    for candidate in (DEBIAN_WQY_MICROHEI, _fontconfig_match()):
        if candidate is not None and candidate.is_file() and _covers(candidate):
            return candidate
    raise FontUnavailable(
        f"No font with Chinese glyphs is installed, so charts and maps cannot be drawn: install the Debian package "
        f"{FONT_PACKAGE} ({DEBIAN_WQY_MICROHEI}) or set the CJK font path setting to a CJK TrueType/OpenType font."
    )
