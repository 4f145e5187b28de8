"""The app under test: the real factory, the real shipped catalogue, Flask's test client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.config import load_settings


@pytest.fixture(scope="session")
def app() -> Flask:
    return create_app(load_settings(environ={}))


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as client:
        yield client


def outcome_codes(body: dict[str, Any]) -> list[str]:
    """The issue codes of an OperationOutcome body."""
    assert body["resourceType"] == "OperationOutcome"
    return [issue["code"] for issue in body["issue"]]
