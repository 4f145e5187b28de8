"""The portal as a person uses it: a real Chromium on a live gunicorn.

Each shipped instrument is opened and filled with the answers of every vector in its
`*.vectors.json`; the scores and bands the page shows must be the vector's (read at test
time, never copied here), and the JSON it shows must be what the API answers for the same
response. Accessibility: labels, fieldsets with legends, a keyboard-only fill, and axe-core
with no serious or critical violation.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.gunicorn import REPO_ROOT, LiveServer, run_gunicorn
from service.vectors import response_for, weight_of
from tests.portal.test_pages import KINDS

pytestmark = pytest.mark.slow

QUESTIONNAIRES = REPO_ROOT / "questionnaires"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
TOLERANCE = 1e-9


def _shipped() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(Questionnaire, vectors document) for every shipped instrument with vectors."""
    found = []
    for path in sorted(QUESTIONNAIRES.glob("*.vectors.json")):
        questionnaire = json.loads(path.with_name(path.name.replace(".vectors", "")).read_text())
        found.append((questionnaire, json.loads(path.read_text())))
    return found


SHIPPED = _shipped()


@pytest.fixture(scope="module")
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """One page for the module, failing the test that caused any CSP violation."""
    context = browser.new_context(base_url=live_server.url)
    opened = context.new_page()
    opened.violations = []
    opened.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text and opened.violations.append(message.text)
        ),
    )
    yield opened
    context.close()


