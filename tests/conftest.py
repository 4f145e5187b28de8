"""Suite-wide fixtures: a private Redis, a live gunicorn, and where they log.

Both servers are real and bound to 127.0.0.1 on free ports; neither is ever the shared
Redis on 6379. The helpers behind them live in tests/support/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from harness.gunicorn import LiveServer, run_gunicorn
from service import create_app
from service.config import load_settings
from tests.support.redis import RedisServer, RedisUnavailable, run_redis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server started for this test session, without persistence."""
    try:
        with run_redis(tmp_path_factory.mktemp("redis")) as server:
            yield server
    except RedisUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session's private Redis, database 0: `redis://127.0.0.1:<port>/0`."""
    return redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client (str replies) on the private Redis, whose database is empty at the start."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        client.flushdb()
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The service under gunicorn.conf.py with its default settings and one worker."""
    with run_gunicorn({}, log_dir=tmp_path_factory.mktemp("gunicorn")) as server:
        yield server


@pytest.fixture(scope="session")
def app() -> Flask:
    """The real app from the real factory and the shipped catalogue, embedded mode."""
    return create_app(load_settings(environ={}))


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    """Flask's test client on `app`."""
    with app.test_client() as client:
        yield client
