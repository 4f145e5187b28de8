"""What the service tells its operators: JSON log lines and Prometheus metrics.

Neither ever carries patient data: log lines name the route template, never the path or
the query, and metric labels are route templates, status codes, catalogue Questionnaire ids
and validation rule codes, never values from a request.
"""

from __future__ import annotations

from .logs import JsonFormatter, configure_logging
from .metrics import MULTIPROCESS_ENV, CatalogueView, Metrics

__all__ = ["MULTIPROCESS_ENV", "CatalogueView", "JsonFormatter", "Metrics", "configure_logging"]
