"""Files a router sends for saving (CSV and XLSX exports): the media type by extension, and the file's name."""

from fastapi import Response

CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_MEDIA_TYPES = {"csv": CSV, "xlsx": XLSX}


def download(body: bytes, filename: str) -> Response:
    """`body` as an attachment named `filename` (`awards.csv`, `ranking-2025.xlsx`)."""
    media_type = _MEDIA_TYPES[filename.rsplit(".", 1)[-1]]
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
