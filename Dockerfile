# syntax=docker/dockerfile:1
# Rapport: one image, gunicorn serving service.wsgi:app with gunicorn.conf.py.
# Settings come from RAPPORT_* variables (README, "Settings"); the image writes nothing but
# /tmp, so it runs with a read-only root filesystem and a tmpfs there.
#
#   docker build -t rapport .
#   docker run --rm -p 8080:8080 --read-only --tmpfs /tmp rapport
#
# tests/test_container.py runs hadolint on this file and runs its CMD, with its ENV and
# WORKDIR, against the service package outside the checkout: keep CMD and ENV in JSON and
# key=value form so that test can read them.

# ---------------------------------------------------------------------------------------
# Build stage: wheels for the dependencies and the project, so the runtime stage installs
# from files alone and carries no build tools, sources or pip cache.
FROM python:3.11-slim AS build

# No bytecode or pip chatter in the throwaway stage; nothing here reaches the runtime image.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src

# The dependencies change far less often than the code, so they get a layer of their own
# keyed on pyproject.toml alone: read [project].dependencies (tomllib is in 3.11's stdlib)
# and build their wheels before any source is copied. A code change reuses this layer.
COPY pyproject.toml ./
RUN python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"], sep="\n")' \
        > requirements.txt \
    && pip wheel --wheel-dir /wheels/deps --requirement requirements.txt

# The project's own wheel: the service package and its metadata (README.md is its readme).
# --no-deps because the layer above built them; this is the layer a code change rebuilds.
COPY README.md ./
COPY service ./service
RUN pip wheel --no-deps --wheel-dir /wheels/app .

# ---------------------------------------------------------------------------------------
# Runtime stage: the installed wheels, the content and the gunicorn settings; nothing else.
FROM python:3.11-slim AS runtime

LABEL org.opencontainers.image.title="rapport" \
      org.opencontainers.image.description="FHIR R4 service for therapeutic-alliance and outcome instruments" \
      org.opencontainers.image.licenses="Apache-2.0"

# Set first: these never change, so they invalidate nothing below them.
# - PYTHONDONTWRITEBYTECODE: the root filesystem is read-only; pip compiled the .pyc files
#   at install time, so nothing is lost.
# - PYTHONUNBUFFERED: log lines reach the container runtime as they are written.
# - RAPPORT_BIND: listen on every interface of the container; the platform decides exposure.
# - RAPPORT_WORKERS: a container sees the host's CPU count, not its CPU quota, so the
#   default would over-fork on a big node; 2 is safe, and deployments set their own.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RAPPORT_BIND=0.0.0.0:8080 \
    RAPPORT_WORKERS=2

# A fixed unprivileged user before anything is installed, so its ids are stable across
# rebuilds and match the Kubernetes securityContext (runAsUser 10001). No home and no
# shell: the service writes nothing outside /tmp.
RUN groupadd --system --gid 10001 rapport \
    && useradd --system --uid 10001 --gid rapport --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin rapport

# The dependencies, from the wheels the build stage made, in their own layer: it is rebuilt
# only when the dependency wheels change. A bind mount, not COPY, so no wheel file stays in
# any layer of the image; --no-index so nothing is fetched at this point.
RUN --mount=type=bind,from=build,source=/wheels/deps,target=/wheels/deps \
    pip install --no-cache-dir --no-index --disable-pip-version-check /wheels/deps/*.whl

# The project itself: the small layer a code change rebuilds. Without --no-deps pip checks
# that the layer above satisfies every requirement, offline.
RUN --mount=type=bind,from=build,source=/wheels/app,target=/wheels/app \
    pip install --no-cache-dir --no-index --disable-pip-version-check /wheels/app/*.whl

# The installed package finds questionnaires/ and openapi.yaml in the working directory
# (service/config.py, HOME), so the content sits in /app beside the gunicorn settings.
# Root owns it all and the service user can only read it.
WORKDIR /app
COPY gunicorn.conf.py openapi.yaml ./
COPY questionnaires ./questionnaires

# Numeric ids, so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001

EXPOSE 8080

# Liveness only (/healthz): /readyz also fails while Redis is away, which must not make
# Docker restart a service that still serves reads. The port follows RAPPORT_BIND; urlopen
# raises on any non-2xx answer, which exits 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['RAPPORT_BIND'].rpartition(':')[2], timeout=3)"]

# gunicorn reads every setting from gunicorn.conf.py, which reads RAPPORT_*; SIGTERM (what
# `docker stop` and Kubernetes send) makes it finish in-flight requests within
# RAPPORT_GRACEFUL_TIMEOUT before it exits.
CMD ["gunicorn", "-c", "gunicorn.conf.py", "service.wsgi:app"]
