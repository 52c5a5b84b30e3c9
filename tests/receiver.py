"""A webhook receiver as a district's system would run one, for the end-to-end tests and the bench: a real process.

    python -m tests.receiver --port 9100

Endpoints are named: `POST /hooks/<name>` receives, verifying the Standard Webhooks signature with the endpoint's
secret (`standardwebhooks.Webhook(secret).verify`, as the README shows a receiver doing), deduplicating by
`webhook-id` as the specification asks of receivers. The test controls it over `/control/<name>`:
`PUT` `{"secret": "whsec_…", "fail_next": 3}` registers the endpoint (answer 500 to the next 3 deliveries);
`GET` answers what it received in order: `{"received": [{webhook_id, type, subject, received_at, duplicate}…],
"failed": n, "rejected": n}`. A delivery whose signature does not verify is answered 401 and counted as rejected.
"""

import argparse
import json
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Endpoint:
    secret: str
    fail_next: int = 0
    failed: int = 0
    rejected: int = 0
    seen: set[str] = field(default_factory=set)
    received: list[dict[str, Any]] = field(default_factory=list)


ENDPOINTS: dict[str, Endpoint] = {}


async def receive(request: Request) -> Response:
    endpoint = ENDPOINTS.get(request.path_params["name"])
    if endpoint is None:
        return Response(status_code=404)
    body = await request.body()
    try:
        event = Webhook(endpoint.secret).verify(body, dict(request.headers))
    except WebhookVerificationError:
        endpoint.rejected += 1
        return Response(status_code=401)
    if endpoint.fail_next > 0:
        endpoint.fail_next -= 1
        endpoint.failed += 1
        return Response(status_code=500)
    webhook_id = request.headers["webhook-id"]
    endpoint.received.append(
        {
            "webhook_id": webhook_id,
            "type": event.get("type"),
            "subject": event.get("subject"),
            "district_code": event.get("district_code"),
            "occurred_at": event.get("occurred_at"),
            "received_at": time.time(),
            "duplicate": webhook_id in endpoint.seen,
            "event": event,
        }
    )
    endpoint.seen.add(webhook_id)
    return Response(status_code=204)


async def control(request: Request) -> Response:
    name = request.path_params["name"]
    if request.method == "PUT":
        spec = json.loads(await request.body())
        endpoint = ENDPOINTS.setdefault(name, Endpoint(secret=spec["secret"]))
        endpoint.secret = spec["secret"]
        endpoint.fail_next = int(spec.get("fail_next", 0))
        return JSONResponse({"name": name})
    known = ENDPOINTS.get(name)
    if known is None:
        return JSONResponse({"received": [], "failed": 0, "rejected": 0})
    return JSONResponse({"received": known.received, "failed": known.failed, "rejected": known.rejected})


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/hooks/{name}", receive, methods=["POST"]),
        Route("/control/{name}", control, methods=["GET", "PUT"]),
        Route("/healthz", health),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.receiver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
