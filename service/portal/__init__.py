"""The portal: the catalogue as web pages, each instrument as a form scored by the service
itself, and the OpenAPI description in Swagger UI, all served from this process.

Pages: `/` (the catalogue), `/instruments/<id>` (the form; POST scores it), `/docs`
(Swagger UI on `/openapi.yaml`). A submission is computed in-process by the same functions
the API's operations run and shown back; nothing of it is stored or logged, so the form
needs no CSRF token (a forged post can only make a browser compute a score for itself).
Every page carries a strict Content-Security-Policy: scripts and styles from this origin
only, none inline, no third-party origins.

`RAPPORT_PORTAL` decides whether the pages exist at all (`off`: not registered, 404): `auto`
serves them unless authentication is on; `on` serves them, tokenless, beside an
authenticated API (they show only the catalogue and compute only what is posted to them).
"""

from __future__ import annotations

from flask import Flask

from service.api.http import state
from service.portal.views import CONTENT_SECURITY_POLICY, blueprint

__all__ = ["CONTENT_SECURITY_POLICY", "init_app"]


def init_app(app: Flask) -> None:
    """Register the portal's pages unless RAPPORT_PORTAL turns them off."""
    if state(app).settings.portal_enabled:
        app.register_blueprint(blueprint)
