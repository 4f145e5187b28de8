"""The HTTP floor: a Flask app that only parses the `$score` body and answers a constant.

Served with the service's own gunicorn.conf.py (its threaded worker, preload, access log), module
swapped: `gunicorn -c gunicorn.conf.py 'benchmarks.floor_app:create_app()'`.
"""

from __future__ import annotations

from flask import Flask, Response, request

from service.fhir import jsonio
from service.fhir.media import FHIR_JSON

__all__ = ["SCORE_PATH", "create_app"]

SCORE_PATH = "/fhir/QuestionnaireResponse/$score"
_ANSWER = jsonio.dumps({"resourceType": "Parameters", "parameter": [{"name": "ok"}]})


def create_app() -> Flask:
    """The floor app: GET /healthz, and POST `$score` that parses and answers a constant."""
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response(b"ok", content_type="text/plain")

    @app.post(SCORE_PATH)
    def score() -> Response:
        jsonio.loads(request.get_data(cache=False))
        return Response(_ANSWER, content_type=FHIR_JSON)

    return app
