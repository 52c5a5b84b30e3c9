"""Files a router sends (CSV and XLSX exports, SVG pictures): the media type by extension, the file's name, and how
such a 200 is documented (`file_responses`).

Each file is sent and documented as its own media type only. Generators that read only generic binary bodies map
these types to `application/octet-stream` in their own configuration (openapi-python-client's
`content_type_overrides`, README "Generating a client"), so the server needs no second answer for them.
"""

from typing import Any, Literal

from fastapi import Response

from shared.openapi import HEADERS

CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SVG = "image/svg+xml"
_MEDIA_TYPES = {"csv": CSV, "xlsx": XLSX, "svg": SVG}

# `attachment` for a file to save, `inline` for a picture to show (RFC 6266); both name the file.
Disposition = Literal["attachment", "inline"]
_INLINE_HEADER = {
    **HEADERS["Content-Disposition"],
    "description": '`inline` with the picture\'s file name (RFC 6266), e.g. `inline; filename="map-2025.svg"`.',
}


def download(body: bytes, filename: str, *, disposition: Disposition = "attachment") -> Response:
    """`body` as the file `filename` (`awards.csv`, `ranking-2025.xlsx`, `map-2025.svg`), of its extension's type."""
    media_type = _MEDIA_TYPES[filename.rsplit(".", 1)[-1]]
    headers = {"Content-Disposition": f'{disposition}; filename="{filename}"'}
    return Response(body, media_type=media_type, headers=headers)


def _is_text(media_type: str) -> bool:
    return media_type.startswith("text/") or media_type.endswith("+xml")


def file_responses(
    media_type: str, description: str, *, disposition: Disposition = "attachment"
) -> dict[int | str, dict[str, Any]]:
    """The documented 200 of `download`: the file as `media_type` (text as a string, anything else as binary), with
    its `Content-Disposition`."""
    own_type = media_type.split(";", 1)[0].strip()
    schema = {"type": "string"} if _is_text(own_type) else {"type": "string", "format": "binary"}
    header = HEADERS["Content-Disposition"] if disposition == "attachment" else _INLINE_HEADER
    return {
        200: {
            "description": description,
            "headers": {"Content-Disposition": header},
            "content": {own_type: {"schema": schema}},
        }
    }
