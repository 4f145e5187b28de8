"""A headless Chromium (Debian's, never a downloaded one) for the portal's browser tests.

One browser per session, one page per module: starting Chromium costs seconds, a page
load a few milliseconds. Without /usr/bin/chromium the browser tests are skipped, saying
so; `.ci/run` installs it, so CI never skips them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.chromium import CHROMIUM, CHROMIUM_ARGS
from harness.gunicorn import REPO_ROOT

#: Screenshots of each instrument page, kept as test artefacts (gitignored, never committed).
ARTEFACTS = REPO_ROOT / "artefacts" / "portal"


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Chromium under playwright; skipped only when Debian's chromium is not installed."""
    if not CHROMIUM.is_file():
        pytest.skip("no /usr/bin/chromium: `apt-get install chromium` (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def artefacts() -> Path:
    """Where screenshots go."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return ARTEFACTS
