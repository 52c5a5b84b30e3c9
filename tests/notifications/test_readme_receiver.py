"""The README's receiver "in ten lines" works as written: run as its own process (the secret and port filled in), it
answers 204 to a delivery signed as the notifications service signs one, 400 to a forged one."""

import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from standardwebhooks import Webhook

from deploy.local_postgres import free_port
from shared.settings import PROJECT_ROOT
from tests.support import stop_process

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def readme_receiver() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"\n  ```python\n(  from aiohttp import web\n.*?)\n  ```\n", readme, re.DOTALL)
    assert found, "the README's receiver is not where this test looks for it"
    return "\n".join(line.removeprefix("  ") for line in found.group(1).splitlines())


def test_the_readmes_receiver_verifies_what_the_service_signs(tmp_path: Path) -> None:
    code = readme_receiver()
    assert len([line for line in code.splitlines() if line.strip()]) <= 16
    port = free_port()
    script = tmp_path / "receiver.py"
    script.write_text(code.replace('"whsec_…"', f'"{SECRET}"').replace("port=8080", f"port={port}"))
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        body = '{"id": "e1", "type": "award.paid", "data": {"links": {"self": "/api/v1/eligibility/awards/1"}}}'
        message_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(SECRET).sign(message_id, now, body),
            "content-type": "application/json",
        }
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/hooks", content=body, headers=headers)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the README's receiver did not start"
                time.sleep(0.2)
        assert answer.status_code == 204
        forged = dict(headers, **{"webhook-signature": "v1,AAAA"})
        assert httpx.post(f"http://127.0.0.1:{port}/hooks", content=body, headers=forged).status_code == 400
    finally:
        stop_process(process)
