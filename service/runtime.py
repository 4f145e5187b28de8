"""Process-wide tuning for serving: the cyclic garbage collector.

After start-up the heap holds the compiled catalogue, the FHIR models and Flask: hundreds of
thousands of long-lived objects that never become garbage. Left in the collector's oldest
generation, every full collection walks them all, a pause of tens of milliseconds in the middle
of some request (the p99 spikes of issue 16). `tune_gc()` moves them to the permanent
generation, which collections skip; a request's own objects are still collected as before.
"""

from __future__ import annotations

import gc

__all__ = ["tune_gc"]


def tune_gc() -> None:
    """Freeze what start-up built, so collections no longer walk it.

    Call once the app is loaded and before serving: in gunicorn, in the master before it
    forks (with preload_app the workers then share those pages without the collector
    touching, and so copying, them).
    """
    gc.collect()
    gc.freeze()
