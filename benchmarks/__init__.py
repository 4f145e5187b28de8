"""Rapport's benchmarks (issue 5, "Performance"): `python -m benchmarks` writes BENCHMARKS.md.

Sections: the engine per shipped instrument against a plain-Python floor (`engine`,
`floor`), `$score` in-process and under gunicorn against a floor app (`inprocess`,
`throughput`, `floor_app`, `load`), start-up and worker memory (`startup`, `procs`), and a
soak at 70% of the maximum `$score` rate for minutes (`soak`, issue 8).
"""
