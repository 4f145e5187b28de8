"""The WSGI entry point: `gunicorn service.wsgi:app`.

A bad setting or content file stops start-up with one line that names it.
"""

from __future__ import annotations

import sys

from service import create_app
from service.catalog import CatalogError
from service.config import ConfigError

try:
    app = create_app()
except (ConfigError, CatalogError) as exc:
    sys.stderr.write(f"rapport: cannot start: {exc}\n")
    raise SystemExit(4) from None