@pytest.fixture(autouse=True)
def _no_csp_violation(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "page" in request.fixturenames:
        found = request.getfixturevalue("page")
        violations, found.violations[:] = list(found.violations), []
        assert violations == []


def _option_index(item: dict[str, Any], value: Any) -> int:
    """The answerOption a vector value names: by itemWeight, or by code for a string."""
    for index, option in enumerate(item["answerOption"]):
        code = option.get("valueCoding", {}).get("code")
        if (isinstance(value, str) and code == value) or (
            not isinstance(value, str) and weight_of(option) == value
        ):
            return index
    raise AssertionError(f"no option {value!r} in item {item['linkId']}")


def _items(questionnaire: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    stack = list(questionnaire.get("item", []))
    while stack:
        item = stack.pop()
        found[item["linkId"]] = item
        stack.extend(item.get("item", []))
    return found


def _fill(page: Any, questionnaire: dict[str, Any], answers: dict[str, Any]) -> None:
    items = _items(questionnaire)
    for link_id, value in answers.items():
        item = items[link_id]
        if item["type"] in {"choice", "open-choice"}:
            _click(page, f'[id="f-{link_id}-{_option_index(item, value)}"]')
        elif item["type"] == "boolean":
            _click(page, f'[id="f-{link_id}-{0 if value else 1}"]')
        else:
            page.fill(f'[id="f-{link_id}-input"]', str(value))


def _click(page: Any, selector: str) -> None:
    # A real click on the control; the page is static, so playwright's wait for it to stop
    # moving (an animation frame per control, slow on a busy machine) is skipped.
    page.check(selector, force=True)


def _submit(page: Any, status: str) -> None:
    with page.expect_navigation():
        page.click(f'button[name="status"][value="{status}"]')


def _shown_scores(page: Any) -> dict[str, tuple[str, str]]:
    rows = page.query_selector_all("table.scored tbody tr")
    return {
        row.get_attribute("data-link-id"): (
            row.get_attribute("data-value"),
            row.get_attribute("data-band"),
        )
        for row in rows
    }


def _matches(shown: str | None, expected: Any) -> bool:
    if expected is None:
        return shown in {None, "not computed"}
    if isinstance(expected, bool):
        return shown == ("yes" if expected else "no")
    return shown is not None and math.isclose(float(shown), expected, abs_tol=TOLERANCE)


def _api(server: LiveServer, operation: str, resource: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{server.url}/fhir/QuestionnaireResponse/{operation}",
        data=json.dumps(resource).encode(),
        headers={"Content-Type": "application/fhir+json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def _shown_json(page: Any, key: str) -> Any:
    return json.loads(page.text_content(f'pre[data-json="{key}"]'))


def test_home_lists_every_shipped_instrument_with_its_scores(page: Any, artefacts: Path) -> None:
    page.goto("/")
    page.screenshot(path=artefacts / "home.png", full_page=True)
    assert page.title() == "Rapport: the instrument catalogue"
    for questionnaire, _ in SHIPPED:
        card = page.locator(f'article[id="q-{questionnaire["id"]}"]')
        assert card.locator("h2").text_content() == questionnaire["title"]
        assert card.locator("dd.version").text_content() == questionnaire["version"]
        assert card.locator("dd.status").text_content() == questionnaire["status"]
        assert card.locator("dd.origin").text_content() == "shipped"
        assert card.locator(".copyright").text_content() == questionnaire["copyright"]
        score_ids = [
            item["linkId"]
            for item in _items(questionnaire).values()
            if any("calculatedExpression" in e["url"] for e in item.get("extension", []))
        ]
        shown = card.locator("table.scores tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.linkId)"
        )
        assert sorted(shown) == sorted(score_ids)
        link = card.locator("a", has_text="FHIR JSON").get_attribute("href")
        assert link == f"/fhir/Questionnaire/{questionnaire['id']}"


@pytest.mark.parametrize(
    ("questionnaire", "vectors"),
    SHIPPED,
    ids=[questionnaire["id"] for questionnaire, _ in SHIPPED],
)
def test_every_vector_filled_in_the_browser_scores_as_published(
    page: Any,
    live_server: LiveServer,
    artefacts: Path,
    questionnaire: dict[str, Any],
    vectors: dict[str, Any],
) -> None:
    for number, vector in enumerate(vectors["vectors"]):
        page.goto(f"/instruments/{questionnaire['id']}")
        if number == 0:
            page.screenshot(path=artefacts / f"{questionnaire['id']}.png", full_page=True)
        _fill(page, questionnaire, vector["answers"])
        _submit(page, vector["status"])
        where = f"{questionnaire['id']} vector {vector['name']!r}"
        shown = _shown_scores(page)
        for link_id, expected in vector["expected"].items():
            value = shown.get(link_id, (None, None))[0]
            assert _matches(value, expected), f"{where}: {link_id} shows {value!r}"
        for link_id, band in (vector.get("bands") or {}).items():
            shown_band = shown.get(link_id, (None, None))[1] or None  # "" or no row: no band
            assert shown_band == band, f"{where}: band of {link_id}"
        # The response the form built is the vector's, and each operation's JSON is the API's.
        response = _shown_json(page, "response")
        subject = {"reference": "Patient/example"}  # the form's placeholder: $extract needs one
        assert response == response_for(
            questionnaire, vector["answers"], vector["status"], subject=subject
        )
        for operation in ("validate", "score", "extract"):
            status, body = _api(live_server, f"${operation}", response)
            assert _shown_json(page, operation) == body, f"{where}: ${operation}"
            pre = page.locator(f'pre[data-json="{operation}"]')
            assert pre.get_attribute("data-status") == str(status)
        if number == 0:
            page.screenshot(path=artefacts / f"{questionnaire['id']}-scored.png", full_page=True)


def test_a_response_with_errors_shows_them_and_no_scores(page: Any) -> None:
    page.goto("/instruments/ebi")
    page.fill('[id="f-1-input"]', "250")  # the slider goes to 100
    _submit(page, "completed")
    assert page.locator("p.no-scores").is_visible()
    issues = page.locator("li.issue.error").all_text_contents()
    assert any("QuestionnaireResponse.item[0].answer[0].value" in text for text in issues)
    assert page.locator('pre[data-json="score"]').get_attribute("data-status") == "422"


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl to run the command with")
def test_the_curl_commands_shown_answer_what_the_page_shows(page: Any, tmp_path: Path) -> None:
    page.goto("/instruments/wai-sr")
    page.check('[id="f-1-2"]')
    _submit(page, "in-progress")
    (tmp_path / "response.json").write_text(page.text_content('pre[data-json="response"]'))
    for operation in ("validate", "score", "extract"):
        command = page.text_content(f'[id="curl-{operation}"]')
        ran = subprocess.run(  # the command as shown, in a shell, as a person pastes it
            command, shell=True, cwd=tmp_path, capture_output=True, check=True, timeout=30
        )
        assert json.loads(ran.stdout) == _shown_json(page, operation), operation


def test_every_input_has_a_label_and_every_radio_group_a_legend(page: Any) -> None:
    for questionnaire, _ in SHIPPED:
        page.goto(f"/instruments/{questionnaire['id']}")
        unlabelled = page.eval_on_selector_all(
            "input:not([type=hidden]), textarea, select",
            """controls => controls.filter(c => !c.hidden && c.labels.length === 0
                && !c.getAttribute('aria-label')).map(c => c.id || c.name)""",
        )
        assert unlabelled == [], questionnaire["id"]
        orphans = page.eval_on_selector_all(
            "input[type=radio], input[type=checkbox]",
            """boxes => boxes.filter(b => {
                const set = b.closest('fieldset');
                const legend = set && set.querySelector(':scope > legend');
                return !legend || !legend.textContent.trim();
            }).map(b => b.id)""",
        )
        assert orphans == [], questionnaire["id"]
        # Hidden score items are not offered.
        for item in _items(questionnaire).values():
            if any(e["url"].endswith("questionnaire-hidden") for e in item.get("extension", [])):
                assert page.locator(f'[data-link-id="{item["linkId"]}"]').count() == 0


def test_sliders_show_both_anchors_and_the_range(page: Any) -> None:
    ebi = next(q for q, _ in SHIPPED if q["id"] == "ebi")
    page.goto("/instruments/ebi")
    for item in ebi["item"]:
        if item["type"] != "integer":
            continue
        low, high = (child["text"] for child in item["item"])
        scale = page.locator(f'[id="f-{item["linkId"]}-scale"]').text_content()
        assert low in scale
        assert high in scale
        control = page.locator(f'[id="f-{item["linkId"]}-range"]')
        assert control.is_visible()  # the script shows the slider
        assert (control.get_attribute("min"), control.get_attribute("max")) == ("0", "100")
        control.fill("40")  # moving the slider answers the number field
        assert page.input_value(f'[id="f-{item["linkId"]}-input"]') == "40"


def test_keyboard_alone_fills_and_submits_an_instrument(page: Any) -> None:
    questionnaire, vectors = next((q, v) for q, v in SHIPPED if q["id"] == "phq-9")
    vector = next(v for v in vectors["vectors"] if v["status"] == "completed")
    items = _items(questionnaire)
    page.goto("/instruments/phq-9")
    for _ in range(30):  # past the skip link and the navigation, to the first question
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "f-1-0":
            break
    for link_id in (item["linkId"] for item in questionnaire["item"]):
        if link_id not in vector["answers"]:
            continue
        assert page.evaluate("document.activeElement.name") == f"a:{link_id}"
        index = _option_index(items[link_id], vector["answers"][link_id])
        # Space picks the focused first option; each arrow moves to the next and picks it.
        page.keyboard.press("Space")
        for _ in range(index):
            page.keyboard.press("ArrowDown")
        page.keyboard.press("Tab")
    while page.evaluate("document.activeElement.value") != "completed":
        page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    shown = _shown_scores(page)
    for link_id, expected in vector["expected"].items():
        assert _matches(shown[link_id][0], expected)


# Swagger UI's own markup (inside #swagger-ui on /docs) has known axe findings upstream
# (color-contrast, nested-interactive, select-name): ours is checked, not the vendored UI.
_AXE_CONTEXT = "{exclude: [['#swagger-ui']]}"
_AXE_OPTIONS = "{resultTypes: ['violations']}"  # every rule runs; only failures are detailed


def test_axe_finds_no_serious_violation(browser: Any, live_server: LiveServer) -> None:
    # axe is injected as a script, which the pages' CSP (rightly) refuses: this one context
    # bypasses it, and only to run the checker.
    context = browser.new_context(base_url=live_server.url, bypass_csp=True)
    checked = context.new_page()
    try:
        paths = ["/", "/docs", *(f"/instruments/{q['id']}" for q, _ in SHIPPED)]
        for path in paths:
            checked.goto(path)
            if path == "/docs":
                checked.wait_for_selector(".swagger-ui .info")
            checked.add_script_tag(path=str(AXE))
            found = checked.evaluate(
                f"axe.run({_AXE_CONTEXT}, {_AXE_OPTIONS}).then(r => r.violations)"
            )
            serious = [v["id"] for v in found if v["impact"] in {"serious", "critical"}]
            assert serious == [], f"{path}: {serious}"
        checked.goto("/instruments/phq-9")
        _submit(checked, "in-progress")  # the results page too
        checked.add_script_tag(path=str(AXE))
        found = checked.evaluate(f"axe.run(document, {_AXE_OPTIONS}).then(r => r.violations)")
        assert [v["id"] for v in found if v["impact"] in {"serious", "critical"}] == []
        # The checker does check: an input without a label is caught.
        checked.evaluate("document.querySelector('form').append(document.createElement('input'))")
        found = checked.evaluate(f"axe.run(document, {_AXE_OPTIONS}).then(r => r.violations)")
        assert "label" in [v["id"] for v in found]
    finally:
        context.close()


def test_docs_try_it_out_calls_this_server(page: Any, live_server: LiveServer) -> None:
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    block = page.locator(".opblock", has=page.locator('[data-path="/healthz"]')).first
    block.locator(".opblock-summary").click()
    block.get_by_role("button", name="Try it out").click()
    block.get_by_role("button", name="Execute").click()
    status = block.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    assert status.text_content().strip().startswith("200")
    assert block.locator(".request-url pre").text_content() == f"{live_server.url}/healthz"


def test_the_form_works_without_javascript(browser: Any, live_server: LiveServer) -> None:
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    plain = context.new_page()
    try:
        plain.goto("/")
        plain.click('a[href="/instruments/gad-7"] >> nth=0')
        questionnaire, vectors = next((q, v) for q, v in SHIPPED if q["id"] == "gad-7")
        vector = vectors["vectors"][0]
        _fill(plain, questionnaire, vector["answers"])
        _submit(plain, vector["status"])
        shown = _shown_scores(plain)
        for link_id, expected in vector["expected"].items():
            assert _matches(shown.get(link_id, (None, None))[0], expected)
    finally:
        context.close()


def test_a_submission_reaches_no_log(page: Any, live_server: LiveServer) -> None:
    marker = "73519"  # out of range: shown back as an issue, and nowhere else
    page.goto("/instruments/ebi")
    page.fill('[id="f-2-input"]', marker)
    _submit(page, "in-progress")
    assert marker in page.text_content('pre[data-json="response"]')
    assert marker not in live_server.read_log()


def test_enable_when_hides_and_shows_live(browser: Any, tmp_path: Path) -> None:
    # A site Questionnaire with enableWhen (none of the shipped ones has any).
    (tmp_path / "portal-kinds.json").write_text(json.dumps(KINDS))
    with run_gunicorn({"RAPPORT_QUESTIONNAIRE_DIRS": str(tmp_path)}) as server:
        context = browser.new_context(base_url=server.url)
        try:
            site = context.new_page()
            site.goto("/instruments/portal-kinds")
            packs = site.locator('[id="f-packs"]')
            assert packs.is_hidden()  # nobody said they smoke yet
            site.check('[id="f-smoker-0"]')  # Yes
            assert packs.is_visible()
            site.fill('[id="f-packs-input"]', "2")
            site.check('[id="f-smoker-1"]')  # No: packs is disabled again, and not sent
            assert packs.is_hidden()
            _submit(site, "in-progress")
            response = _shown_json(site, "response")
            assert [item["linkId"] for item in response["item"]] == ["smoker"]
            assert site.locator("li.issue.error").count() == 0
        finally:
            context.close()
