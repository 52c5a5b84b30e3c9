# syntax=docker/dockerfile:1
# One image for the gateway and the four services; the command picks the component (docker-compose.yml,
# deploy/k8s). Tag it with its release, never :latest:
#   docker build --build-arg VERSION=1.13.0 -t cq-producer-services:1.13.0 .

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Runtime dependencies only, exactly as locked.
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-deps -r /tmp/requirements.lock

FROM python:3.11-slim-bookworm AS runtime
ARG VERSION=dev
LABEL org.opencontainers.image.title="cq-producer-services" org.opencontainers.image.version="${VERSION}"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib
# The monitoring service draws SVG charts with Chinese text (matplotlib): WenQuanYi Micro Hei is the CJK font it
# looks for. MPLCONFIGDIR: the root filesystem is read-only, /tmp is not (matplotlib keeps its font cache there).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 app && useradd --system --uid 10001 --gid app --home-dir /app app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY shared ./shared
COPY services ./services
COPY gateway ./gateway
COPY deploy/__init__.py deploy/migrate.py ./deploy/
# Compiled now: the root filesystem is read-only at run time (PYTHONDONTWRITEBYTECODE), so nothing is compiled at
# each start.
RUN python -m compileall -q shared services gateway deploy
USER app
EXPOSE 8000 8001 8002 8003 8004
CMD ["python", "-m", "uvicorn", "--factory", "gateway.main:create_app", "--host", "0.0.0.0", "--port", "8000", "--no-server-header", "--no-access-log", "--no-proxy-headers", "--http", "shared.server:BoundedHttpToolsProtocol", "--timeout-graceful-shutdown", "30"]
