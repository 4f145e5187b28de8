# Rapport: one image, gunicorn serving service.wsgi:app with gunicorn.conf.py.
# Settings come from RAPPORT_* variables (README, "Settings"); the image writes nothing but
# /tmp, so it runs with a read-only root filesystem and a tmpfs there. Publish it on the
# loopback only (as below) unless a gateway in front of it is what the network reaches.
#
#   docker build -t rapport .
#   docker run --rm -p 127.0.0.1:8080:8080 --read-only --tmpfs /tmp rapport
#
# Reproducible: no `# syntax=` line (an air-gapped build host cannot pull a frontend; the
# RUN --mount below is in BuildKit's built-in one), the base image pinned by digest (`make
# base-image` prints the tag's current digest, to move the pin on purpose), and the
# dependencies installed from requirements.lock, every file checked against its hash.
#
# tests/test_container.py runs hadolint on this file and runs its CMD, with its ENV and
# WORKDIR, against the service package outside the checkout: keep CMD and ENV in JSON and
# key=value form so that test can read them.

# ---------------------------------------------------------------------------------------
# Build stage: wheels for the dependencies and the project, so the runtime stage installs
# from files alone and carries no build tools, sources or pip cache.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7 AS build

# No bytecode or pip chatter in the throwaway stage; nothing here reaches the runtime image.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src

# The dependencies change far less often than the code, so they get a layer of their own
# keyed on requirements.lock alone (`make lock` writes it from pyproject.toml): exact
# versions, each file pip downloads checked against the lock's hashes, wheels built before
# any source is copied. A code change, or a tool setting in pyproject.toml, reuses it.
COPY requirements.lock ./
RUN pip wheel --wheel-dir /wheels/deps --require-hashes --requirement requirements.lock

# The project's own wheel: the service package and its metadata (README.md is its readme).
# --no-deps because the layer above built them; this is the layer a code change rebuilds.
COPY pyproject.toml README.md ./
COPY service ./service
RUN pip wheel --no-deps --wheel-dir /wheels/app .

# ---------------------------------------------------------------------------------------
# Runtime stage: the installed wheels, the content and the gunicorn settings; nothing else.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7 AS runtime

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

# The dependencies, from the wheels the build stage made (whose downloads it checked against
# requirements.lock's hashes), in their own layer: it is rebuilt only when they change. A
# bind mount, not COPY, so no wheel file stays in any layer of the image; --no-index so
# nothing is fetched at this point.
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
# Docker restart a service that still serves reads. `healthcheck` reads RAPPORT_BIND as the
# server does and asks its host and port (the loopback for 0.0.0.0 or ::); not 200: exit 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "service", "healthcheck"]

# gunicorn reads every setting from gunicorn.conf.py, which reads RAPPORT_*; SIGTERM (what
# `docker stop` and Kubernetes send) makes it finish in-flight requests within
# RAPPORT_GRACEFUL_TIMEOUT before it exits.
CMD ["gunicorn", "-c", "gunicorn.conf.py", "service.wsgi:app"]
