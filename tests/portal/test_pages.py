"""The portal's pages through Flask's client: switched on and off, with authentication,
their security headers, and what a submission does and does not do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.api.scopes import PUBLIC, required_for
from service.config import SHIPPED, load_settings
from tests.support.tokens import AUDIENCE, ISSUER, Issuer

PAGES = ("/", "/docs", "/instruments/phq-9", "/portal/static/portal.css")


def _app(**settings: Any) -> Flask:
    return create_app(load_settings(settings, environ={}))


@pytest.fixture(scope="module")
def jwks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Issuer().write_jwks(tmp_path_factory.mktemp("jwks") / "jwks.json")


def _secured(jwks: Path, portal: str) -> Flask:
    return _app(auth_jwks=str(jwks), auth_issuer=ISSUER, auth_audience=AUDIENCE, portal=portal)


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_served_with_a_strict_content_security_policy(
    client: FlaskClient, path: str
) -> None:
    answer = client.get(path)
    answer.close()  # a static file's stream
    assert answer.status_code == 200
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy  # no 'unsafe-inline', no other origin
    assert "unsafe" not in policy
    assert "http" not in policy
    assert answer.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ["/", "/docs"])
def test_pages_hold_no_inline_script_or_style(client: FlaskClient, path: str) -> None:
    html = client.get(path).get_data(as_text=True)
    assert "<script>" not in html
    assert "<style" not in html
    assert " style=" not in html
    assert " on" + "click=" not in html


def test_portal_off_removes_every_page() -> None:
    off = _app(portal="off")
    with off.test_client() as client:
        for path in PAGES:
            answer = client.get(path)
            answer.close()
            assert answer.status_code == 404
        assert client.post("/instruments/phq-9", data={"status": "completed"}).status_code == 404
        assert client.get("/fhir/Questionnaire/phq-9").status_code == 200  # the API stays


def test_with_authentication_the_portal_is_off_unless_asked_for(jwks: Path) -> None:
    auto = _secured(jwks, "auto")
    assert not [rule for rule in auto.url_map.iter_rules() if rule.endpoint.startswith("portal.")]
    with auto.test_client() as client:
        assert client.get("/").status_code == 401  # no such route: a token first, then 404
    with _secured(jwks, "on").test_client() as client:
        # On explicitly, its pages need no token: they show only the catalogue and compute,
        # storing nothing, what is posted to them. The API itself still needs one.
        assert client.get("/").status_code == 200
        assert client.get("/instruments/phq-9").status_code == 200
        posted = client.post("/instruments/phq-9", data={"a:1": "0", "status": "in-progress"})
        assert posted.status_code == 200
        assert client.get("/fhir/Questionnaire/phq-9").status_code == 401


def test_every_portal_route_is_declared_public(jwks: Path) -> None:
    app = _secured(jwks, "on")
    rules = app.url_map.iter_rules()
    portal = [rule.endpoint for rule in rules if rule.endpoint.startswith("portal.")]
    assert sorted(portal) == sorted(e for e in PUBLIC if e.startswith("portal."))
    assert all(required_for(e, app.view_functions[e]) is None for e in portal)


def test_a_scored_page_is_never_cached(client: FlaskClient) -> None:
    answer = client.post("/instruments/phq-9", data={"a:1": "2", "status": "in-progress"})
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"


def test_a_tampered_option_is_not_invented_into_the_response(client: FlaskClient) -> None:
    # Item 1 has four options: "7" names none, so the response leaves item 1 unanswered.
    html = client.post(
        "/instruments/phq-9", data={"a:1": "7", "a:2": "1", "status": "completed"}
    ).get_data(as_text=True)
    assert "required item &#39;1&#39; is not answered" in html
    assert "&#34;linkId&#34;: &#34;2&#34;" in html


def test_unknown_instrument_is_404(client: FlaskClient) -> None:
    assert client.get("/instruments/no-such-thing").status_code == 404
    assert client.post("/instruments/no-such-thing", data={}).status_code == 404


def test_site_content_is_listed_as_site(tmp_path: Path) -> None:
    # A site's own instrument (here a renamed copy of a shipped one) is listed beside ours.
    resource = json.loads((SHIPPED / "arm-5.json").read_text())
    url = "https://example.org/Questionnaire/site-arm"
    resource.update(id="site-arm", url=url, title="Site ARM")
    (tmp_path / "site-arm.json").write_text(json.dumps(resource))
    with _app(questionnaire_dirs=[str(tmp_path)]).test_client() as client:
        html = client.get("/").get_data(as_text=True)
        card = html[html.index('id="q-site-arm"') :]
        assert "Site ARM" in card
        assert '<dd class="origin">site</dd>' in card
        assert client.get("/instruments/site-arm").status_code == 200


def test_portal_submissions_share_the_rate_limit_pages_do_not() -> None:
    # A submission runs the three operations, so it counts like them; reading pages does not.
    with _app(rate_limit="2/minute").test_client() as client:
        assert [client.get("/instruments/gad-7").status_code for _ in range(3)] == [200] * 3
        posts = [client.post("/instruments/gad-7", data={}).status_code for _ in range(3)]
        assert posts == [200, 200, 429]


KINDS = {
    "resourceType": "Questionnaire",
    "id": "portal-kinds",
    "url": "https://example.org/Questionnaire/portal-kinds",
    "version": "1",
    "name": "PortalKinds",
    "title": "Portal kinds",
    "status": "draft",
    "item": [
        {"linkId": "smoker", "text": "Do you smoke?", "type": "boolean", "required": True},
        {
            "linkId": "packs",
            "text": "Packs a day",
            "type": "integer",
            "enableWhen": [{"question": "smoker", "operator": "=", "answerBoolean": True}],
        },
        {
            "linkId": "about",
            "text": "About you",
            "type": "group",
            "item": [
                {"linkId": "name", "text": "Preferred name", "type": "string"},
                {"linkId": "seen", "text": "Date last seen", "type": "date"},
                {
                    "linkId": "moods",
                    "text": "Moods",
                    "type": "choice",
                    "repeats": True,
                    "answerOption": [
                        {"valueCoding": {"system": "https://example.org/m", "code": "calm"}},
                        {"valueCoding": {"system": "https://example.org/m", "code": "tense"}},
                    ],
                },
            ],
        },
        {"linkId": "photo", "text": "A photo", "type": "attachment"},
    ],
}


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    folder = tmp_path_factory.mktemp("site")
    (folder / "portal-kinds.json").write_text(json.dumps(KINDS))
    return _app(questionnaire_dirs=[str(folder)])


def test_every_item_kind_becomes_a_labelled_control(kinds: Flask) -> None:
    with kinds.test_client() as client:
        html = client.get("/instruments/portal-kinds").get_data(as_text=True)
    assert '<legend>Do you smoke?<span class="required"' in html
    assert 'type="radio" id="f-smoker-0" name="a:smoker" value="true"' in html
    assert "Only when smoker = true." in html  # enableWhen, said beside the item
    assert '<fieldset class="group" id="f-about"' in html
    assert 'type="text" id="f-name-input" name="a:name"' in html
    assert 'type="date" id="f-seen-input" name="a:seen"' in html
    assert 'type="checkbox" id="f-moods-1" name="a:moods" value="1"' in html
    assert "cannot be answered in the portal" in html


def test_a_submission_becomes_the_response_a_person_meant(kinds: Flask) -> None:
    form = {
        "a:smoker": "false",
        "a:packs": "3",
        "a:name": "Ana",
        "a:seen": "2026-01-02",
        "a:moods": ["0", "1"],
        "subject": "Patient/7",
        "status": "in-progress",
    }
    with kinds.test_client() as client:
        html = client.post("/instruments/portal-kinds", data=form).get_data(as_text=True)
    shown = html.split('data-json="response" tabindex="0">')[1].split("</pre>")[0]
    response = json.loads(shown.replace("&#34;", '"').replace("&#39;", "'"))
    assert response == {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "https://example.org/Questionnaire/portal-kinds|1",
        "status": "in-progress",
        "subject": {"reference": "Patient/7"},
        "item": [
            {"linkId": "smoker", "answer": [{"valueBoolean": False}]},
            {"linkId": "packs", "answer": [{"valueInteger": 3}]},
            {
                "linkId": "about",
                "item": [
                    {"linkId": "name", "answer": [{"valueString": "Ana"}]},
                    {"linkId": "seen", "answer": [{"valueDate": "2026-01-02"}]},
                    {
                        "linkId": "moods",
                        "answer": [
                            {"valueCoding": {"system": "https://example.org/m", "code": "calm"}},
                            {"valueCoding": {"system": "https://example.org/m", "code": "tense"}},
                        ],
                    },
                ],
            },
        ],
    }
    # packs is only for smokers: $validate, which judges enableWhen, says so.
    assert "<code>QuestionnaireResponse.item[1]" in html
