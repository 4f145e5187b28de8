"""Helpers for the HTTP tests (the `app` and `client` fixtures live in tests/conftest.py)."""

from __future__ import annotations

from typing import Any


def outcome_codes(body: dict[str, Any]) -> list[str]:
    """The issue codes of an OperationOutcome body."""
    assert body["resourceType"] == "OperationOutcome"
    return [issue["code"] for issue in body["issue"]]
