"""Test helpers: real servers (Redis, gunicorn) on private ports, and an R4 schema validator.

Nothing here is a mock: each helper starts or checks the real thing, and cleans up after itself.
"""
