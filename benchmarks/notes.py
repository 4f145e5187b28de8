"""The Notes section: what was missed and by how much, then how to read the numbers."""

from __future__ import annotations

from .engine import SCORE_GOAL
from .report import Run
from .soak import RSS_GROWTH_GOAL
from .startup import LOAD_GOAL_S
from .throughput import RPS_GOAL, RSS_GOAL_MB

__all__ = ["notes"]

_METHOD = """\
- **Noise.** Engine timings alternate short A and B blocks in one process and report the
  fastest block of each (the median of per-repeat ratios in brackets). HTTP rounds
  alternate service and floor the same way and report medians. Other processes on the
  machine (see "other load" above: tests running in parallel count) slow both sides of a
  pair about equally, so ratios are steadier than absolute numbers; CPU/req is steadier
  still, and req/s and latency percentiles are the least trustworthy figures here.
- **The client competes.** On 2 cores a Python client (GIL-bound, one thread per
  connection) takes CPU from the server. With one worker the client has the other core;
  with two workers it shares both, so the 1 -> 2 scaling figure understates what a
  separate load machine would see. No wrk/ab/hey/oha on this machine.
- **Connections are kept alive** (the service's threaded worker, service/api/worker.py):
  a request pays no TCP connect, on both apps alike. With several workers the connections
  are spread over them by least connections (service/api/balance.py).
- **Same settings for both apps**: gunicorn.conf.py (access log on, preload) plus
  `--max-requests 0`, so each worker lives the whole run and /proc figures stay attached
  to one process.
- **The floor is generous to us**: it trusts the structure (no status, order, type,
  enableWhen or required checks) and does plain sums, while the engine also fills the
  scores into a copy of the response, computes bands and collects issues. The 3x goal
  leaves room for exactly that.
"""


def notes(run: Run) -> str:
    """Misses first (each with its number), then the method notes."""
    misses = []
    for r in run.engine:
        if r.score.ratio > SCORE_GOAL:
            misses.append(
                f"- `$score` on {r.instrument} costs {r.score.ratio:.1f}x the floor "
                f"(goal {SCORE_GOAL:g}x): {r.score.a / 1000:.0f} µs against "
                f"{r.score.b / 1000:.0f} µs, of which validation beyond parsing is "
                f"{(r.validate.a - r.parse.a) / 1000:.0f} µs."
            )
    for h in run.http:
        if h.ratio.rps_ratio < RPS_GOAL:
            misses.append(
                f"- HTTP `$score` ({h.instrument}) reaches {h.ratio.rps_ratio:.2f}x the "
                f"floor's requests/s (goal {RPS_GOAL:g}x); by worker CPU per request "
                f"({h.ratio.cpu_us('a'):.0f} µs against {h.ratio.cpu_us('b'):.0f} µs) "
                f"{h.ratio.cpu_ratio:.2f}x."
            )
        for label, workers in h.memory.items():
            worst = max(m.rss_mb for m in workers)
            if worst > RSS_GOAL_MB:
                misses.append(f"- {label}: worker RSS {worst:.0f} MB (goal {RSS_GOAL_MB:g}).")
    if run.startup.catalog > LOAD_GOAL_S:
        misses.append(
            f"- Catalogue load + compile takes {run.startup.catalog:.2f} s "
            f"(goal {LOAD_GOAL_S:g} s)."
        )
    if run.soak is not None:
        if run.soak.errors:
            misses.append(f"- Soak: {run.soak.errors} failed requests (goal 0).")
        if not run.soak.rss_ok:
            misses.append(
                f"- Soak: worker RSS grew {run.soak.growth('sum'):+.1%} (all workers) and "
                f"{run.soak.growth('max'):+.1%} (largest) first window to last "
                f"(goal < {RSS_GROWTH_GOAL:.0%})."
            )
    head = "Goals missed in this run:\n\n" + "\n".join(misses) if misses else "Every goal was met."
    outside = _outside_engine(run)
    if outside:
        head += "\n\nWhere the HTTP difference comes from, in-process:\n\n" + "\n".join(outside)
    return f"{head}\n\nHow to read these numbers:\n\n{_METHOD}"


def _outside_engine(run: Run) -> list[str]:
    """Per body: the in-process service-floor gap, split into engine and everything else."""
    engine = {r.instrument: r for r in run.engine}
    found = []
    for name, wsgi in run.wsgi:
        if name not in engine:
            continue
        gap = (wsgi.a - wsgi.b) / 1000
        explained = (engine[name].score.a - engine[name].score.b) / 1000
        found.append(
            f"- {name}: the service costs {gap:.0f} µs more than the floor app per request; "
            f"the engine ($score - floor, section 1) explains {explained:.0f} µs, the other "
            f"{gap - explained:.0f} µs are the service's HTTP layer (blueprint hooks and "
            "negotiation, body checks, resolving the Questionnaire, a larger answer to build "
            "and serialise)."
        )
    return found
