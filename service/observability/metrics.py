"""Prometheus metrics (prometheus-client), summed over gunicorn's workers.

Under gunicorn, `gunicorn.conf.py` sets `PROMETHEUS_MULTIPROC_DIR` before the app loads:
each worker then writes its counters and histograms to files there, and a scrape answered
by any worker adds up every worker's files, living or dead. Without it (the test client, a
single process) the values live in this app's own registry.

What the catalogue holds and whether Redis answers are read at scrape time from the worker
that answers it (every worker serves the same catalogue within a second).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "MULTIPROCESS_ENV", "CatalogueView", "Metrics"]

MULTIPROCESS_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
#: Seconds: scoring is milliseconds; the tail shows contained-Questionnaire compiles and batches.
_LATENCY_BUCKETS: Final = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class CatalogueView:
    """What a scrape reports about the catalogue this worker serves, and its store."""

    questionnaire_versions: tuple[tuple[str, str], ...]  # (id, version id), by id
    mode: str  # "embedded" or "redis"
    redis_up: bool | None  # None in the embedded mode


class _Live(Collector):
    """Gauges computed at scrape time: catalogue size and version, Redis health."""

    def __init__(self, view: Callable[[], CatalogueView]) -> None:
        self._view = view

    def collect(self) -> Iterator[Metric]:
        view = self._view()
        size = GaugeMetricFamily(
            "rapport_catalogue_questionnaires", "Questionnaires this worker serves"
        )
        size.add_metric([], len(view.questionnaire_versions))
        yield size
        digest = hashlib.sha256(repr(view.questionnaire_versions).encode()).hexdigest()[:12]
        info = GaugeMetricFamily(
            "rapport_catalogue_info",
            "The catalogue's mode and version (a hash of every Questionnaire id and version)",
            labels=["mode", "version"],
        )
        info.add_metric([view.mode, digest], 1)
        yield info
        if view.redis_up is not None:
            up = GaugeMetricFamily("rapport_redis_up", "1 when the site catalogue's Redis answers")
            up.add_metric([], 1 if view.redis_up else 0)
            yield up


class Metrics:
    """The service's metrics for one app; see the module docstring for where values live."""

    def __init__(self, view: Callable[[], CatalogueView]) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROCESS_ENV))
        self._live = _Live(view)
        self.registry = CollectorRegistry()
        # Multiprocess values are files: registering them here would only report this worker.
        own = None if self.multiprocess else self.registry
        self.requests = Counter(
            "rapport_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "rapport_http_request_duration_seconds",
            "Time to answer, by method and route template",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=own,
        )
        self.scores = Counter(
            "rapport_scores",
            "Responses scored ($score, $extract) by catalogue Questionnaire id ('inline' else)",
            ["questionnaire"],
            registry=own,
        )
        self.validation_failures = Counter(
            "rapport_validation_failures",
            "Errors $validate found, by rule code",
            ["rule"],
            registry=own,
        )
        if not self.multiprocess:
            self.registry.register(self._live)

    def exposition(self) -> bytes:
        """The text exposition format: this app's values, or every worker's added up."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(self._live)
        return generate_latest(registry)
