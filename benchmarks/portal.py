"""Section 5: the portal page of the largest shipped instrument, under a live gunicorn.

`python -m benchmarks.portal [--loads N]` measures just this and prints its section.
Three figures, each a median and 95th percentile over `loads` requests, one worker:
the server's answer to `GET /instruments/<largest>` over HTTP (time to the last byte), the
same page loaded by Debian's headless Chromium (navigation start to the `load` event:
HTML, stylesheet and script, as a person waits for it), and a scored submission (POST of
a completed vector's answers). The largest instrument is the one with the most items.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from harness.chromium import CHROMIUM, CHROMIUM_ARGS
from harness.gunicorn import REPO_ROOT, run_gunicorn

__all__ = ["PAGE_GOAL_MS", "PortalResult", "measure_portal", "render_portal"]

#: A person waits no longer than this for the largest instrument's page (issue 15).
PAGE_GOAL_MS = 300.0


@dataclass(frozen=True, slots=True)
class Timing:
    """Median and 95th percentile, in milliseconds."""

    median: float
    p95: float

    @classmethod
    def of(cls, samples: list[float]) -> Timing:
        """From samples in seconds."""
        ordered = sorted(samples)
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        return cls(statistics.median(ordered) * 1000, p95 * 1000)


@dataclass(frozen=True, slots=True)
class PortalResult:
    """What the section measured; `browser` is None without /usr/bin/chromium."""

    instrument: str
    items: int
    loads: int
    server: Timing
    submit: Timing
    browser: Timing | None


def _count(items: list[dict[str, Any]]) -> int:
    return sum(1 + _count(item.get("item", [])) for item in items)


def _largest() -> tuple[dict[str, Any], dict[str, Any]]:
    """The shipped Questionnaire with the most items, and one completed vector of it."""
    found = []
    for path in sorted((REPO_ROOT / "questionnaires").glob("*.vectors.json")):
        questionnaire = json.loads(path.with_name(path.name.replace(".vectors", "")).read_text())
        vectors = json.loads(path.read_text())["vectors"]
        vector = next(v for v in vectors if v["status"] == "completed")
        found.append((_count(questionnaire["item"]), questionnaire["id"], questionnaire, vector))
    _, _, questionnaire, vector = max(found, key=lambda f: (f[0], f[1]))
    return questionnaire, vector


def _form(questionnaire: dict[str, Any], vector: dict[str, Any]) -> bytes:
    """The form body a person filling in the vector's answers would post."""
    from service.vectors import weight_of  # noqa: PLC0415 - after the path is set

    fields = [("status", vector["status"]), ("subject", "Patient/example")]
    items = {item["linkId"]: item for item in questionnaire["item"]}
    for link_id, value in vector["answers"].items():
        item = items[link_id]
        if item["type"] == "choice":
            index = next(
                n
                for n, option in enumerate(item["answerOption"])
                if weight_of(option) == value or option["valueCoding"].get("code") == value
            )
            fields.append((f"a:{link_id}", str(index)))
        else:
            fields.append((f"a:{link_id}", str(value)))
    return urllib.parse.urlencode(fields).encode()


def _timed(port: int, method: str, path: str, body: bytes | None, loads: int) -> list[float]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
    samples = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for _ in range(loads + 3):  # three to warm up
            start = time.perf_counter()
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            answer.read()
            samples.append(time.perf_counter() - start)
            if answer.status != 200:
                raise RuntimeError(f"{method} {path} answered {answer.status}")
    finally:
        connection.close()
    return samples[3:]


def _browser(url: str, loads: int) -> list[float] | None:
    if not CHROMIUM.is_file():
        return None
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - a dev dependency

    samples = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            for _ in range(loads + 3):
                page.goto(url, wait_until="load")
                entry = page.evaluate(
                    "(() => { const n = performance.getEntriesByType('navigation')[0];"
                    " return n.loadEventEnd - n.startTime; })()"
                )
                samples.append(float(entry) / 1000)
        finally:
            browser.close()
    return samples[3:]


def measure_portal(loads: int) -> PortalResult:
    """Serve the app with one worker and time the largest instrument's page `loads` times."""
    questionnaire, vector = _largest()
    path = f"/instruments/{questionnaire['id']}"
    with run_gunicorn({"RAPPORT_WORKERS": "1"}) as server:
        served = _timed(server.port, "GET", path, None, loads)
        submitted = _timed(server.port, "POST", path, _form(questionnaire, vector), loads)
        loaded = _browser(server.url + path, loads)
    return PortalResult(
        instrument=questionnaire["id"],
        items=_count(questionnaire["item"]),
        loads=loads,
        server=Timing.of(served),
        submit=Timing.of(submitted),
        browser=Timing.of(loaded) if loaded is not None else None,
    )


def render_portal(result: PortalResult | None) -> list[str]:
    """The section as Markdown lines."""
    if result is None:
        return []
    rows = [
        ("GET the page, over HTTP (to the last byte)", result.server),
        ("POST a completed response (scored, 3 operations)", result.submit),
    ]
    if result.browser is not None:
        rows.insert(1, ("page load in Chromium (navigation to `load`)", result.browser))
    lines = [
        "## 5. Portal page load",
        "",
        f"The largest shipped instrument, `{result.instrument}` ({result.items} items), at "
        f"`/instruments/{result.instrument}`; one gunicorn worker, {result.loads} loads each. "
        f"Goal: the page loads in under {PAGE_GOAL_MS:.0f} ms (judged on the median; the p95 "
        "shows what other load on the machine adds).",
        "",
        "| what | median ms | p95 ms | goal |",
        "|---|---:|---:|---|",
    ]
    for label, timing in rows:
        goal = "pass" if timing.median < PAGE_GOAL_MS else "**MISS**"
        lines.append(f"| {label} | {timing.median:.1f} | {timing.p95:.1f} | {goal} |")
    if result.browser is None:
        lines.append("")
        lines.append("(No /usr/bin/chromium: the browser load was not measured.)")
    lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Measure just this section and print it."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.portal", description=__doc__)
    parser.add_argument("--loads", type=int, default=50, help="requests per figure")
    args = parser.parse_args(argv)
    sys.stdout.write("\n".join(render_portal(measure_portal(args.loads))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
