"""Hardening: bad inputs as data, property-based scoring checks, and gunicorn worker faults."""
