# syntax=docker/dockerfile:1
# Rapport: one image, gunicorn serving service.wsgi:app. Settings come from RAPPORT_* variables.

# Build stage: wheels for the project and its dependencies, so the runtime stage needs no compiler.
FROM python:3.11-slim AS build
WORKDIR /src
# Dependencies change less often than the code: resolve them in their own cached layer.
COPY pyproject.toml README.md ./
COPY service ./service
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Runtime stage: the wheels, the content and the gunicorn settings; nothing else.
FROM python:3.11-slim
# A fixed unprivileged user: the service writes nothing, so it needs no home or volume.
RUN groupadd --system --gid 10001 rapport \
    && useradd --system --uid 10001 --gid rapport --no-create-home rapport
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels
WORKDIR /app
COPY gunicorn.conf.py openapi.yaml ./
COPY questionnaires ./questionnaires
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RAPPORT_BIND=0.0.0.0:8080
USER rapport
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz').status != 200)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "service.wsgi:app"]
