"""The service's Flask (`service._App`) runs the request hooks as Flask does (issue 16).

Its `preprocess_request` and `process_response` are Flask's loops with the request read
through its proxy once: each hook must still run, in Flask's order, with Flask's values.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Blueprint, Flask, Response, after_this_request, request

from service import _App


def _calls(app: Flask, path: str) -> tuple[list[str], int, list[tuple[str, str]]]:
    seen: list[str] = []
    outer, inner = Blueprint("outer", __name__), Blueprint("inner", __name__)

    def before(name: str, answer: str | None = None) -> Any:
        def hook() -> str | None:
            seen.append(f"before {name} {request.endpoint}")
            return answer

        return hook

    def after(name: str) -> Any:
        def hook(response: Response) -> Response:
            seen.append(f"after {name}")
            response.headers.add("X-Hook", name)
            return response

        return hook

    def preprocess(endpoint: str | None, values: dict[str, Any] | None) -> None:
        seen.append(f"values {endpoint} {values}")

    for owner, name in ((app, "app"), (outer, "outer"), (inner, "inner")):
        owner.before_request(before(f"{name} 1"))
        owner.before_request(before(f"{name} 2"))
        owner.after_request(after(f"{name} 1"))
        owner.after_request(after(f"{name} 2"))
        owner.url_value_preprocessor(preprocess)
    inner.before_request(before("inner stop", "stopped") if path.endswith("stop") else before("x"))

    @inner.get("/item/<int:number>")
    @inner.get("/item/<int:number>/stop")
    def item(number: int) -> str:
        @after_this_request
        def own(response: Response) -> Response:
            seen.append("after this request")
            return response

        seen.append(f"view {number}")
        return "ok"

    outer.register_blueprint(inner, url_prefix="/inner")
    app.register_blueprint(outer, url_prefix="/outer")
    answer = app.test_client().get(path)
    return seen, answer.status_code, answer.headers.to_wsgi_list()


@pytest.mark.parametrize("path", ["/outer/inner/item/7", "/outer/inner/item/7/stop", "/none"])
def test_hooks_run_as_flask_runs_them(path: str) -> None:
    ours = _calls(_App("a"), path)
    flasks = _calls(Flask("a"), path)
    assert ours == flasks
    assert ours[0]  # (hooks did run)
