"""Section 3: catalogue load + compile, and the whole app build, in a fresh interpreter.

`python -m benchmarks.startup` prints one JSON object of seconds: `imports` (service,
catalogue and scoring modules), `catalog` (load_catalog with compile_questionnaire over
the shipped folder), `app` (create_app, which loads the catalogue again), `questionnaires`.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

__all__ = ["Startup", "measure_startup"]

#: Catalogue load + compile, seconds (issue 5).
LOAD_GOAL_S = 1.0


@dataclass(frozen=True, slots=True)
class Startup:
    """Medians over fresh processes, in seconds; and how many Questionnaires were compiled."""

    imports: float
    catalog: float
    app: float
    questionnaires: int
    runs: int


def measure_startup(runs: int) -> Startup:
    """Run the measurement in `runs` fresh interpreters; medians of each phase."""
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.startup"], check=True, capture_output=True
        ).stdout
        samples.append(json.loads(out))
    return Startup(
        imports=statistics.median(s["imports"] for s in samples),
        catalog=statistics.median(s["catalog"] for s in samples),
        app=statistics.median(s["app"] for s in samples),
        questionnaires=samples[0]["questionnaires"],
        runs=runs,
    )


def main() -> int:
    """Time the phases of start-up in this (fresh) process."""
    start = time.perf_counter()
    from service import create_app  # noqa: PLC0415 - the import is what is measured
    from service.catalog import load_catalog  # noqa: PLC0415
    from service.config import load_settings  # noqa: PLC0415
    from service.questionnaire import compile_questionnaire  # noqa: PLC0415

    imported = time.perf_counter()
    settings = load_settings({"questionnaire_dirs": ()}, environ={})
    catalog = load_catalog(settings.catalog_dirs, compiler=compile_questionnaire)
    loaded = time.perf_counter()
    create_app(settings)
    built = time.perf_counter()
    count = len(catalog.questionnaires())
    sys.stdout.write(
        json.dumps(
            {
                "imports": imported - start,
                "catalog": loaded - imported,
                "app": built - loaded,
                "questionnaires": count,
            }
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
