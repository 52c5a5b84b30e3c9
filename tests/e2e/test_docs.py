"""The merged OpenAPI document of the running services, and the docs page rendered by headless Chromium."""

import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate

from deploy.run_local import present_services
from shared.settings import VAR_DIR
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1280,1800",
    "--virtual-time-budget=20000",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "headless Chromium is needed for this test: apt-get install -y chromium"
    return found


def test_merged_document_is_valid_and_holds_every_running_service(stack: Stack) -> None:
    with stack.client() as anonymous:
        spec = anonymous.get("/openapi.json").json()
    validate(spec)
    assert "x-unavailable-services" not in spec
    registry = {path for path in spec["paths"] if path.startswith("/api/v1/registry/")}
    assert "/api/v1/registry/enterprises/{uscc}" in registry
    assert "/api/v1/registry/enterprises/import" in registry
    schemas = spec["components"]["schemas"]
    # The services' names, unprefixed: one name is one schema across the services.
    assert "EnterpriseOut" in schemas and "Problem" in schemas
    assert not any("_" in name for name in schemas), [name for name in schemas if "_" in name]
    assert spec["servers"][0]["url"] == stack.gateway
    for service in present_services():
        assert any(path.startswith(f"/api/v1/{service}/") for path in spec["paths"]), service
    # Every reference in the document resolves inside it.
    refs = list(_refs(spec))
    assert len(refs) > 20
    for ref in refs:
        _, _, kind, name = ref.split("/", 3)
        assert name in spec["components"][kind], ref
    enterprise = spec["paths"]["/api/v1/registry/enterprises/{uscc}"]["get"]
    assert enterprise["security"] == [{"bearer": []}]
    assert enterprise["tags"] == ["registry: enterprises"]
    assert enterprise["description"].endswith(
        "**Who may call:** city, district and auditor keys (reading needs an API key); a district key only for its "
        "own district's records."
    )
    # Every tag an operation uses is declared, with a description; the operationIds are the services' own.
    declared = {tag["name"]: tag.get("description") for tag in spec["tags"]}
    operations = [op for item in spec["paths"].values() for op in item.values()]
    for op in operations:
        assert op["tags"] and all(declared.get(tag) for tag in op["tags"]), op["operationId"]
    operation_ids = [op["operationId"] for op in operations]
    assert len(operation_ids) == len(set(operation_ids))
    assert not any(operation_id.startswith(("registry_", "eligibility_")) for operation_id in operation_ids)


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _png_pixels_vary(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct byte values in the image data): a blank page has almost none."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, width, height, idat = 8, 0, 0, b""
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def test_docs_page_renders_in_headless_chromium(stack: Stack, tmp_path: Path) -> None:
    url = f"{stack.gateway}/docs"
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    # Swagger UI ran (its JavaScript came from the gateway) and rendered the merged document's operations.
    assert 'class="swagger-ui' in html
    assert "opblock" in html
    assert "/api/v1/registry/enterprises/{uscc}" in html
    assert "Chongqing producer services support API" in html
    assert "Failed to load API definition" not in html
    assert "Authorize" in html  # the bearer security scheme

    screenshot = tmp_path / "docs.png"
    shot = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={screenshot}", url],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    width, height, distinct = _png_pixels_vary(screenshot)
    assert (width, height) == (1280, 1800)
    assert distinct > 40, "the screenshot looks blank"
    keep = VAR_DIR / "screenshots"
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, keep / "gateway-docs.png")

    # The page's assets all came from the gateway: the access log shows them.
    with httpx.Client(base_url=stack.gateway, trust_env=False) as client:
        metrics = client.get("/metrics").text
    assert 'route="/docs/assets/{file}"' in metrics
    assert 'route="/docs/init.js"' in metrics
    assert 'route="/openapi.json"' in metrics
