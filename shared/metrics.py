"""Prometheus metrics: who may read them.

`/metrics` tells an outsider the traffic, the routes and the failures of the system, so it is read with a bearer
token (`METRICS_TOKEN`, the same for every component; Prometheus sends it from a file, deploy/prometheus). Without
one, development and tests answer anyone and production answers no one.
"""

import hmac

from shared.errors import Forbidden, Unauthorized
from shared.settings import ServiceSettings


def check_metrics_reader(settings: ServiceSettings, authorization: str | None) -> None:
    """Nothing if the caller may read the metrics; else the 401 or 403 problem to answer."""
    token = settings.metrics_token
    if not token:
        if settings.environment == "production":
            raise Forbidden("Metrics are read with a token: set METRICS_TOKEN and give it to Prometheus.")
        return
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise Unauthorized("Metrics are read with `Authorization: Bearer <METRICS_TOKEN>`.")
    if not hmac.compare_digest(presented.strip().encode(), token.encode()):
        raise Forbidden("This token does not read the metrics.")
