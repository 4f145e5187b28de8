"""Debian's headless Chromium, as the portal tests and the portal benchmark launch it.

Browsers cannot be downloaded on the machines this runs on: playwright is pointed at the
system's `/usr/bin/chromium` (package `chromium`, which .ci/run installs).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CHROMIUM", "CHROMIUM_ARGS"]

CHROMIUM = Path("/usr/bin/chromium")
#: Headless, no sandbox (containers run as root), and nothing that reaches the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
