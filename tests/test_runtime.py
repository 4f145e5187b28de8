"""The start-up heap is frozen before gunicorn forks, so full collections skip the catalogue.

Issue 16: a full (generation 2) collection walked every object start-up built (the compiled
catalogue, the models, Flask), a pause of 100+ ms inside some request. Measured in
BENCHMARKS.md; here the mechanism: what a full collection walks, before and after the hook
gunicorn runs in the master once the app is preloaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

from harness.gunicorn import REPO_ROOT

_PROBE = """
import gc, json, os, runpy, sys
sys.stderr = open(os.devnull, "w")  # the config's and app's start-up log lines
config = runpy.run_path("gunicorn.conf.py")
import service.wsgi  # what preload_app loads in the master
gc.collect()
before = len(gc.get_objects(generation=2))
config["when_ready"](None)  # gunicorn: after the preload, before the first fork
gc.collect()
print(json.dumps({"before": before, "after": len(gc.get_objects(generation=2)),
                  "frozen": gc.get_freeze_count(), "enabled": gc.isenabled()}))
"""


def test_gunicorn_freezes_the_loaded_app_before_forking() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    counts = json.loads(done.stdout)
    # The loaded app is tens of thousands of long-lived objects a full collection walked...
    assert counts["before"] > 20_000
    # ...and after the hook, none of them: they are frozen, and collection stays on for the
    # objects requests create. The hook collects once more before freezing, which may free a
    # few objects that died after the count (one, on some trees, and only in some runs), so
    # "all of them" is all but a thousandth.
    assert counts["frozen"] >= counts["before"] * 0.999
    assert counts["after"] < counts["before"] // 20
    assert counts["enabled"] is True
