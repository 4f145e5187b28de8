"""The per-request path does nothing for features that are off (issue 16).

Every `before_request` hook runs on every request; authentication and the rate limit are
off by default, and then they must cost nothing: no hook of theirs is registered at all.
"""

from __future__ import annotations

from service import create_app
from service.config import load_settings


def _hooks(environ: dict[str, str]) -> set[str]:
    app = create_app(load_settings(environ=environ))
    return {f"{hook.__module__}.{hook.__name__}" for hook in app.before_request_funcs[None]}


def test_no_auth_or_rate_limit_hook_when_both_are_off() -> None:
    hooks = _hooks({})
    assert not {
        hook for hook in hooks if hook.startswith(("service.api.auth", "service.api.limits"))
    }
    # What does run: timing and request id, CORS preflight, the catalogue snapshot, negotiation.
    assert "service.api.telemetry._start" in hooks
    assert "service.api._negotiate" in hooks
