"""Test helpers: a private Redis and an R4 schema validator (gunicorn and ports: harness/).

Nothing here is a mock: each helper starts or checks the real thing, and cleans up after itself.
"""
